"""When media plays: the playout clock shared by a peer's tracks, the 48 kHz audio
timeline the outgoing audio track reads from, and a loudness measure.

A face stamps its media on its own clock; :class:`Playout` maps those timestamps onto the
wall clock with a small fixed delay, and the outgoing tracks (:mod:`.peer_media`) release
media at exactly that time. :class:`AudioTimeline` places audio at wall-clock positions.
"""

from __future__ import annotations

import time

import numpy as np

OUT_RATE = 48000  # what goes to the Opus encoder (aiortc resamples for PCMU/G722)
AUDIO_PTIME = 0.02
AUDIO_SAMPLES = int(OUT_RATE * AUDIO_PTIME)
LOUD_RMS = 0.01  # -40 dBFS: "someone is speaking" for latency marks and checks


class Playout:
    """Face timestamps -> wall-clock release times, shared by a peer's audio and video.

    Anchored on the first media pushed; ``delay`` absorbs push jitter. If media arrives more
    than ``max_late`` behind its slot (the face fell behind, e.g. CPU starvation), the clock
    re-anchors so audio and video stay together instead of drifting apart.
    """

    def __init__(self, delay: float = 0.06, max_late: float = 0.2) -> None:
        self.delay = delay
        self.max_late = max_late
        self.reanchors = 0
        self._offset: float | None = None

    def due(self, timestamp: float) -> float:
        now = time.monotonic()
        if self._offset is None:
            self._offset = now - timestamp
        due = self._offset + timestamp + self.delay
        if now > due + self.max_late:
            self._offset = now - timestamp
            self.reanchors += 1
            due = now + self.delay
        return due


class AudioTimeline:
    """48 kHz mono samples placed at wall-clock positions, read in 20 ms slots.

    Sample ``i`` plays at ``origin + i / 48000``. Writes close to the end of the previous
    write are made contiguous (no clicks from rounding); writes for slots already sent are
    moved to the next unsent sample (late audio is delayed, never dropped).
    """

    def __init__(self, origin: float | None = None) -> None:
        self.origin = time.monotonic() if origin is None else origin
        self._base = 0  # sample index of _buf[0] (the next sample to send)
        self._buf = np.zeros(0, dtype=np.int16)
        self._write_end = 0

    def position(self, when: float) -> int:
        return round((when - self.origin) * OUT_RATE)

    def write(self, due: float, samples: np.ndarray) -> int:
        """Place ``samples`` to start playing at wall time ``due``; return the position."""
        pos = self.position(due)
        if abs(pos - self._write_end) <= OUT_RATE // 100:
            pos = self._write_end
        pos = max(pos, self._base)
        end = pos + len(samples)
        need = end - self._base
        if need > len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros(need - len(self._buf), np.int16)])
        self._buf[pos - self._base:end - self._base] = samples
        self._write_end = max(self._write_end, end)
        return pos

    def read(self, slot: int) -> np.ndarray:
        """The 20 ms of samples of ``slot`` (silence where nothing was written)."""
        start = slot * AUDIO_SAMPLES
        if start > self._base:
            self._buf = self._buf[start - self._base:]
            self._base = start
        elif start < self._base:  # already sent (a slot read twice): silence
            return np.zeros(AUDIO_SAMPLES, np.int16)
        chunk = self._buf[:AUDIO_SAMPLES]
        self._buf = self._buf[AUDIO_SAMPLES:]
        self._base += AUDIO_SAMPLES
        if len(chunk) < AUDIO_SAMPLES:
            chunk = np.concatenate([chunk, np.zeros(AUDIO_SAMPLES - len(chunk), np.int16)])
        return chunk

    @property
    def buffered_seconds(self) -> float:
        return max(0, self._write_end - self._base) / OUT_RATE


def rms(samples: np.ndarray) -> float:
    """Root mean square of int16 samples, 0..1 of full scale."""
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean((samples.astype(np.float32) / 32768.0) ** 2)))
