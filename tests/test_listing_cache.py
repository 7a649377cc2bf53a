"""``avatarkit plugins``: the fast path prints what the Typer command prints, and the cached
listing is never stale (installing, upgrading, editing, removing a plugin, the settings that
pick plugins, and whether credentials are set all show at once).

Plugins here are real distributions on ``sys.path`` (a ``.dist-info`` with an entry point);
the cache tests run the real command in subprocesses, as a user does. Each test plugin
appends to a marks file when it is imported: one mark per listing built from the plugins,
none for one read from the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avatarkit.cli.entry import _take_no_plugin
from avatarkit.cli.fast import fast_command
from avatarkit.cli.state import STATE
from avatarkit.listing import describe_parts
from avatarkit.registry import Registry
from cli_runner import run_cli
from conftest import SRC, write_dist

PLUGIN = """
import os
from avatarkit import Face, hookimpl

with open(os.environ["SPARKLE_MARKS"], "a") as marks:
    marks.write("x")

class SparkleFace(Face):
    name = "sparkle"
    summary = "{summary}"
    env = ("SPARKLE_KEY",)
    async def start(self, session, transport): pass
    async def aclose(self): pass

@hookimpl
def register_faces(register):
    register(SparkleFace)
"""

BROKEN = "import this_module_does_not_exist_anywhere\n"

FORMS = (["plugins"], ["plugins", "--json"], ["plugins", "-v"],
         ["plugins", "--json", "--verbose"], ["plugins", "--available"],
         ["plugins", "--available", "--json"], ["--debug", "plugins", "--json"],
         ["--no-plugin", "avatarkit-sparkle", "plugins", "--json"],
         ["plugins", "--no-plugin=avatarkit-broken"])


@pytest.fixture
def installed(plugin_dir, clean_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working and a broken plugin installed; the cache and the marks under ``tmp_path``."""
    monkeypatch.setenv("SPARKLE_MARKS", str(tmp_path / "marks"))
    monkeypatch.setenv("AVATARKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AVATARKIT_LOAD_PLUGINS", "avatarkit-sparkle,avatarkit-broken")
    plugin_dir("avatarkit-broken", {"ak_broken": BROKEN}, {"broken": "ak_broken"})
    return plugin_dir("avatarkit-sparkle", {"ak_sparkle": PLUGIN.format(summary="v1")},
                      {"sparkle": "ak_sparkle"})


def test_the_fast_path_prints_what_the_typer_command_prints(installed, capsys) -> None:
    from avatarkit.cli.app import app

    for args in FORMS:
        rest, blocked = _take_no_plugin(args)  # as main() does first, for both paths
        assert fast_command(rest) is not None, args
        fast = run_cli(capsys, *args)
        sys.modules.pop("ak_sparkle", None)
        STATE.early_blocked = blocked
        with pytest.raises(SystemExit) as typer_exit:  # the Typer command
            app(args=rest, prog_name="avatarkit")
        typer_out = capsys.readouterr()
        assert (fast.returncode, fast.stdout, fast.stderr) == (
            typer_exit.value.code or 0, typer_out.out, typer_out.err), args
    assert "problems (1)" in run_cli(capsys, "plugins").stdout  # the broken one, listed


