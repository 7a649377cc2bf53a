"""Registry: entry points, broken plugins, strict mode, limits, duplicates, suggestions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from avatarkit.errors import DuplicatePartError, PluginLoadError, UnknownPartError
from avatarkit.registry import Registry
from cli_runner import run_cli

GOOD = """
from avatarkit import Face, hookimpl

class SparkleFace(Face):
    name = "sparkle"
    summary = "A third-party test face."
    env = ("SPARKLE_KEY",)
    async def start(self, session, transport): pass
    async def aclose(self): pass

@hookimpl
def register_faces(register):
    register(SparkleFace)
"""

BROKEN_IMPORT = "import this_module_does_not_exist_anywhere\n"

BROKEN_REGISTER = """
from avatarkit import hookimpl

@hookimpl
def register_brains(register):
    raise RuntimeError("boom in register")
"""

DUPLICATE_NONE = """
from avatarkit import Face, hookimpl

class OtherNone(Face):
    name = "none"
    async def start(self, session, transport): pass
    async def aclose(self): pass

@hookimpl
def register_faces(register):
    register(OtherNone)
"""


# third-party plugins installed on this machine (not ours) stay out of the counts
ONLY_TEST_DISTS = {"AVATARKIT_LOAD_PLUGINS": "avatarkit-sparkle,avatarkit-dupe"}


def test_builtin_parts_load_through_entry_points(clean_env: None) -> None:
    reg = Registry.load(environ={})
    assert {"realtime", "pipeline"} <= set(reg.brains)
    assert {"heygen", "hedra", "none"} <= set(reg.faces)
    assert reg.info("face", "none").distribution == "avatarkit"


def test_third_party_plugin_is_registered(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-sparkle", {"ak_sparkle": GOOD}, {"sparkle": "ak_sparkle"}, "2.3")
    reg = Registry.load(environ={})
    info = reg.info("face", "sparkle")
    assert (info.distribution, info.version) == ("avatarkit-sparkle", "2.3")
    assert reg.face("sparkle").summary == "A third-party test face."


def test_broken_plugins_are_skipped_with_one_line_warning(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-broken", {"ak_broken": BROKEN_IMPORT}, {"broken": "ak_broken"})
    plugin_dir("avatarkit-badreg", {"ak_badreg": BROKEN_REGISTER}, {"badreg": "ak_badreg"})
    plugin_dir("avatarkit-sparkle", {"ak_sparkle": GOOD}, {"sparkle": "ak_sparkle"})
    warnings: list[str] = []
    only = {"AVATARKIT_LOAD_PLUGINS": "avatarkit-broken,avatarkit-badreg,avatarkit-sparkle"}
    reg = Registry.load(environ=only, warn=warnings.append)
    assert "sparkle" in reg.faces and "none" in reg.faces
    assert len(warnings) == 2
    by_dist = {p.distribution: p for p in reg.problems}
    assert "ModuleNotFoundError" in by_dist["avatarkit-broken"].error
    assert "boom in register" in by_dist["avatarkit-badreg"].error
    for w in warnings:
        assert "\n" not in w and "--no-plugin" in w


def test_strict_mode_makes_a_broken_plugin_fatal(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-broken", {"ak_broken": BROKEN_IMPORT}, {"broken": "ak_broken"})
    with pytest.raises(PluginLoadError, match="avatarkit-broken"):
        Registry.load(environ={"AVATARKIT_STRICT_PLUGINS": "1",
                               "AVATARKIT_LOAD_PLUGINS": "avatarkit-broken"})


def test_load_plugins_limits_third_party_but_keeps_builtins(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-sparkle", {"ak_sparkle": GOOD}, {"sparkle": "ak_sparkle"})
    plugin_dir("avatarkit-broken", {"ak_broken": BROKEN_IMPORT}, {"broken": "ak_broken"})
    reg = Registry.load(environ={"AVATARKIT_LOAD_PLUGINS": ""})
    assert "sparkle" not in reg.faces and not reg.problems and "none" in reg.faces
    reg = Registry.load(environ={"AVATARKIT_LOAD_PLUGINS": "avatarkit-sparkle"})
    assert "sparkle" in reg.faces and not reg.problems


def test_blocking_a_plugin_by_name(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-broken", {"ak_broken": BROKEN_IMPORT}, {"broken": "ak_broken"})
    reg = Registry.load(environ={"AVATARKIT_LOAD_PLUGINS": "avatarkit-broken"},
                        blocked=["avatarkit-broken"])
    assert not reg.problems
    reg = Registry.load(environ={"AVATARKIT_DISABLE_PLUGINS": "broken",
                                 "AVATARKIT_LOAD_PLUGINS": "avatarkit-broken"})
    assert not reg.problems


DUPLICATE_SPARKLE = GOOD.replace("SparkleFace", "OtherSparkle")


def test_duplicate_part_names_name_both_distributions(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-sparkle", {"ak_sparkle": GOOD}, {"sparkle": "ak_sparkle"})
    plugin_dir("avatarkit-dupe", {"ak_dupe": DUPLICATE_SPARKLE}, {"dupe": "ak_dupe"})
    reg = Registry.load(environ=ONLY_TEST_DISTS)
    with pytest.raises(DuplicatePartError) as err:
        reg.face("sparkle")
    assert "avatarkit-dupe and avatarkit-sparkle" in str(err.value)
    assert any("registered by more than one" in line for line in reg.problem_lines())
    with pytest.raises(DuplicatePartError):
        Registry.load(environ={"AVATARKIT_STRICT_PLUGINS": "1", **ONLY_TEST_DISTS})


def test_a_plugin_never_replaces_a_builtin_part(plugin_dir, clean_env) -> None:
    """A plugin registering `none` (or `local`) cannot break every run: the built-in
    wins and the clash is listed as that plugin's problem."""
    plugin_dir("avatarkit-dupe", {"ak_dupe": DUPLICATE_NONE}, {"dupe": "ak_dupe"})
    warnings: list[str] = []
    reg = Registry.load(environ=ONLY_TEST_DISTS, warn=warnings.append)
    assert reg.info("face", "none").distribution == "avatarkit"
    assert reg.face("none").__module__ == "avatarkit.faces.none"
    [problem] = [p for p in reg.problems if p.distribution == "avatarkit-dupe"]
    assert "clashes with avatarkit's built-in face" in problem.error
    assert any("avatarkit-dupe" in w for w in warnings)
    with pytest.raises(DuplicatePartError, match="clashes with avatarkit's built-in"):
        Registry.load(environ={"AVATARKIT_STRICT_PLUGINS": "1", **ONLY_TEST_DISTS})


