"""``SinkAvatarRunner``: what ``AvatarRunner`` does, for transports without a LiveKit room.

It reads agent audio from an ``AudioReceiver`` (our ``QueueAudioOutput``) into the
generator and, once per frame at real-time deadlines, hands the sink the video frame and the
audio that plays with it, both stamped with their media time (seconds since the first
frame). Playback is reported back to the receiver exactly like ``AvatarRunner`` does:
``notify_playback_started()`` when a segment's first audio goes out,
``notify_playback_finished(position, interrupted=False)`` when its end has played and,
on ``clear_buffer``, ``notify_playback_finished(position, interrupted=True)`` with the
position actually played (wall clock since the segment started, capped by what was sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.agents.voice.avatar import AudioReceiver

from ..media import MediaSink
from .generator import PortraitVideoGenerator

log = logging.getLogger("avatarkit.render")


class SinkAvatarRunner:
    """Drive ``video_gen`` in real time and deliver its media to ``sink``."""

    def __init__(
        self,
        *,
        audio_recv: AudioReceiver,
        video_gen: PortraitVideoGenerator,
        sink: MediaSink,
        clock: Callable[[], float] = time.monotonic,
        max_lag: float = 0.25,
    ) -> None:
        self._recv = audio_recv
        self._gen = video_gen
        self._sink = sink
        self._clock = clock
        self._max_lag = max_lag
        self._playing = False  # audio of a segment was received and not reported finished
        self._position = 0.0  # seconds of the current segment sent to the sink
        self._seg_start: float | None = None  # clock time its first audio was due
        self._tasks: set[asyncio.Task[Any]] = set()
        self._read_task: asyncio.Task[None] | None = None
        self._forward_task: asyncio.Task[None] | None = None
        self.frames_sent = 0
        self.media_time = 0.0
        self.error: BaseException | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        """Start reading audio and delivering frames."""
        await self._recv.start()
        self._recv.on("clear_buffer", self._on_clear_buffer)
        self._read_task = asyncio.create_task(self._read_audio(), name="avatarkit-face-audio")
        self._forward_task = asyncio.create_task(self._forward(), name="avatarkit-face-video")
        for task in (self._read_task, self._forward_task):
            task.add_done_callback(self._on_task_done)

    @property
    def running(self) -> bool:
        return self._forward_task is not None and not self._forward_task.done()

    async def wait_for_complete(self) -> None:
        """Return when the runner stops (its tasks end or fail)."""
        if self._read_task is None or self._forward_task is None:
            raise RuntimeError("SinkAvatarRunner not started")
        await asyncio.gather(self._read_task, self._forward_task)

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        self.error = task.exception()
        log.error("local face runner failed", exc_info=self.error)
        if self._playing:  # never leave the agent waiting for a playout that cannot end
            self._playing = False
            self._notify(self._recv.notify_playback_finished(
                playback_position=self.played_position(), interrupted=True))

    async def _read_audio(self) -> None:
        async for frame in self._recv:
            if isinstance(frame, rtc.AudioFrame):
                self._playing = True
            # our generator takes audio synchronously: no await between receiving a frame
            # and queueing it, so clear_buffer can never slip in between
            self._gen.push_audio_nowait(frame)

    async def _forward(self) -> None:
        fps = self._gen.fps
        t0 = self._clock()
        n = 0
        while not self._stop.is_set():
            due = t0 + n / fps
            delay = due - self._clock()
            if delay > 0:
                # sleep until the frame is due, or until aclose() asks us to stop; stopping
                # only here means a close never abandons a frame half-delivered to the sink
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                if self._stop.is_set():
                    break
            elif -delay > self._max_lag:
                log.debug("local face fell %.0f ms behind; catching up", -delay * 1000)
                t0 += -delay
                due = t0 + n / fps
            bundle = self._gen.step()
            for _ in range(bundle.ends_before):
                self._segment_finished()
            ts = n / fps
            await self._sink.push_video(bundle.video, ts)
            if bundle.audio is not None:
                if self._position == 0.0 and bundle.audio_duration > 0.0:
                    self._seg_start = due
                    self._notify(self._recv.notify_playback_started())
                await self._sink.push_audio(bundle.audio, ts)
                self._position += bundle.audio_duration
            n += 1
            self.frames_sent = n
            self.media_time = n / fps

    def _segment_finished(self) -> None:
        if self._playing:
            self._notify(self._recv.notify_playback_finished(
                playback_position=self._position, interrupted=False))
        self._playing = False
        self._position = 0.0
        self._seg_start = None

    def played_position(self) -> float:
        """Seconds of the current segment actually played by now."""
        if self._seg_start is None:
            return 0.0
        return max(0.0, min(self._position, self._clock() - self._seg_start))

    def _on_clear_buffer(self) -> None:
        playing = self._playing
        position = self.played_position()
        self._gen.clear_buffer()
        self._playing = False
        self._position = 0.0
        self._seg_start = None
        if playing:
            self._notify(self._recv.notify_playback_finished(
                playback_position=position, interrupted=True))

    def _notify(self, result: Any) -> None:
        if asyncio.iscoroutine(result):
            task = asyncio.create_task(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop delivering (between frames, never mid-delivery); safe to call more than once."""
        with contextlib.suppress(Exception):
            self._recv.off("clear_buffer", self._on_clear_buffer)
        self._stop.set()
        if self._forward_task is not None and not self._forward_task.done():
            await asyncio.wait([self._forward_task], timeout=2.0)
        tasks = [t for t in (self._forward_task, self._read_task, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        self._tasks.clear()
        await self._gen.aclose()
        with contextlib.suppress(Exception):
            await self._recv.aclose()