def test_the_listing_is_the_registrys(installed, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SPARKLE_KEY", "set")
    listed = json.loads(run_cli(capsys, "plugins", "--json").stdout)
    registry = Registry.load(warn=lambda _message: None)
    assert listed["parts"] == describe_parts(registry, os.environ)
    assert [p["entry_point"] for p in listed["problems"]] == ["broken"]
    sparkle = next(p for p in listed["parts"] if p["name"] == "sparkle")
    assert sparkle["env"] == {"SPARKLE_KEY": True}


def test_help_and_other_forms_go_through_typer(installed, capsys) -> None:
    for args in (["plugins", "--help"], ["plugins", "--jsn"], ["plugins", "-vv"],
                 ["--help"], ["plugins", "--json", "extra"], ["doctor"], []):
        assert fast_command(args) is None, args
    out = run_cli(capsys, "plugins", "--help")
    assert out.returncode == 0 and "--available" in out.stdout
    assert run_cli(capsys, "plugins", "--jsn").returncode == 2


def _backdate(*paths: Path) -> None:
    """Make ``paths`` (and everything under them) a minute old, like files installed before
    (files changed in the last two seconds are never trusted: see ``RACY_NS``)."""
    then = time.time() - 60
    for path in paths:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.utime(item, (then, then))


class Listing:
    """``avatarkit plugins --json`` run as a user runs it, in a directory of its own."""

    def __init__(self, site: Path, tmp_path: Path) -> None:
        self.site, self.marks, self.cwd = site, tmp_path / "marks", tmp_path / "cwd"
        self.cwd.mkdir()
        self.marks.write_text("")

    def __call__(self, **env: str) -> dict[str, dict[str, object]]:
        out = subprocess.run([sys.executable, "-m", "avatarkit", "plugins", "--json"],
                             cwd=self.cwd, env={**os.environ, **env}, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return {p["name"]: p for p in json.loads(out.stdout)["parts"] if p["kind"] == "face"}

    def builds(self) -> int:
        return len(self.marks.read_text())

    def settle(self) -> None:
        _backdate(self.site, self.cwd, self.site.parent)


def test_the_cache_is_used_and_never_stale(installed, tmp_path, monkeypatch) -> None:
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(installed), str(SRC)]
    listing = Listing(installed, tmp_path)
    listing.settle()
    assert listing()["sparkle"]["summary"] == "v1" and listing.builds() == 1
    assert listing()["sparkle"]["env"] == {"SPARKLE_KEY": False}
    assert listing.builds() == 1  # read from the cache
    # whether a credential is set is read afresh; its value is never stored
    assert listing(SPARKLE_KEY="sk-live-do-not-store")["sparkle"]["env"] == {
        "SPARKLE_KEY": True}
    assert listing.builds() == 1
    cached = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert "sk-live-do-not-store" not in cached and "sparkle" in cached

    # editing the plugin (same size, new mtime)
    (installed / "ak_sparkle.py").write_text(PLUGIN.format(summary="v2"))
    assert listing()["sparkle"]["summary"] == "v2" and listing.builds() == 2
    listing.settle()
    listing()
    assert listing()["sparkle"]["summary"] == "v2" and listing.builds() == 3

    # upgrading it (a new dist-info)
    shutil.rmtree(installed / "avatarkit_sparkle-1.0.dist-info")
    write_dist(installed, "avatarkit-sparkle", {}, {"sparkle": "ak_sparkle"}, "2.0")
    listing.settle()
    assert listing()["sparkle"]["version"] == "2.0" and listing.builds() == 4

    # a setting that picks plugins (hashed into the key, never stored)
    assert "sparkle" not in listing(AVATARKIT_DISABLE_PLUGINS="avatarkit-sparkle")
    cached = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert "avatarkit-broken" in cached and "avatarkit-sparkle" not in cached
    assert "sparkle" in listing() and listing.builds() == 5

    # removing it
    shutil.rmtree(installed / "avatarkit_sparkle-2.0.dist-info")
    listing.settle()
    assert "sparkle" not in listing()


def test_files_changed_just_now_are_not_trusted(installed, tmp_path) -> None:
    listing = Listing(installed, tmp_path)  # nothing settled: everything is seconds old
    listing()
    listing()
    assert listing.builds() == 2
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_an_unwritable_cache_only_means_no_cache(installed, tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("AVATARKIT_CACHE", str(blocker / "cache"))
    listing = Listing(installed, tmp_path)
    listing.settle()
    assert "sparkle" in listing() and "sparkle" in listing()
    assert listing.builds() == 2


def test_strict_mode_still_fails_on_a_broken_plugin(installed, tmp_path, monkeypatch) -> None:
    listing = Listing(installed, tmp_path)
    listing.settle()
    listing()
    monkeypatch.setenv("AVATARKIT_STRICT_PLUGINS", "1")
    out = subprocess.run([sys.executable, "-m", "avatarkit", "plugins", "--json"],
                         cwd=listing.cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "avatarkit: error: failed to load plugin 'broken'" in out.stderr


def test_listings_of_environments_long_gone_are_removed(installed, tmp_path) -> None:
    plugins = tmp_path / "cache" / "plugins"
    plugins.mkdir(parents=True)
    listing = Listing(installed, tmp_path)
    listing.settle()
    gone, recent = plugins / "listing-0123456789abcdef.json", plugins / "listing-recent.json"
    for path, days in ((gone, 40), (recent, 2)):
        path.write_text("{}")
        then = time.time() - days * 24 * 3600
        os.utime(path, (then, then))
    listing()
    assert not gone.exists() and recent.exists()
    assert len(list(plugins.glob("listing-*.json"))) == 2  # this environment's, and recent


def test_no_home_directory_means_no_cache(clean_env, tmp_path, monkeypatch) -> None:
    from avatarkit import listing_cache
    from avatarkit.listing_cache import plugin_listing

    monkeypatch.setattr(listing_cache, "RACY_NS", -10**30)  # trust even fresh files here
    monkeypatch.setenv("HOME", "")  # expanduser leaves "~" when it finds no home
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)
    listing = plugin_listing([], verbose=False, environ={"HOME": ""})
    assert any(p["name"] == "none" for p in listing["parts"])
    assert not list(tmp_path.iterdir())  # nothing written under the working directory
