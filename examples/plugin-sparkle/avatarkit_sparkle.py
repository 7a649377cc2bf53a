"""sparkle: an example third-party avatarkit face, on the public API only.

A face that declares its capabilities (emotions, backgrounds, first-frame latency) and
honours them while running: `set_emotion` tints it, `set_background` changes the backdrop.
The rendering is a LiveKit `VideoGenerator` (`SparkleGenerator`) that `GeneratorFace` runs
in a LiveKit room, or off-room into the transport's media sink.

Install it (`pip install -e examples/plugin-sparkle`): `avatarkit plugins` lists it and
`avatarkit demo --face sparkle` runs it; `pytest examples/plugin-sparkle` runs avatarkit's
contract checks on it.
"""

from __future__ import annotations

import array
import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from pydantic import Field

from avatarkit.plugin import EMOTIONS, CapabilityError, GeneratorFace, PartOptions, hookimpl


class SparkleGenerator:
    """A LiveKit `VideoGenerator`: one video frame per 1/fps s, each with its audio."""

    def __init__(self, *, width: int, height: int, fps: float, sample_rate: int,
                 colour: tuple[int, int, int]) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.sample_rate = sample_rate
        self.colour = colour
        self.backdrop = (0, 0, 0)
        self._audio = bytearray()
        self._segment_ended = False

    async def push_audio(self, frame: Any) -> None:
        from livekit import rtc

        if isinstance(frame, rtc.AudioFrame):
            self._audio += frame.data.tobytes()
        else:  # AudioSegmentEnd: the reply is complete
            self._segment_ended = True

    def clear_buffer(self) -> None:
        """Interrupted: drop the audio not played yet (the mouth closes)."""
        self._audio.clear()
        self._segment_ended = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[Any]:
        from livekit import rtc
        from livekit.agents.voice.avatar import AudioSegmentEnd

        step = int(self.sample_rate / self.fps) * 2  # bytes of 16-bit mono audio per frame
        while True:
            chunk = bytes(self._audio[:step])
            del self._audio[:step]
            yield self._render(_level(chunk))
            if chunk:
                yield rtc.AudioFrame(chunk, self.sample_rate, 1, len(chunk) // 2)
            elif self._segment_ended:
                self._segment_ended = False
                yield AudioSegmentEnd()
            await asyncio.sleep(0)  # the runner paces the frames in real time

    def _render(self, level: float) -> Any:
        """One RGBA frame: a tinted face on the backdrop; its mouth opens with ``level``."""
        from livekit import rtc

        w, h = self.width, self.height
        face = bytes([*self.colour, 255])
        mouth = bytes([20, 20, 20, 255])
        back = bytes([*self.backdrop, 255]) * (w // 8)
        plain = back + face * (w - 2 * (w // 8)) + back
        opening = int(level * h * 0.3)
        top = h * 2 // 3 - opening // 2
        mouth_row = back + face * (w // 3 - w // 8) + mouth * (w - 2 * (w // 3)) \
            + face * (w // 3 - w // 8) + back
        rows = [mouth_row if top <= y < top + opening else plain for y in range(h)]
        return rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, b"".join(rows))


def _level(pcm: bytes) -> float:
    """Loudness of 16-bit PCM, 0-1."""
    if not pcm:
        return 0.0
    samples = array.array("h", pcm)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return min(1.0, rms / 8000)


TINTS = {"neutral": (230, 180, 140), "happy": (250, 200, 90), "sad": (140, 160, 210),
         "concerned": (200, 170, 190), "surprised": (250, 160, 200), "angry": (230, 90, 80)}
BACKDROPS = {"sunset": (250, 120, 60), "night": (20, 24, 60), "studio": (60, 60, 60)}


class SparkleFace(GeneratorFace):
    """A tinted face on a coloured backdrop: happy and on a sunset by default."""

    name: ClassVar[str] = "sparkle"
    summary: ClassVar[str] = "Example plugin: a tinted face per emotion, on a sunset backdrop."
    emotions: ClassVar[tuple[str, ...]] = EMOTIONS
    supports_background: ClassVar[bool] = True
    backgrounds: ClassVar[tuple[str, ...]] = tuple(BACKDROPS)
    first_frame_latency: ClassVar[float | None] = 0.1
    width: ClassVar[int] = 256
    height: ClassVar[int] = 256

    class Options(PartOptions):
        emotion: str = Field("happy", description="One of: " + ", ".join(EMOTIONS))
        background: str = Field("sunset", description="One of: " + ", ".join(BACKDROPS))

    async def make_generator(self) -> SparkleGenerator:
        gen = SparkleGenerator(width=self.width, height=self.height, fps=self.fps,
                               sample_rate=self.sample_rate, colour=TINTS["neutral"])
        self.generator = gen
        await self.set_emotion(self.options.emotion)
        await self.set_background(self.options.background)
        return gen

    async def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        if name not in TINTS:
            raise CapabilityError(f"face 'sparkle' has no emotion {name!r}",
                                  hint="one of: " + ", ".join(TINTS))
        if self.generator is not None:
            self.generator.colour = TINTS[name]

    async def set_background(self, background: str) -> None:
        if background not in BACKDROPS:
            raise CapabilityError(f"face 'sparkle' has no background {background!r}",
                                  hint="one of: " + ", ".join(BACKDROPS))
        if self.generator is not None:
            self.generator.backdrop = BACKDROPS[background]


@hookimpl
def register_faces(register: Any) -> None:
    register(SparkleFace)
