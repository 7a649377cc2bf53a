"""The first-party provider catalog: ``plugins --available`` and the install hint for a face
that is not installed (both without importing any plugin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avatarkit.catalog import PROVIDER_FACES, available
from avatarkit.registry import Registry
from cli_runner import assert_usage_error

ROOT = Path(__file__).resolve().parents[1]


def test_catalog_lists_every_distribution_under_plugins() -> None:
    dists = {p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()}
    assert {dist for dist, _ in PROVIDER_FACES.values()} == dists
    assert [r["name"] for r in available({"tavus", "bey"})] == sorted(
        set(PROVIDER_FACES) - {"tavus", "bey"})


def test_available_lists_what_is_not_installed_with_the_pip_line(cli: Any, tmp_path: Path) -> None:
    none = cli("plugins", "--available", "--json", env={"AVATARKIT_LOAD_PLUGINS": ""},
               cwd=tmp_path)
    rows = json.loads(none.stdout)
    assert {r["name"] for r in rows} == set(PROVIDER_FACES)
    tavus = next(r for r in rows if r["name"] == "tavus")
    assert tavus["install"] == "pip install avatarkit-tavus"
    text = cli("plugins", "--available", env={"AVATARKIT_LOAD_PLUGINS": ""}, cwd=tmp_path)
    assert "    pip install avatarkit-runway" in text.stdout.splitlines()
    # with the plugins of this checkout installed, none of them is listed
    installed = set(Registry.load(environ={}).faces)
    rows = json.loads(cli("plugins", "--available", "--json", cwd=tmp_path).stdout)
    assert {r["name"] for r in rows} == set(PROVIDER_FACES) - installed


def test_a_provider_face_not_installed_exits_2_with_its_pip_line(cli: Any, tmp_path: Path) -> None:
    result = cli("run", "--brain", "realtime", "--face", "tavus",
                 env={"AVATARKIT_LOAD_PLUGINS": ""}, cwd=tmp_path)
    assert_usage_error(result, "face 'tavus' is not installed: pip install avatarkit-tavus",
                       "plugins --available")
    # a typo still gets the did-you-mean
    assert_usage_error(cli("run", "--brain", "realtime", "--face", "tavs",
                           env={"AVATARKIT_LOAD_PLUGINS": ""}, cwd=tmp_path), "unknown face")


def test_provider_docs_are_generated_from_the_faces() -> None:
    """Each plugin's README and the faces table of docs/parts.md match the code."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "provider_docs.py"),
                             "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_listing_the_provider_plugins_imports_no_livekit() -> None:
    import subprocess
    import sys

    code = ("import sys, json\n"
            "from avatarkit.registry import Registry\n"
            "faces = Registry.load(environ={}).faces\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('livekit', 'aiohttp', 'PIL')]\n"
            "print(json.dumps([sorted(faces), bad]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    faces, bad = json.loads(out)
    assert set(PROVIDER_FACES) <= set(faces) and bad == []
