'''The face module ``avatarkit plugin new --kind face`` writes (a template: ``{name}``,
``{module}``, ``{cls}`` are filled in).'''

FACE_MODULE = '''"""{name}: a self-hosted avatarkit face (made by `avatarkit plugin new`).

`BarGenerator` is a LiveKit `VideoGenerator`: it gets the agent's audio and yields video
frames (a mouth bar that opens with the voice) with the audio that plays with each frame.
Replace its `_render` with a call to your own renderer (a model on your GPU, a server):
`GeneratorFace` runs it in a LiveKit room, or off-room into the transport's media sink.

Only the public API is used (`avatarkit.plugin`); nothing heavy is imported at module level.
"""

from __future__ import annotations

import array
import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from pydantic import Field

from avatarkit.plugin import GeneratorFace, PartOptions, hookimpl


class BarGenerator:
    """A LiveKit `VideoGenerator`: one video frame per 1/fps s, each with its audio."""

    def __init__(self, *, width: int, height: int, fps: float, sample_rate: int,
                 colour: tuple[int, int, int]) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.sample_rate = sample_rate
        self.colour = colour
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
        """One RGBA frame: a face-coloured square whose mouth opens with ``level`` (0-1)."""
        from livekit import rtc

        w, h = self.width, self.height
        face = bytes([*self.colour, 255])
        mouth = bytes([20, 20, 20, 255])
        plain = face * w
        opening = int(level * h * 0.3)
        top = h * 2 // 3 - opening // 2
        mouth_row = face * (w // 3) + mouth * (w - 2 * (w // 3)) + face * (w // 3)
        rows = [mouth_row if top <= y < top + opening else plain for y in range(h)]
        return rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, b"".join(rows))


def _level(pcm: bytes) -> float:
    """Loudness of 16-bit PCM, 0-1."""
    if not pcm:
        return 0.0
    samples = array.array("h", pcm)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return min(1.0, rms / 8000)


class {cls}(GeneratorFace):
    """{summary}"""

    name: ClassVar[str] = "{name}"
    summary: ClassVar[str] = (
        "{summary}"
    )
    width: ClassVar[int] = 256
    height: ClassVar[int] = 256

    class Options(PartOptions):
        colour: tuple[int, int, int] = Field((230, 180, 140), description="Face colour, RGB.")

    async def make_generator(self) -> BarGenerator:
        return BarGenerator(width=self.width, height=self.height, fps=self.fps,
                            sample_rate=self.sample_rate, colour=self.options.colour)


@hookimpl
def register_faces(register: Any) -> None:
    register({cls})
'''

FACE_TESTS = '''"""The avatarkit contract, checked by avatarkit.testing (offline)."""

from __future__ import annotations

from avatarkit.testing import (
    check_face_behaviour,
    check_face_fallback,
    check_face_lifecycle,
    check_import_cost,
    check_options,
)
from {module} import {cls}


def test_options() -> None:
    check_options({cls})


def test_import_cost() -> None:
    check_import_cost("{module}")


async def test_lifecycle() -> None:
    await check_face_lifecycle({cls})


async def test_speaks_and_stops_when_interrupted(avatarkit_kit_env) -> None:
    seen = await check_face_behaviour({cls})
    assert seen.video_frames > 10


async def test_reports_failure_and_falls_back(avatarkit_kit_env) -> None:
    await check_face_fallback({cls})
'''
