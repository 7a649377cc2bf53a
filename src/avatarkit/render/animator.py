"""Life between the words: blinks, idle head motion and emotions (with smooth transitions).

Everything is driven by the frame counter (not the wall clock) and a seeded RNG, so a
renderer fed the same audio with the same seed produces the same frames.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields

from ..emotions import EMOTIONS
from ..errors import UsageError


@dataclass(frozen=True)
class Expression:
    """Feature offsets of an emotion (each roughly -1..1, 0 = neutral)."""

    brow_raise: float = 0.0  # both brows up (+) / down (-)
    brow_inner: float = 0.0  # inner ends up (+, sad) / down (-, angry)
    upper_lid: float = 0.0  # upper lids lowered (0..1)
    lower_lid: float = 0.0  # lower lids raised (0..1, smiling eyes)
    eye_widen: float = 0.0  # eyes opened wider (0..1)
    mouth_curve: float = 0.0  # corners up (+) / down (-)
    mouth_width: float = 0.0  # added to the mouth width factor
    mouth_open: float = 0.0  # resting opening (0..1)

    def scaled(self, k: float) -> Expression:
        return Expression(*(getattr(self, f.name) * k for f in fields(self)))

    def toward(self, target: Expression, t: float) -> Expression:
        """A step ``t`` (0-1) of the way to ``target``; snaps once within 0.002."""
        out = []
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(target, f.name)
            out.append(b if abs(b - a) < 0.002 else a + (b - a) * t)
        return Expression(*out)

    def is_neutral(self, eps: float = 1e-3) -> bool:
        return all(abs(getattr(self, f.name)) < eps for f in fields(self))


NEUTRAL = Expression()
EXPRESSIONS: dict[str, Expression] = {
    "neutral": NEUTRAL,
    "happy": Expression(brow_raise=0.2, lower_lid=0.55, mouth_curve=1.0, mouth_width=0.08,
                        mouth_open=0.06),
    "sad": Expression(brow_raise=0.05, brow_inner=0.9, upper_lid=0.3, mouth_curve=-0.85,
                      mouth_width=-0.06),
    "concerned": Expression(brow_raise=0.25, brow_inner=0.65, upper_lid=0.1, mouth_curve=-0.35,
                            mouth_width=-0.08),
    "surprised": Expression(brow_raise=1.0, eye_widen=1.0, mouth_open=0.35, mouth_width=-0.16),
    "angry": Expression(brow_raise=-0.35, brow_inner=-1.0, upper_lid=0.3, lower_lid=0.25,
                        mouth_curve=-0.45, mouth_width=0.04),
}
assert tuple(EXPRESSIONS) == EMOTIONS


def check_emotion(name: str, intensity: float = 1.0) -> tuple[str, float]:
    """Normalise and validate an emotion name and intensity (:class:`UsageError` if bad)."""
    key = str(name).strip().lower()
    if key not in EXPRESSIONS:
        raise UsageError(f"unknown emotion '{name}'",
                         hint="use one of: " + ", ".join(EMOTIONS))
    try:
        value = float(intensity)
    except (TypeError, ValueError):
        raise UsageError(f"emotion intensity must be a number, got {intensity!r}",
                         hint="use a value from 0 (none) to 1 (full)") from None
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise UsageError(f"emotion intensity {value:g} is out of range",
                         hint="use a value from 0 (none) to 1 (full)")
    return key, value


@dataclass(frozen=True)
class Pose:
    """A small head displacement: shift (px) and roll (radians) about the neck pivot."""

    tx: float
    ty: float
    theta: float


def pose_table(scale: float, n_sway: int = 7, n_nod: int = 3) -> list[Pose]:
    """The quantised poses idle motion moves between (index = sway * n_nod + nod)."""
    out = []
    for i in range(n_sway):
        p = -1.0 + 2.0 * i / (n_sway - 1)
        for j in range(n_nod):
            q = -1.0 + 2.0 * j / (n_nod - 1)
            out.append(Pose(tx=0.9 * p * scale, ty=(0.6 * q + 0.15 * abs(p)) * scale,
                            theta=0.0055 * p))
    return out


@dataclass(frozen=True)
class AnimState:
    """The non-audio part of one frame."""

    expression: Expression
    blink: float  # 0 open .. 1 closed
    pose_index: int


class Animator:
    """Blinks every 3-6 s, sways the head a little, eases between emotions."""

    def __init__(self, fps: float, *, seed: int | None = 0, blink: bool = True,
                 motion: float = 1.0, n_sway: int = 7, n_nod: int = 3,
                 emotion: str = "neutral", intensity: float = 1.0,
                 transition: float = 0.18) -> None:
        self.fps = fps
        self._rng = random.Random(seed)
        self._blink_on = blink
        self.motion = motion
        self.n_sway, self.n_nod = n_sway, n_nod
        self._alpha = 1.0 - math.exp(-1.0 / (fps * transition))
        self._phases = [self._rng.uniform(0, 2 * math.pi) for _ in range(4)]
        self._frame = 0
        self._next_blink = self._blink_gap()
        self._blink_start: int | None = None
        self.emotion, self.intensity = check_emotion(emotion, intensity)
        self._target = EXPRESSIONS[self.emotion].scaled(self.intensity)
        self._current = self._target

    @property
    def identity_pose(self) -> int:
        return (self.n_sway // 2) * self.n_nod + self.n_nod // 2

    def _blink_gap(self) -> int:
        return self._frame + max(1, round(self._rng.uniform(3.0, 6.0) * self.fps))

    def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        """Ease toward ``name`` at ``intensity`` (0-1) over ~0.4 s."""
        self.emotion, self.intensity = check_emotion(name, intensity)
        self._target = EXPRESSIONS[self.emotion].scaled(self.intensity)

    def _blink_value(self) -> float:
        if not self._blink_on:
            return 0.0
        if self._blink_start is None and self._frame >= self._next_blink:
            self._blink_start = self._frame
        if self._blink_start is None:
            return 0.0
        # closed on the frame after the start; 60 ms to close, 150 ms to open
        t = (self._frame - self._blink_start - 1) / self.fps
        value = max(0.0, 1.0 + t / 0.06) if t < 0 else max(0.0, 1.0 - t / 0.15)
        if t > 0 and value == 0.0:
            self._blink_start = None
            self._next_blink = self._blink_gap()
        return value

    def step(self, speaking: float = 0.0) -> AnimState:
        """Advance one frame; ``speaking`` (0-1) adds a little nodding."""
        self._current = self._current.toward(self._target, self._alpha)
        blink = self._blink_value()
        if self.motion <= 0:
            pose = self.identity_pose
        else:
            t = self._frame / self.fps
            ph = self._phases
            p = (0.62 * math.sin(2 * math.pi * t / 6.7 + ph[0])
                 + 0.38 * math.sin(2 * math.pi * t / 2.9 + ph[1])) * self.motion
            q = (0.7 * math.sin(2 * math.pi * t / 4.9 + ph[2])
                 + 0.3 * math.sin(2 * math.pi * t / 2.3 + ph[3])) * self.motion
            q = q * (1 - 0.5 * speaking) - 0.6 * speaking
            i = round((min(1.0, max(-1.0, p)) + 1) / 2 * (self.n_sway - 1))
            j = round((min(1.0, max(-1.0, q)) + 1) / 2 * (self.n_nod - 1))
            pose = i * self.n_nod + j
        self._frame += 1
        return AnimState(self._current, blink, pose)
