"""``avatarkit plugin new``: bad input refused; a scaffolded face installs into a fresh
venv, passes its own kit tests there, and is listed by ``avatarkit plugins``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_runner import assert_usage_error, run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["Bad_Name", "x-", "a--b", "9lives", "x" * 41])
def test_bad_name_is_a_usage_error(name: str, tmp_path: Path, capsys) -> None:
    result = run_cli(capsys, "plugin", "new", name, "--dir", str(tmp_path / "p"))
    assert_usage_error(result, "not valid", "lower-case")
    assert not (tmp_path / "p").exists()


def test_existing_dir_and_bad_kind_are_usage_errors(tmp_path: Path, capsys) -> None:
    assert_usage_error(run_cli(capsys, "plugin", "new", "ok", "--dir", str(tmp_path)),
                       "already exists")
    assert_usage_error(run_cli(capsys, "plugin", "new", "ok", "--kind", "hat", "--dir",
                               str(tmp_path / "p")), "--kind must be face or brain")


def test_scaffolded_modules_use_the_public_api_only(tmp_path: Path, capsys) -> None:
    for kind in ("face", "brain"):
        out = run_cli(capsys, "plugin", "new", f"my-{kind}", "--kind", kind,
                      "--dir", str(tmp_path / kind))
        assert out.returncode == 0, out.stderr
        source = (tmp_path / kind / f"avatarkit_my_{kind}.py").read_text()
        imports = [line for line in source.splitlines()
                   if line.startswith(("from avatarkit", "import avatarkit"))]
        assert imports and all("from avatarkit.plugin import" in i for i in imports), imports
        assert (tmp_path / kind / "tests" / "test_contract.py").exists()
        pyproject = (tmp_path / kind / "pyproject.toml").read_text()
        assert f'[project.entry-points.avatarkit]\nmy-{kind} = "avatarkit_my_{kind}"' \
            in pyproject


@pytest.mark.local_extra
def test_scaffolded_face_installs_passes_its_kit_and_is_listed(tmp_path: Path, capsys) -> None:
    out = run_cli(capsys, "plugin", "new", "glow", "--kind", "face",
                  "--dir", str(tmp_path / "glow"))
    assert out.returncode == 0, out.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    python = str(venv / "bin" / "python")
    # the venv's seeded setuptools (65) cannot build an editable wheel without `wheel`
    subprocess.run([python, "-m", "pip", "install", "-q", "setuptools>=70.1"], check=True,
                   timeout=300, capture_output=True)
    pip = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e"]
    subprocess.run([*pip, str(ROOT)], check=True, timeout=300, capture_output=True)
    subprocess.run([*pip, str(tmp_path / "glow")], check=True, timeout=300,
                   capture_output=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVATARKIT_", "PYTHONPATH"))} | {"HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    tests = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=tmp_path / "glow", env=env, capture_output=True, text=True,
                           timeout=600)
    print(f"scaffolded face kit run: {time.perf_counter() - t0:.1f} s")
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "5 passed" in tests.stdout
    listing = subprocess.run([str(venv / "bin" / "avatarkit"), "plugins", "--json"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    rows = {(p["kind"], p["name"]): p for p in json.loads(listing.stdout)["parts"]}
    assert rows[("face", "glow")]["distribution"] == "avatarkit-glow"
