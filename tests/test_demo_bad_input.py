"""`avatarkit demo` with bad input: one clear message, exit 2 (usage) or 1 (runtime),
no traceback, no orphaned llama-server."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from local_helpers import process_gone
from test_e2e_demo import ChildWatcher

pytestmark = pytest.mark.local_extra  # the offline engines / the renderer


def run_demo_cli(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AVATARKIT_", "LIVEKIT_"))}
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "avatarkit", "demo", "--output",
                             str(tmp_path / "out.mp4"), *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = ChildWatcher(proc.pid)
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        watcher.stop()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), watcher.llama_pids


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def flat_png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (400, 400), (40, 120, 200)).save(path)
    return path


CASES = {
    "missing portrait": (2, lambda t: ["--face-opt", f"portrait={t / 'nope.png'}"],
                         "nope.png"),
    "corrupt portrait": (2, lambda t: ["--face-opt", "portrait=" + str(
        (t / "bad.png").write_bytes(b"\x89PNG not really") and t / "bad.png")], "bad.png"),
    "no face area": (2, lambda t: ["--face-opt", f"portrait={flat_png(t / 'flat.png')}"],
                     "flat.png"),
    "unreadable wav": (2, lambda t: ["--input", str(
        (t / "q.wav").write_bytes(b"RIFF....garbage") and t / "q.wav")], "q.wav"),
    "silent wav": (2, lambda t: ["--input", str(write_wav(t / "silent.wav",
                                                           np.zeros(32000)))], "silent"),
    "missing input": (2, lambda t: ["--input", str(t / "missing.wav")], "missing.wav"),
    "missing piper voice": (2, lambda t: ["--brain-opt", f"voice={t / 'nope.onnx'}"],
                            "nope.onnx"),
    "dead base_url": (1, lambda t: ["--brain-opt", "base_url=http://127.0.0.1:9/v1"],
                      "127.0.0.1:9"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_demo_input(case: str, tmp_path: Path) -> None:
    code, make_args, needle = CASES[case]
    result, llama_pids = run_demo_cli(tmp_path, *make_args(tmp_path))
    assert result.returncode == code, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr
    assert needle in result.stderr, result.stderr[-3000:]
    assert all(process_gone(pid) for pid in llama_pids)
    assert not (tmp_path / "out.mp4").exists() or code == 1
