"""The browser's microphone as the session's audio input (aiortc track in, 16 kHz out)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from livekit import rtc
from livekit.agents.voice import io

from .timeline import LOUD_RMS, rms

IN_RATE = 16000
IN_FRAME = IN_RATE // 100  # 10 ms
MAX_INPUT_BACKLOG = 3000  # 30 s of 10 ms frames queued before the session reads them
GONE_AFTER = 10.0
"""Seconds without mic audio after which the page counts as gone. A browser sends audio
packets all the time (silence too, and while the page's mute box is ticked); only a page
that vanished without a goodbye stops, and ICE would notice that after ~30 s."""


class BrowserAudioInput(io.AudioInput):
    """The browser's mic as the session's audio input: 16 kHz mono, 10 ms frames.

    Frames that arrive before the session reads them are queued (up to 30 s), so nothing
    said while the session starts is lost. ``on_speech_end`` gets a mark each time loud
    input is followed by 0.35 s of quiet; ``on_gone`` gets :data:`GONE_AFTER` (read when
    the input is made) once if no audio comes for that long after the first (the mic's
    reading then stops).
    """

    def __init__(self, on_speech_end: Callable[[float], None] | None = None, *,
                 on_gone: Callable[[float], None] | None = None) -> None:
        super().__init__(label="avatarkit-browser-mic")
        self._on_gone = on_gone
        self._gone_after = GONE_AFTER
        self._queue: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._on_speech_end = on_speech_end
        self._closed = False
        self.frames = 0
        self.loud_frames = 0
        self.peak_rms = 0.0
        self.dropped = 0
        self._loud_run = 0
        self._last_loud: float | None = None
        self._speaking = False
        self._last_frame = 0.0  # time.monotonic() of the track's last frame
        self._gone = False

    def start(self, track: MediaStreamTrack) -> None:
        """Read ``track`` (the remote mic) until it ends."""
        if self._task is None:
            self._task = asyncio.create_task(self._read(track), name="avatarkit-browser-mic")

    async def _read(self, track: MediaStreamTrack) -> None:
        """Frames are awaited straight from the track: when several wait in its queue they
        are taken in one go. (A per-frame ``asyncio.wait_for`` costs a task and loop turns
        per 20 ms frame; on a loop busy with 3 sessions the mic then fell up to 2.7 s
        behind the packets that had arrived, which delayed the VAD's end of speech.)
        :meth:`_watch_gone` keeps the "no audio" timeout."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=IN_RATE)
        pending = np.zeros(0, dtype=np.int16)
        watch: asyncio.Task[None] | None = None
        try:
            while not self._closed:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    break
                self._last_frame = time.monotonic()
                if watch is None:
                    watch = asyncio.create_task(self._watch_gone(asyncio.current_task()))
                chunks = [pending]
                for out in resampler.resample(frame):  # type: ignore[arg-type]
                    chunks.append(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
                pending = np.concatenate(chunks)
                while len(pending) >= IN_FRAME:
                    self._emit(pending[:IN_FRAME])
                    pending = pending[IN_FRAME:]
        except asyncio.CancelledError:
            if not self._gone:  # else _watch_gone stopped the reading: end as a track end does
                raise
        finally:
            if watch is not None:
                watch.cancel()
            self._queue.put_nowait(None)

    async def _watch_gone(self, reader: asyncio.Task[Any] | None) -> None:
        """Once no frame came for :data:`GONE_AFTER` s: tell ``on_gone`` and stop ``reader``."""
        while True:
            silent = time.monotonic() - self._last_frame
            if silent >= self._gone_after:
                break
            await asyncio.sleep(self._gone_after - silent)
        self._gone = True
        if self._on_gone is not None:
            self._on_gone(self._gone_after)
        if reader is not None:
            reader.cancel()

    def _emit(self, chunk: np.ndarray) -> None:
        now = time.monotonic()
        self.frames += 1
        level = rms(chunk)
        self.peak_rms = max(self.peak_rms, level)
        if level >= LOUD_RMS:
            self.loud_frames += 1
            self._loud_run += 1
            self._last_loud = now
            if self._loud_run >= 15:  # 150 ms of speech
                self._speaking = True
        else:
            self._loud_run = 0
            if self._speaking and self._last_loud is not None and now - self._last_loud >= 0.35:
                self._speaking = False
                if self._on_speech_end is not None:
                    self._on_speech_end(self._last_loud)
        if self._queue.qsize() >= MAX_INPUT_BACKLOG:
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(rtc.AudioFrame(chunk.tobytes(), IN_RATE, 1, IN_FRAME))

    def __aiter__(self) -> AsyncIterator[rtc.AudioFrame]:
        return self

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        frame = await self._queue.get()
        if frame is None:
            self._closed = True
            raise StopAsyncIteration
        return frame

    async def aclose(self) -> None:
        self._closed = True
        self._queue.put_nowait(None)
        if self._task is not None:
            self._task.cancel()
            # wait without suppressing CancelledError: ours (Ctrl-C) must not be swallowed
            await asyncio.wait([self._task])
            if not self._task.cancelled() and self._task.exception() is not None:
                raise self._task.exception()  # type: ignore[misc]

    def stats(self) -> dict[str, Any]:
        return {"frames": self.frames, "loud_frames": self.loud_frames,
                "peak_rms": round(self.peak_rms, 4), "dropped": self.dropped}
