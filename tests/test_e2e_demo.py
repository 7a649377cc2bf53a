"""End to end through the real offline stack: `avatarkit demo` as a user runs it.

Silero VAD -> faster-whisper -> SmolLM2 on llama.cpp's server -> Piper -> the built-in
face -> PyAV mp4, through the same composer and AgentSession as production, with no
LiveKit server and no network. One demo run (two questions, the second one barging into
the first reply) feeds most assertions; it runs in a subprocess so the llama-server child
can be watched and must be gone when the command exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from local_helpers import espeak_wav, process_gone

pytestmark = [pytest.mark.e2e, pytest.mark.local_extra]

FPS = 25
INTERRUPT_AFTER = 1.0
STORYTELLER = ("You are a storyteller. Always answer with a long story of at least eight "
               "sentences, never fewer.")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVATARKIT_", "LIVEKIT_", "OPENAI_"))}
    env["HF_HUB_OFFLINE"] = "1"
    return env


class ChildWatcher:
    """Records the pids of every llama-server descendant of a process while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.llama_pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for child in psutil.Process(self.pid).children(recursive=True):
                    if "llama-server" in child.name():
                        self.llama_pids.add(child.pid)
            except psutil.Error:
                pass
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("e2e")
    # A prompt and instructions that make even SmolLM2's first reply long enough to be
    # interrupted INTERRUPT_AFTER seconds in.
    q1 = espeak_wav("Tell me a long story about a brave knight and a dragon.", tmp / "q1.wav")
    q2 = espeak_wav("Wait, stop please. Tell me instead about the weather on the coast "
                    "of Brittany this week.", tmp / "q2.wav")
    out, report = tmp / "demo.mp4", tmp / "report.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "avatarkit", "demo", "--input", str(q1), "--input", str(q2),
         "--interrupt-after", str(INTERRUPT_AFTER), "--brain-opt", "max_tokens=80",
         "--output", str(out),
         "--report-json", str(report)],
        env={**_env(), "AVATARKIT_INSTRUCTIONS": STORYTELLER}, cwd=tmp,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = ChildWatcher(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=420)
    finally:
        watcher.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-4000:]
    return {"stdout": stdout, "stderr": stderr, "mp4": out, "tmp": tmp,
            "report": json.loads(report.read_text()), "llama_pids": watcher.llama_pids}


