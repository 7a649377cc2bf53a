"""Helpers for the offline-engine tests: real speech from espeak-ng, process checks."""

from __future__ import annotations

import re
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
from livekit import rtc

SAMPLE_RATE = 16000


def espeak_frame(text: str, *, sample_rate: int = SAMPLE_RATE) -> rtc.AudioFrame:
    """``text`` spoken by espeak-ng, as one mono 16-bit frame at ``sample_rate``."""
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True,
                         capture_output=True).stdout
    native = 22050
    samples = np.frombuffer(wav[44:], dtype=np.int16)
    frame = rtc.AudioFrame(samples.tobytes(), native, 1, len(samples))
    if sample_rate == native:
        return frame
    resampler = rtc.AudioResampler(native, sample_rate)
    return rtc.combine_audio_frames(resampler.push(frame) + resampler.flush())


def espeak_wav(text: str, path: Path, *, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``text`` spoken by espeak-ng to a mono 16-bit wav at ``sample_rate``."""
    frame = espeak_frame(text, sample_rate=sample_rate)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(bytes(frame.data))
    return path


def rms(frame: rtc.AudioFrame) -> float:
    """Root-mean-square level of a 16-bit frame, in [0, 1]."""
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


def words(text: str) -> set[str]:
    """Lower-case words of ``text`` without punctuation."""
    return set(re.findall(r"[a-z']+", text.lower()))


def process_gone(pid: int) -> bool:
    """``True`` when ``pid`` no longer runs (missing, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait up to ``timeout`` s for ``pid`` to be gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    return process_gone(pid)
