"""The portrait renderer: one call per video frame, audio in, RGBA pixels out."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .animator import Animator
from .audio_features import ChunkFeatures, MouthShape, MouthTracker, SpectrumAnalyzer
from .backgrounds import Background, parse_background
from .compositor import Compositor, FaceState, Layers
from .portrait import Portrait, load_portrait


@dataclass(frozen=True)
class RenderedFrame:
    """One frame: its RGBA bytes (owned by the frame) and what was drawn."""

    index: int
    buffer: bytearray
    width: int
    height: int
    state: FaceState
    features: ChunkFeatures | None

    @property
    def array(self) -> np.ndarray:
        """(H, W, 4) uint8 view of ``buffer``."""
        return np.frombuffer(self.buffer, np.uint8).reshape(self.height, self.width, 4)


class PortraitRenderer:
    """Renders a talking portrait frame by frame (deterministic for a given ``seed``).

    ``render(samples)`` takes the mono int16 audio that plays during the frame (or None for
    silence) and returns a :class:`RenderedFrame`. Emotions and backgrounds can change at any
    time; a background change can be prepared off the event loop
    (:meth:`prepare_background`) and swapped in instantly (:meth:`apply_background`).
    """

    def __init__(
        self,
        portrait: Portrait | str | os.PathLike[str] | None = None,
        *,
        width: int = 512,
        height: int = 512,
        fps: float = 25.0,
        sample_rate: int = 24000,
        background: str | Background | None = None,
        emotion: str = "neutral",
        intensity: float = 1.0,
        seed: int | None = 0,
        blink: bool = True,
        motion: float = 1.0,
    ) -> None:
        if not isinstance(portrait, Portrait):
            portrait = load_portrait(portrait, width, height)
        self.portrait = portrait
        self.width, self.height = portrait.width, portrait.height
        self.fps = fps
        self.sample_rate = sample_rate
        self.compositor = Compositor(portrait)
        self.animator = Animator(fps, seed=seed, blink=blink, motion=motion, emotion=emotion,
                                 intensity=intensity)
        self.tracker = MouthTracker(fps)
        self.analyzer = SpectrumAnalyzer(sample_rate)
        self._frame = 0
        self.mouth = MouthShape()
        bg = parse_background(background)
        self._layers = self.compositor.build_layers(bg)

    @property
    def background(self) -> Background:
        return self._layers.background

    @property
    def frame_index(self) -> int:
        return self._frame

    @property
    def emotion(self) -> tuple[str, float]:
        return self.animator.emotion, self.animator.intensity

    def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        """Ease toward an emotion (:class:`UsageError` for unknown names)."""
        self.animator.set_emotion(name, intensity)

    def prepare_background(self, spec: str | Background | None) -> Layers:
        """Parse and precompute a background (safe to run in a worker thread)."""
        layers = self.compositor.build_layers(parse_background(spec))
        self.compositor.warm(layers)
        return layers

    def apply_background(self, layers: Layers) -> None:
        """Switch to prepared layers (instant)."""
        self._layers = layers

    def set_background(self, spec: str | Background | None) -> None:
        """Parse, precompute and switch in one call (blocking, tens of ms)."""
        self.apply_background(self.compositor.build_layers(parse_background(spec)))

    def warm(self) -> None:
        """Precompute every head-pose crop of the current background."""
        self.compositor.warm(self._layers)

    def interrupt(self) -> None:
        """Close the mouth on the next frame (audio was dropped)."""
        self.tracker.reset()
        self.mouth = MouthShape()

    def analyze(self, samples: np.ndarray | None) -> ChunkFeatures | None:
        return None if samples is None or samples.size == 0 else self.analyzer.analyze(samples)

    def render(self, samples: np.ndarray | None = None) -> RenderedFrame:
        """Draw the next frame for the audio ``samples`` playing during it."""
        features = self.analyze(samples)
        self.mouth = self.tracker.update(features)
        anim = self.animator.step(speaking=self.mouth.open)
        state = FaceState(anim.pose_index, self.mouth, anim.expression, anim.blink)
        buf = bytearray(self.width * self.height * 4)
        out = np.frombuffer(buf, np.uint8).reshape(self.height, self.width, 4)
        self.compositor.render(self._layers, state, out)
        frame = RenderedFrame(self._frame, buf, self.width, self.height, state, features)
        self._frame += 1
        return frame
