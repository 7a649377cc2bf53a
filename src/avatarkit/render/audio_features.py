"""Audio -> mouth: loudness and a few viseme classes per video frame, smoothed.

Each video frame gets the audio it plays with (40 ms at 25 fps). From it:

- loudness: RMS in dBFS, mapped to an opening with a gate and a slowly adapting reference
  (so quiet and loud voices both move the mouth);
- shape: band energies of the windowed spectrum pick between open ``A`` (strong first
  formant, 700-1300 Hz), rounded ``O`` (energy below 700 Hz, little above 1.3 kHz) and wide
  ``E`` (strong second formant 1.3-2.8 kHz, or fricative hiss above 2.8 kHz);
- smoothing: a fast attack and slower release on the opening, so the mouth opens on the
  frame the sound starts and closes naturally between syllables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

VISEMES: tuple[str, ...] = ("closed", "A", "O", "E")
GATE_DB = -52.0  # below this a frame is silence
RANGE_DB = 26.0  # dB between just-open and fully open
_BANDS = ((120.0, 700.0), (700.0, 1300.0), (1300.0, 2800.0), (2800.0, 8000.0))
# per viseme: (mouth width factor, openness scale, roundness, teeth)
_SHAPES = {"A": (1.0, 1.0, 0.0, 0.6), "O": (0.74, 0.85, 1.0, 0.15), "E": (1.12, 0.55, 0.0, 1.0)}


@dataclass(frozen=True)
class ChunkFeatures:
    """What one frame's audio says about the mouth."""

    rms: float  # linear RMS, 0-1 of full scale
    db: float  # dBFS
    bands: tuple[float, float, float, float]  # energy shares of the four bands
    weights: tuple[float, float, float]  # soft A / O / E weights (sum 1)

    @property
    def viseme(self) -> str:
        """The dominant class, ``closed`` for silence."""
        if self.db < GATE_DB:
            return "closed"
        return ("A", "O", "E")[int(np.argmax(self.weights))]


@dataclass(frozen=True)
class MouthShape:
    """The smoothed mouth the compositor draws."""

    open: float = 0.0  # 0 closed .. 1 fully open
    width: float = 1.0  # width factor (O < 1 < E)
    round: float = 0.0  # 0 .. 1 how rounded the opening is
    teeth: float = 0.0  # 0 .. 1 how much upper teeth show
    viseme: str = "closed"


class SpectrumAnalyzer:
    """Band energies of int16 chunks at a fixed sample rate (precomputed window and bins)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._windows: dict[int, tuple[np.ndarray, int, list[slice]]] = {}

    def _plan(self, n: int) -> tuple[np.ndarray, int, list[slice]]:
        plan = self._windows.get(n)
        if plan is None:
            nfft = 1 << max(6, math.ceil(math.log2(max(n, 2))))
            window = np.hanning(n).astype(np.float32)
            hz = self.sample_rate / nfft
            nyquist = self.sample_rate / 2
            slices = [slice(int(lo / hz), max(int(lo / hz) + 1, int(min(hi, nyquist) / hz)))
                      for lo, hi in _BANDS]
            plan = (window, nfft, slices)
            self._windows[n] = plan
        return plan

    def analyze(self, samples: np.ndarray) -> ChunkFeatures:
        """Features of one chunk of mono int16 (or float in -1..1) samples."""
        x = samples.astype(np.float32)
        if samples.dtype == np.int16:
            x *= 1.0 / 32768.0
        n = x.size
        if n == 0:
            return ChunkFeatures(0.0, -120.0, (0.25, 0.25, 0.25, 0.25), (1 / 3, 1 / 3, 1 / 3))
        rms = float(np.sqrt(np.mean(x * x)))
        db = 20.0 * math.log10(rms + 1e-9)
        window, nfft, slices = self._plan(n)
        spec = np.fft.rfft(x * window, nfft)
        power = spec.real ** 2 + spec.imag ** 2
        e = np.array([float(power[s].sum()) for s in slices]) + 1e-12
        shares = e / e.sum()
        low, f1, f2, hiss = (float(v) for v in shares)
        a = f1 * 1.6 + 0.05
        o = max(0.0, low - 1.2 * (f2 + hiss)) * 1.4 + 0.02
        ee = f2 * 1.3 + hiss * 0.9 + 0.03
        tot = a + o + ee
        return ChunkFeatures(rms, db, (low, f1, f2, hiss), (a / tot, o / tot, ee / tot))


class MouthTracker:
    """Turns per-frame features into a smoothed :class:`MouthShape` (attack/release)."""

    def __init__(self, fps: float, *, attack: float = 0.02, release: float = 0.07,
                 shape_time: float = 0.05) -> None:
        dt = 1.0 / fps
        self._attack = 1.0 - math.exp(-dt / attack)
        self._release = 1.0 - math.exp(-dt / release)
        self._shape = 1.0 - math.exp(-dt / shape_time)
        self._ref_decay = 6.0 * dt  # dB per frame the loudness reference sinks
        self.reset()

    def reset(self) -> None:
        """Close the mouth now (interruption / new session)."""
        self._open = 0.0
        self._width = 1.0
        self._round = 0.0
        self._teeth = 0.0
        self._ref_db = -22.0

    def target(self, f: ChunkFeatures | None) -> tuple[float, float, float, float]:
        """Unsmoothed (open, width, round, teeth) for one frame's features."""
        if f is None or f.db < GATE_DB:
            return 0.0, 1.0, 0.0, 0.0
        if f.db > self._ref_db:
            self._ref_db = f.db
        else:
            self._ref_db = max(-34.0, self._ref_db - self._ref_decay)
        level = (f.db - (self._ref_db - RANGE_DB)) / RANGE_DB
        level = min(1.0, max(0.0, level)) ** 1.2
        wa, wo, we = f.weights
        width = wa * _SHAPES["A"][0] + wo * _SHAPES["O"][0] + we * _SHAPES["E"][0]
        scale = wa * _SHAPES["A"][1] + wo * _SHAPES["O"][1] + we * _SHAPES["E"][1]
        rnd = wo * _SHAPES["O"][2]
        teeth = wa * _SHAPES["A"][3] + wo * _SHAPES["O"][3] + we * _SHAPES["E"][3]
        return level * scale, width, rnd, teeth

    def update(self, f: ChunkFeatures | None) -> MouthShape:
        """Advance one frame."""
        o, w, r, t = self.target(f)
        k = self._attack if o > self._open else self._release
        self._open += (o - self._open) * k
        if self._open < 0.04 and o == 0.0:
            self._open = 0.0
        s = self._shape if o > 0 else self._release
        self._width += (w - self._width) * s
        self._round += (r - self._round) * s
        self._teeth += (t - self._teeth) * s
        if self._open == 0.0:
            self._width, self._round, self._teeth = 1.0, 0.0, 0.0
        viseme = "closed" if f is None or f.db < GATE_DB else f.viseme
        return MouthShape(self._open, self._width, self._round, self._teeth, viseme)