def test_builtin_wins_whatever_the_registration_order(clean_env) -> None:
    import types

    from avatarkit import Face, hookimpl
    from avatarkit.faces import none as builtin_none

    class Impostor(Face):
        name = "none"

        async def start(self, session, transport): ...

        async def aclose(self): ...

    plugin = types.ModuleType("impostor")
    plugin.register_faces = hookimpl(lambda register: register(Impostor))  # type: ignore[attr-defined]
    reg = Registry()
    reg.add_plugin(plugin, distribution="avatarkit-impostor", warn=lambda m: None)
    reg.add_plugin(builtin_none, distribution="avatarkit", entry_point="none",
                   warn=lambda m: None)
    assert reg.face("none") is builtin_none.NoneFace
    assert [p.distribution for p in reg.problems] == ["avatarkit-impostor"]


def test_the_audio_only_face_cannot_be_blocked(clean_env) -> None:
    warnings: list[str] = []
    for blocked, environ in ((["none"], {}), (["avatarkit"], {}),
                             ([], {"AVATARKIT_DISABLE_PLUGINS": "none"})):
        reg = Registry.load(environ=environ, blocked=blocked, warn=warnings.append)
        assert reg.face("none").__module__ == "avatarkit.faces.none"
    assert "local" not in Registry.load(environ={}, blocked=["avatarkit"]).faces
    assert sum("cannot" in w or "always loaded" in w for w in warnings) == 2


def test_plugins_lists_the_clash_as_a_problem(plugin_dir, clean_env, capsys) -> None:
    plugin_dir("avatarkit-dupe", {"ak_dupe": DUPLICATE_NONE}, {"dupe": "ak_dupe"})
    out = run_cli(capsys, "plugins")
    assert out.returncode == 0, out.stderr
    assert "problems (" in out.stdout and "avatarkit-dupe" in out.stdout
    assert "clashes with avatarkit's built-in face" in out.stdout
    assert "avatarkit-dupe" not in out.stderr  # listed once, not also warned


def test_strict_mode_message_is_not_doubled(plugin_dir, clean_env, capsys,
                                           monkeypatch) -> None:
    plugin_dir("avatarkit-broken", {"ak_broken": BROKEN_IMPORT}, {"broken": "ak_broken"})
    monkeypatch.setenv("AVATARKIT_STRICT_PLUGINS", "1")
    monkeypatch.setenv("AVATARKIT_LOAD_PLUGINS", "avatarkit-broken")
    out = run_cli(capsys, "plugins")
    assert out.returncode == 1
    assert "avatarkit: error: failed to load plugin 'broken'" in out.stderr, out.stderr
    assert "avatarkit: avatarkit:" not in out.stderr
    assert "error: avatarkit:" not in out.stderr


def test_unknown_part_suggests_the_closest_name(clean_env) -> None:
    reg = Registry.load(environ={})
    with pytest.raises(UnknownPartError, match="did you mean 'heygen'"):
        reg.face("heygn")
    with pytest.raises(UnknownPartError, match="Available brains"):
        reg.brain("zzz")


def test_listing_plugins_never_imports_livekit(plugin_dir, clean_env) -> None:
    plugin_dir("avatarkit-sparkle", {"ak_sparkle": GOOD}, {"sparkle": "ak_sparkle"})
    code = (
        "import sys, avatarkit.cli as c\n"
        "try:\n    c.main(['plugins', '--json'])\nexcept SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'av', 'onnxruntime', 'faster_whisper') or m.startswith('livekit'))\n"
        "print('HEAVY', bad, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert "HEAVY []" in out.stderr, out.stderr
    assert '"sparkle"' in out.stdout


@pytest.mark.local_extra
def test_example_plugin_package_registers(plugin_dir, clean_env) -> None:
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "examples" / "plugin-sparkle"
    code = (source / "avatarkit_sparkle.py").read_text()
    plugin_dir("avatarkit-sparkle", {"avatarkit_sparkle": code},
               {"sparkle": "avatarkit_sparkle"}, "0.1.0")
    reg = Registry.load(environ={})
    face = reg.face("sparkle")
    assert reg.info("face", "sparkle").distribution == "avatarkit-sparkle"
    assert face.emotions and face.supports_background
    face.check_usable(face.parse_options({}), {})


def test_no_plugin_none_keeps_the_audio_only_face_on_the_command_line(clean_env, capsys,
                                                                        monkeypatch) -> None:
    import json

    for args, env in ((["--no-plugin", "none", "plugins", "--json"], None),
                      (["plugins", "--json"], "none")):
        if env:
            monkeypatch.setenv("AVATARKIT_DISABLE_PLUGINS", env)
        out = run_cli(capsys, *args)
        assert out.returncode == 0, out.stderr
        names = {(p["kind"], p["name"]) for p in json.loads(out.stdout)["parts"]}
        assert ("face", "none") in names