def _decode(mp4: Path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(gray frames [n,h,w], mono float audio at 16 kHz, video seconds, audio seconds)."""
    import av

    with av.open(str(mp4)) as container:
        vstream, astream = container.streams.video[0], container.streams.audio[0]
        v_secs = float(vstream.duration * vstream.time_base)
        a_secs = float(astream.duration * astream.time_base)
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    with av.open(str(mp4)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        chunks = []
        for frame in container.decode(audio=0):
            chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(frame))
    audio = np.concatenate(chunks).astype(np.float32) / 32768.0
    return np.stack(frames), audio, v_secs, a_secs


def _mouth_box() -> tuple[slice, slice]:
    from avatarkit.render.portrait import default_portrait_path, load_portrait

    layout = load_portrait(default_portrait_path(), width=512, height=512).layout
    (mx, my), w = layout.mouth, layout.mouth_width
    return (slice(int(my - 0.35 * w), int(my + 0.6 * w)),
            slice(int(mx - 0.7 * w), int(mx + 0.7 * w)))


def _per_frame(frames: np.ndarray, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mouth-region change between consecutive frames, and reply-audio RMS per frame."""
    rows, cols = _mouth_box()
    mouth = frames[:, rows, cols].astype(np.float32)
    motion = np.abs(np.diff(mouth, axis=0)).mean(axis=(1, 2))
    hop = 16000 // FPS
    n = min(len(motion), len(audio) // hop - 1)
    energy = np.array([np.sqrt(np.mean(audio[(i + 1) * hop:(i + 2) * hop] ** 2))
                       for i in range(n)])
    return motion[:n], energy


def test_demo_hears_the_question_and_answers(demo: dict[str, Any]) -> None:
    turns = demo["report"]["session"]["turns"]
    assert demo["report"]["session"]["face"] == "local"
    heard = turns[0]["heard"].lower()
    assert "knight" in heard or "dragon" in heard or "story" in heard, heard
    assert turns[0]["answered"].strip()
    assert "heard:" in demo["stdout"] and "latency" in demo["stdout"]


def test_mp4_has_audio_and_video_of_matching_length(demo: dict[str, Any]) -> None:
    frames, audio, v_secs, a_secs = _decode(demo["mp4"])
    assert frames.shape[1:] == (512, 512)
    assert v_secs > 3 and abs(v_secs - a_secs) < 0.1, (v_secs, a_secs)
    assert abs(len(frames) / FPS - v_secs) < 0.1


def test_whisper_hears_speech_in_the_reply_audio(demo: dict[str, Any]) -> None:
    from avatarkit.engines.whisper_stt import load_whisper_model

    _, audio, _, _ = _decode(demo["mp4"])
    segments, _ = load_whisper_model().transcribe(audio, language="en", beam_size=1)
    text = " ".join(s.text for s in segments).strip()
    assert len(text.split()) >= 2, text


def _smooth(x: np.ndarray, frames: int = 9) -> np.ndarray:
    return np.convolve(x, np.ones(frames) / frames, mode="same")


def test_mouth_motion_follows_reply_audio_energy(demo: dict[str, Any]) -> None:
    frames, audio, _, _ = _decode(demo["mp4"])
    motion, energy = _per_frame(frames, audio)
    speaking = energy > 0.02
    assert speaking.sum() > FPS and (~speaking).sum() > FPS
    # Frame-to-frame change of the mouth region tracks the reply's energy (over ~0.36 s:
    # a held vowel is loud but still, so single frames are noisy by nature) ...
    corr = float(np.corrcoef(_smooth(motion), _smooth(energy))[0, 1])
    assert corr > 0.35, corr
    # ... and how far the mouth is from its resting shape follows the energy frame by frame.
    rows, cols = _mouth_box()
    mouth = frames[1:, rows, cols].astype(np.float32)[: len(energy)]
    opening = np.abs(mouth - np.median(mouth[~speaking], axis=0)).mean(axis=(1, 2))
    assert float(np.corrcoef(opening, energy)[0, 1]) > 0.6


def test_interruption_stops_speech_and_mouth(demo: dict[str, Any]) -> None:
    turns = demo["report"]["session"]["turns"]
    assert turns[0]["interrupted"] is True, turns
    marks = demo["report"]["marks"]
    barge_start, barge_end = marks[1]["speech_start"], marks[1]["speech_end"]
    assert barge_start is not None and barge_end is not None
    frames, audio, _, _ = _decode(demo["mp4"])
    motion, energy = _per_frame(frames, audio)
    start, end = int(barge_start * FPS), int(barge_end * FPS)
    # The agent was speaking when the barge-in began ...
    assert energy[start - FPS // 2:start + FPS // 2].max() > 0.02
    # ... and went silent, mouth still, while the user was still talking.
    loud = np.flatnonzero(energy[start:end] > 0.01)
    stopped = start + (int(loud[-1]) + 1 if len(loud) else 0)
    print(f"agent stopped {(stopped - start) / FPS:.2f} s after the barge-in began")
    assert end - stopped >= FPS, ("still speaking when the user stopped", stopped, end)
    quiet = slice(stopped + 2, end)
    assert motion[quiet].mean() < 0.3 * motion[energy > 0.02].mean()


def test_llama_server_is_gone_after_the_run(demo: dict[str, Any]) -> None:
    assert demo["llama_pids"], "the demo never started llama-server"
    for pid in demo["llama_pids"]:
        assert process_gone(pid), pid


@pytest.mark.parametrize("when", ["starting", "mid-session"])
def test_llama_server_is_gone_when_the_demo_is_cancelled(tmp_path: Path, when: str) -> None:
    """SIGINT during the demo: one line says it was interrupted, exit 130, no llama-server
    left, nothing else on stderr but the load notes."""
    proc = subprocess.Popen([sys.executable, "-m", "avatarkit", "demo", "--output",
                             str(tmp_path / "x.mp4")], env=_env(), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = ChildWatcher(proc.pid)
    err_lines: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: err_lines.extend(iter(proc.stderr.readline, "")),
                              daemon=True)
    reader.start()
    try:
        if when == "starting":  # while the models load: onnxruntime (Silero VAD) is mapped
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    maps = psutil.Process(proc.pid).memory_maps(grouped=False)
                except psutil.Error:
                    maps = []
                if any("onnxruntime" in m.path for m in maps):
                    break
                time.sleep(0.02)
        else:
            deadline = time.monotonic() + 120
            while not watcher.llama_pids and time.monotonic() < deadline \
                    and proc.poll() is None:
                time.sleep(0.2)
            assert watcher.llama_pids, "llama-server never started"
            time.sleep(2.0)  # mid-session
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(10)
        stderr = "".join(err_lines)
    finally:
        watcher.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines()
             if line.strip() and not line.startswith("avatarkit: skipped plugin")]
    assert [line for line in lines if "interrupt" in line] == ["avatarkit: interrupted"], stderr
    # a CPU that advertises AMX and traps it adds the SIGILL restart's one warning
    assert all(line.startswith("loading ") or line == "avatarkit: interrupted"
               or line.endswith("restarting it with --no-repack") for line in lines), stderr
    time.sleep(0.5)
    for pid in watcher.llama_pids:
        assert process_gone(pid), pid
