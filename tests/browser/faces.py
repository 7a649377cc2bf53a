"""A tiny self-hosted face for transport tests: flat colour per emotion at 25 fps into the
transport's media sink, agent audio played in real time into the same sink."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from avatarkit.errors import FaceStartError
from avatarkit.face import EMOTIONS, Face

COLOURS = {"neutral": (90, 90, 90), "happy": (240, 200, 40), "sad": (40, 60, 160),
           "concerned": (120, 80, 160), "surprised": (240, 90, 200), "angry": (200, 30, 30)}


class ColourFace(Face):
    """Renders a 256x256 frame whose colour is the emotion (and a band while speaking).

    ``ColourFace.instances`` keeps every face made, to check they are all closed."""

    instances: ClassVar[list[ColourFace]] = []

    name: ClassVar[str] = "colour"
    summary: ClassVar[str] = "test face: colour per emotion"
    emotions: ClassVar[tuple[str, ...]] = EMOTIONS
    supports_background: ClassVar[bool] = True

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.emotion = "neutral"
        self.background = (0, 0, 0)
        self._task: asyncio.Task[None] | None = None
        self._output: Any = None
        self.frames = 0
        self.closed = False
        ColourFace.instances.append(self)

    async def start(self, session: Any, transport: Any) -> None:
        from avatarkit.transports.file import MediaClock, PacedAudioOutput

        sink = transport.media_sink()
        if sink is None:
            raise FaceStartError("no media sink")
        self._clock = MediaClock()
        self._output = PacedAudioOutput(sink, self._clock)
        session.output.audio = self._output
        self._task = asyncio.create_task(self._render(sink))

    async def _render(self, sink: Any) -> None:
        import numpy as np
        from livekit import rtc

        size = 256
        next_at = self._clock.now()
        while True:
            img = np.zeros((size, size, 4), np.uint8)
            img[..., :3] = self.background
            img[32:-32, 32:-32, :3] = COLOURS.get(self.emotion, (255, 255, 255))
            if self._output is not None and self._output._segment_open:
                img[-24:, :, :3] = 255
            img[..., 3] = 255
            frame = rtc.VideoFrame(size, size, rtc.VideoBufferType.RGBA, img.tobytes())
            await sink.push_video(frame, next_at)
            self.frames += 1
            next_at += 0.04
            await asyncio.sleep(max(0.0, next_at - self._clock.now()))

    async def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        self.emotion = name

    def shown(self) -> dict[str, Any]:
        return {"emotion": self.emotion}

    async def set_background(self, background: str) -> None:
        text = background.lstrip("#")
        self.background = tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[assignment]

    async def aclose(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._output is not None:
            await self._output.aclose()
            self._output = None


def null_brain_class() -> Any:
    """A brain with an LLM nobody calls and no STT: sessions start and idle (fast tests)."""
    from avatarkit.brain import Brain, BrainParts

    class NullBrain(Brain):
        name = "null-test"
        summary = "test brain: no STT, an LLM that is never called"

        def build(self) -> BrainParts:
            from avatarkit.brains.openai_compat import openai_compatible_llm

            return BrainParts(llm=openai_compatible_llm(base_url="http://127.0.0.1:9/v1",
                                                        model="x"))

    return NullBrain


def colour_plan(brain_cls: Any = None) -> Any:
    """A Plan: ``brain_cls`` (default the null brain), ColourFace, then audio-only none."""
    from avatarkit.composer import FaceSpec, Plan
    from avatarkit.config import load_config
    from avatarkit.faces.none import NoneFace

    brain_cls = brain_cls or null_brain_class()
    cfg = load_config(environ={})
    return Plan(cfg, brain_cls, brain_cls.parse_options(None),
                (FaceSpec(ColourFace, ColourFace.parse_options(None)),
                 FaceSpec(NoneFace, NoneFace.parse_options(None))))
