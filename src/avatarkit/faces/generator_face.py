"""``GeneratorFace``: a self-hosted face around any LiveKit ``VideoGenerator``.

Subclass it and implement :meth:`GeneratorFace.make_generator`: in a LiveKit room the
generator runs under LiveKit's own ``AvatarRunner`` (published as the agent's video and
audio); without a room (``avatarkit demo``, the playground, the kit) it runs under
:class:`GeneratorSinkRunner`, paced in real time into the transport's media sink. This is
the template for "a custom face on my own GPU" (docs/plugins.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

from ..errors import FaceStartError
from ..face import Face
from ..transports.base import Transport


class GeneratorSinkRunner:
    """``AvatarRunner`` without a room: agent audio into the generator, its frames into a
    media sink at ``fps`` real-time deadlines, playback reported back to the receiver."""

    def __init__(self, *, audio_recv: Any, video_gen: Any, sink: Any, fps: float) -> None:
        self._recv = audio_recv
        self._gen = video_gen
        self._sink = sink
        self._fps = fps
        self._playing = False
        self._position = 0.0
        self._started_at = 0.0  # wall clock of the segment's first audio frame
        self._segment = 0  # bumped by clear_buffer: a pending "finished" is then stale
        self._tasks: list[asyncio.Task[None]] = []
        self.error: BaseException | None = None

    async def start(self) -> None:
        self._recv.on("clear_buffer", self._on_clear_buffer)
        self._tasks = [asyncio.create_task(self._read_audio(), name="avatarkit-gen-audio"),
                       asyncio.create_task(self._forward(), name="avatarkit-gen-video")]
        for task in self._tasks:
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self.error is None:
            self.error = task.exception()

    async def _read_audio(self) -> None:
        from livekit import rtc

        async for frame in self._recv:
            if isinstance(frame, rtc.AudioFrame):
                self._playing = True
            await self._gen.push_audio(frame)

    async def _forward(self) -> None:
        from livekit import rtc
        from livekit.agents.voice.avatar import AudioSegmentEnd

        t0 = time.monotonic()
        frames = 0
        async for item in self._gen:
            media_time = frames / self._fps
            if isinstance(item, AudioSegmentEnd):
                # an end before any audio of the segment played is stale (a flush of an
                # empty or discarded segment): reporting it would tell LiveKit this speech
                # has played, and an interruption would then never reach clear_buffer
                if self._playing and self._position > 0:
                    # a generator may yield audio faster than real time: the segment has
                    # played only when the sink's clock reaches its end (until then an
                    # interruption must still reach clear_buffer)
                    delay = self._started_at + self._position - time.monotonic()
                    asyncio.get_running_loop().call_later(
                        max(0.0, delay), self._finished, self._segment, self._position)
            elif isinstance(item, rtc.AudioFrame):
                if self._position == 0.0 and item.duration > 0:
                    self._started_at = time.monotonic()
                    self._recv.notify_playback_started()
                self._position += item.duration
                await self._sink.push_audio(item, media_time)
            else:
                await asyncio.sleep(max(0.0, t0 + media_time - time.monotonic()))
                await self._sink.push_video(item, media_time)
                frames += 1

    def _finished(self, segment: int, position: float) -> None:
        if self._playing and segment == self._segment:
            self._playing = False
            self._segment += 1
            self._recv.notify_playback_finished(playback_position=position, interrupted=False)
            self._position = 0.0

    def _on_clear_buffer(self) -> None:
        self._segment += 1
        result = self._gen.clear_buffer()
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
        if self._playing:
            self._playing = False
            self._recv.notify_playback_finished(playback_position=self._position,
                                                interrupted=True)
            self._position = 0.0

    async def aclose(self) -> None:
        self._recv.off("clear_buffer", self._on_clear_buffer)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)


class GeneratorFace(Face):
    """Base of a self-hosted face: ``make_generator`` returns a LiveKit ``VideoGenerator``
    (``push_audio``, ``clear_buffer``, ``__aiter__`` of video/audio frames and
    ``AudioSegmentEnd``), optionally with an ``aclose()`` that stops your renderer.

    ``width``/``height``/``fps``/``sample_rate`` size the published tracks.
    """

    width: ClassVar[int] = 512
    height: ClassVar[int] = 512
    fps: ClassVar[float] = 25.0
    sample_rate: ClassVar[int] = 24000

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.generator: Any = None
        self._runner: Any = None
        self._watch: asyncio.Future[Any] | None = None
        self._closed = False

    async def make_generator(self) -> Any:
        """Start your renderer and return its ``VideoGenerator``."""
        raise NotImplementedError(f"face '{self.name}' must implement make_generator()")

    async def start(self, session: Any, transport: Transport) -> None:
        from livekit.agents.voice.avatar import AvatarOptions, AvatarRunner, QueueAudioOutput

        if self._closed:
            raise FaceStartError(f"face '{self.name}' was closed; create a new one")
        room = transport.room
        sink = None if room is not None else transport.media_sink()
        if room is None and sink is None:
            raise FaceStartError(f"face '{self.name}' needs a LiveKit room or a media sink; "
                                 f"the {transport.name} transport has neither")
        self.generator = await self.make_generator()
        queue = QueueAudioOutput(sample_rate=self.sample_rate)
        if room is not None:
            self._runner = AvatarRunner(room, audio_recv=queue, video_gen=self.generator,
                                        options=AvatarOptions(
                                            video_width=self.width, video_height=self.height,
                                            video_fps=self.fps, audio_channels=1,
                                            audio_sample_rate=self.sample_rate))
        else:
            self._runner = GeneratorSinkRunner(audio_recv=queue, video_gen=self.generator,
                                               sink=sink, fps=self.fps)
        await self._runner.start()
        if room is not None:
            self._watch = asyncio.ensure_future(self._runner.wait_for_complete())
            self._watch.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        session.output.replace_audio_tail(queue)

    def failure(self) -> BaseException | None:
        error = getattr(self._runner, "error", None)
        if error is not None:
            return error
        watch = self._watch
        if watch is not None and watch.done() and not watch.cancelled():
            return watch.exception() or RuntimeError("the avatar runner stopped")
        return None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.aclose()
        close = getattr(self.generator, "aclose", None)
        if close is not None:
            await close()
