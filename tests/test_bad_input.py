"""Bad input: exit 2 with one clear message before any work, never "unexpected error".

In-process (``avatarkit.cli.main``) for speed; one subprocess checks that nothing heavy was
loaded before the refusal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

import cli_runner

SILENT_PLUGINS = {"AVATARKIT_LOAD_PLUGINS": ""}  # built-ins only: no stray plugin warnings


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    result = cli_runner.run_cli(capsys, *args)
    assert not result.network, result.network  # bad input is refused before any connection
    return result.returncode, result.stdout, result.stderr


def assert_usage(result: tuple[int, str, str], *needles: str) -> str:
    code, _, err = result
    assert code == 2, (code, err)
    assert "unexpected error" not in err and "Traceback" not in err
    assert err.count("avatarkit: error:") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(autouse=True)
def _env(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in SILENT_PLUGINS.items():
        monkeypatch.setenv(var, value)


@pytest.mark.parametrize("question", ["", "   ", "\t"])
def test_empty_ask_is_refused(capsys, question: str) -> None:
    assert_usage(run_cli(capsys, "demo", "--ask", question), "--ask needs the question")


@pytest.mark.parametrize("url, needle", [
    ("notaurl", "must start with http:// or https://"),
    ("http://[::1", "is not a valid URL (Invalid IPv6 URL)"),
    ("ftp://models.example/v1", "must start with http:// or https://"),
    ("http://:8000/v1", "has no host name"),
    ("http://host:99999/v1", "Port out of range"),
])
def test_bad_base_url_is_refused(capsys, url: str, needle: str) -> None:
    for command in ("demo", "config"):
        args = ["demo"] if command == "demo" else ["config", "show"]
        assert_usage(run_cli(capsys, *args, "--brain-opt", f"base_url={url}"),
                     "option 'base_url'", needle)


def test_bad_url_never_shows_its_password(capsys) -> None:
    err = assert_usage(run_cli(capsys, "config", "show", "--brain-opt",
                               "base_url=ftp://ada:hunter2@models.example/v1"), "base_url")
    assert "hunter2" not in err and "ftp://models.example/v1" in err


def test_toml_with_invalid_utf8(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "avatarkit.toml"
    bad.write_bytes(b"[brain]\nname = '\xff\xfe'\n")
    assert_usage(run_cli(capsys, "config", "show", "--config", str(bad)), "not UTF-8",
                 str(bad))


def test_config_that_is_a_directory(capsys, tmp_path: Path) -> None:
    assert_usage(run_cli(capsys, "config", "show", "--config", str(tmp_path)),
                 "is a directory")


@pytest.mark.parametrize("option, needle", [
    ("max_tokens=true", "expected an integer, not true/false"),
    ("temperature=false", "expected a number, not true/false"),
])
def test_boolean_for_a_number_is_refused(capsys, option: str, needle: str) -> None:
    assert_usage(run_cli(capsys, "config", "show", "--brain-opt", option), needle)


def test_booleans_still_work_where_they_belong(capsys) -> None:
    code, out, err = run_cli(capsys, "config", "show", "--face-opt", "blink=false")
    assert code == 0, err
    assert "blink = false" in out


@pytest.mark.parametrize("flag", ["--face", "--brain"])
def test_empty_part_name_is_refused(capsys, flag: str) -> None:
    assert_usage(run_cli(capsys, "config", "show", flag, ""), "must not be empty")


def test_option_for_a_face_not_in_the_chain_is_refused(capsys) -> None:
    err = assert_usage(run_cli(capsys, "config", "show", "--face", "local",
                               "--face-opt", "heygen.sandbox=true"),
                       "face 'heygen', which is not in the face chain (local -> none)")
    assert "--fallback heygen" in err
    code, _, err = run_cli(capsys, "config", "show", "--face", "local", "--fallback",
                           "heygen", "--face-opt", "heygen.sandbox=true")
    assert code == 0, err


@pytest.mark.local_extra
def test_background_that_is_not_an_image_is_refused(capsys, tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image at all\n")
    assert_usage(run_cli(capsys, "demo", "--brain-opt", "base_url=http://127.0.0.1:9/v1",
                         "--face-opt", f"background={text}", "--output",
                         str(tmp_path / "out.mp4")),
                 "background image", "is not an image")


@pytest.mark.local_extra
def test_input_longer_than_the_limit_is_refused(capsys, tmp_path: Path) -> None:
    from avatarkit.transports.audio_files import MAX_INPUT_SECONDS

    long_wav = tmp_path / "long.wav"
    with wave.open(str(long_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x10\x00" * int(16000 * (MAX_INPUT_SECONDS + 1)))
    assert_usage(run_cli(capsys, "demo", "--brain-opt", "base_url=http://127.0.0.1:9/v1",
                         "--face", "none", "--input", str(long_wav), "--output",
                         str(tmp_path / "out.mp4")),
                 f"longer than {MAX_INPUT_SECONDS:g} s", "(61.0 s)")


@pytest.mark.local_extra
def test_long_bad_values_are_cut(capsys) -> None:
    huge = "x" * 5000
    for args in (["config", "show", "--face", huge],
                 ["config", "show", "--brain-opt", f"model={huge}", "--brain-opt",
                  f"base_url={huge}"],
                 ["demo", "--brain-opt", "base_url=http://127.0.0.1:9/v1",
                  "--face-opt", f"background={huge}"],
                 ["token", "--room", huge, "--identity", "a"]):
        code, _, err = run_cli(capsys, *args)
        assert code == 2, err
        assert "(5000 characters)" in err or "(5009 characters)" in err, err
        assert len(err) < 1500, err


def _unwritable_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return locked
    return Path("/sys")  # root may write anywhere but here


@pytest.mark.parametrize("where, needle", [
    ("missing", "does not exist"),
    ("unwritable", "cannot be written"),
    ("directory", "is a directory"),
    ("device", "is not a regular file"),
    ("suffix", "must end with .mp4"),
])
def test_demo_output_is_checked_before_any_work(capsys, tmp_path: Path, where: str,
                                                 needle: str) -> None:
    output = {
        "missing": tmp_path / "no" / "such" / "dir" / "out.mp4",
        "unwritable": _unwritable_dir(tmp_path) / "out.mp4",
        "directory": tmp_path,
        "device": Path("/dev/null"),
        "suffix": tmp_path / "out.txt",
    }[where]
    assert_usage(run_cli(capsys, "demo", "--output", str(output)), "--output", needle)
    assert not (tmp_path / "out.txt").exists()


def test_report_json_is_checked_too(capsys, tmp_path: Path) -> None:
    assert_usage(run_cli(capsys, "demo", "--output", str(tmp_path / "a.mp4"),
                         "--report-json", str(tmp_path / "nope" / "r.json")),
                 "--report-json", "does not exist")


def test_refused_output_loads_no_model(tmp_path: Path) -> None:
    """A bad --output exits 2 at once: no model, no livekit, nothing heavy imported."""
    code = (
        "import sys, avatarkit.cli as c\n"
        "try:\n    c.main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'av', 'onnxruntime', 'faster_whisper', 'piper') or "
        "m.startswith('livekit'))\n"
        "print('RC', rc, 'HEAVY', heavy, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVATARKIT_")}
    env["AVATARKIT_LOAD_PLUGINS"] = ""
    result = subprocess.run([sys.executable, "-c", code, "demo", "--output",
                             str(tmp_path / "missing" / "out.mp4")], capture_output=True,
                            text=True, env=env, timeout=60, cwd=tmp_path)
    assert "RC 2 HEAVY []" in result.stderr, result.stderr
    assert "does not exist" in result.stderr
