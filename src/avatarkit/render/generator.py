"""``PortraitVideoGenerator``: the renderer as a LiveKit ``VideoGenerator``.

Agent audio is re-chunked to one video frame's worth (40 ms at 25 fps): every yielded video
frame is followed by exactly the audio that plays with it, so A/V stay in sync by
construction. ``AudioSegmentEnd`` is yielded once the segment's last chunk has been handed
out (before the next frame). With no audio, idle frames (blinks, head motion) come out at
the consumer's pace.

Pacing: like LiveKit's own example generators this one is consumer-paced. Under
``AvatarRunner`` the ``AVSynchronizer`` (bounded video queue + ``AudioSource`` queue) pulls
at the frame rate; when no audio is buffered ``__anext__`` waits up to half a frame for
some before drawing an idle frame. :class:`~.offroom_runner.SinkAvatarRunner` instead calls
:meth:`PortraitVideoGenerator.step` once per frame at real-time deadlines.

Interruptions: :meth:`clear_buffer` drops buffered audio and anything not yet handed out
and resets the mouth, so the next item is a frame with the mouth closed. The caller
(``AvatarRunner`` / our runner) reports the playback position it counted.
:meth:`pause`/:meth:`resume` hold the audio (idle frames meanwhile); :class:`FaceAudioOutput`
exposes them to ``AgentSession`` so false interruptions can be resumed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd, QueueAudioOutput, VideoGenerator
from livekit.agents.voice.io import AudioOutputCapabilities

from .renderer import PortraitRenderer, RenderedFrame

Item = rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd


@dataclass
class SegmentMetrics:
    """One agent audio segment as the face saw it."""

    pushed_at: float  # clock time its first audio frame reached the generator
    first_frame_latency: float | None = None  # seconds until the first frame showing it
    played: float = 0.0  # seconds of its audio handed out with video frames
    interrupted: bool = False


@dataclass
class FaceMetrics:
    """Per-segment latency figures (the composer prints ``last_first_frame_latency``)."""

    segments: list[SegmentMetrics] = field(default_factory=list)
    frames: int = 0
    max_segments: int = 1000

    @property
    def first_frame_latency(self) -> list[float]:
        """Latency from a segment's first audio to its first lip-synced frame, per segment."""
        return [s.first_frame_latency for s in self.segments if s.first_frame_latency is not None]

    @property
    def last_first_frame_latency(self) -> float | None:
        values = self.first_frame_latency
        return values[-1] if values else None

    def add(self, seg: SegmentMetrics) -> None:
        self.segments.append(seg)
        if len(self.segments) > self.max_segments:
            del self.segments[: len(self.segments) - self.max_segments]


@dataclass
class FrameBundle:
    """What one frame slot carries: segment ends first, then the video frame and its audio."""

    ends_before: int
    video: rtc.VideoFrame
    audio: rtc.AudioFrame | None
    audio_duration: float  # real (unpadded) seconds of audio in ``audio``
    rendered: RenderedFrame


class _Start:
    """Marks where a segment's audio begins in the buffer."""

    __slots__ = ("segment",)

    def __init__(self, segment: SegmentMetrics) -> None:
        self.segment = segment


class PortraitVideoGenerator(VideoGenerator):
    """Lip-synced talking-portrait frames for agent audio (see the module notes)."""

    def __init__(self, renderer: PortraitRenderer, *, idle_wait: float | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.renderer = renderer
        self.fps = renderer.fps
        self.sample_rate = renderer.sample_rate
        self.width, self.height = renderer.width, renderer.height
        self.metrics = FaceMetrics()
        self._idle_wait = 0.5 / self.fps if idle_wait is None else idle_wait
        self._clock = clock
        self._buf: deque[np.ndarray | _Start | AudioSegmentEnd] = deque()
        self._buffered = 0
        self._ends = 0
        self._pending: deque[Item] = deque()
        self._resampler: rtc.AudioResampler | None = None
        self._resampler_rate = 0
        self._segment_open = False
        self._current: SegmentMetrics | None = None
        self._chunks = 0
        self._event: asyncio.Event | None = None
        self._cleared = False
        self._closed = False
        self._paused = False
        self.playback_position = 0.0
        """Seconds of the current segment's audio handed out so far."""

    # -- VideoGenerator ----------------------------------------------------------------

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        """Queue agent audio (any rate/channels) or the end of a segment."""
        self.push_audio_nowait(frame)

    def push_audio_nowait(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        if isinstance(frame, AudioSegmentEnd):
            self._append_samples(self._flush_resampler())
            self._buf.append(frame)
            self._ends += 1
            self._segment_open = False
        else:
            if not self._segment_open:
                self._segment_open = True
                seg = SegmentMetrics(pushed_at=self._clock())
                self.metrics.add(seg)
                self._buf.append(_Start(seg))
            self._append_samples(self._convert(frame))
        if self._event is not None:
            self._event.set()

    def clear_buffer(self) -> None:
        """Drop queued audio (interruption): the next frame shows a closed mouth."""
        for item in self._buf:
            if isinstance(item, _Start):
                item.segment.interrupted = True
        if self._current is not None:
            self._current.interrupted = True
            self._current = None
        self._buf.clear()
        self._buffered = 0
        self._ends = 0
        self._pending.clear()
        self._resampler = None
        self._segment_open = False
        self._paused = False
        self.playback_position = 0.0
        self.renderer.interrupt()
        self._cleared = True
        if self._event is not None:
            self._event.set()

    def __aiter__(self) -> AsyncIterator[Item]:
        return self

    async def __anext__(self) -> Item:
        if self._pending:
            return self._pending.popleft()
        if self._closed:
            raise StopAsyncIteration
        if not self.ready() and self._idle_wait > 0:
            await self._wait_audio(self._idle_wait)
            if self._closed:
                raise StopAsyncIteration
        b = self.step()
        items: list[Item] = [AudioSegmentEnd() for _ in range(b.ends_before)]
        items.append(b.video)
        if b.audio is not None:
            items.append(b.audio)
        self._pending.extend(items[1:])
        return items[0]

    async def aclose(self) -> None:
        """Stop the iterator (it raises ``StopAsyncIteration``)."""
        self._closed = True
        if self._event is not None:
            self._event.set()

    # -- frames ------------------------------------------------------------------------

    def _samples_for(self, k: int) -> int:
        return round((k + 1) * self.sample_rate / self.fps) - round(k * self.sample_rate / self.fps)

    def ready(self) -> bool:
        """A full frame of audio (or a segment end) is buffered and playback is not paused."""
        if self._paused:
            return False
        return self._ends > 0 or self._buffered >= self._samples_for(self._chunks)

    def pause(self) -> None:
        """Hold the audio (idle frames, mouth closing) until :meth:`resume`."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        if self._event is not None:
            self._event.set()

    def step(self) -> FrameBundle:
        """Produce the next frame slot now (no waiting): used by real-time runners."""
        self._cleared = False
        ends = 0
        while not self._paused and self._buf and isinstance(self._buf[0], AudioSegmentEnd):
            self._buf.popleft()
            self._ends -= 1
            ends += 1
            if self._current is not None:
                self._current.played = self.playback_position
                self._current = None
            self.playback_position = 0.0
        need = self._samples_for(self._chunks)
        chunk: np.ndarray | None = None
        started: SegmentMetrics | None = None
        if self.ready():
            chunk, started = self._take(need)
        rendered = self.renderer.render(chunk)
        video = rtc.VideoFrame(self.width, self.height, rtc.VideoBufferType.RGBA, rendered.buffer)
        self.metrics.frames += 1
        if started is not None:
            started.first_frame_latency = self._clock() - started.pushed_at
            self._current = started
        audio: rtc.AudioFrame | None = None
        duration = 0.0
        if chunk is not None:
            real = chunk.size
            if real < need:
                chunk = np.concatenate([chunk, np.zeros(need - real, np.int16)])
            audio = rtc.AudioFrame(chunk.tobytes(), self.sample_rate, 1, need)
            duration = real / self.sample_rate
            self.playback_position += duration
            if self._current is not None:
                self._current.played = self.playback_position
            self._chunks += 1
        return FrameBundle(ends, video, audio, duration, rendered)

    def _take(self, need: int) -> tuple[np.ndarray | None, SegmentMetrics | None]:
        parts: list[np.ndarray] = []
        got = 0
        started: SegmentMetrics | None = None
        while got < need and self._buf:
            item = self._buf[0]
            if isinstance(item, AudioSegmentEnd):
                break
            if isinstance(item, _Start):
                self._buf.popleft()
                started = item.segment
                continue
            take = min(need - got, item.size)
            parts.append(item[:take])
            if take == item.size:
                self._buf.popleft()
            else:
                self._buf[0] = item[take:]
            got += take
        self._buffered -= got
        if got == 0:
            # a segment start with no audio yet stays queued; one with none at all (an
            # empty segment) is dropped so its end can come out
            if started is not None and not (self._buf
                                            and isinstance(self._buf[0], AudioSegmentEnd)):
                self._buf.appendleft(_Start(started))
            return None, None
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)), started

    async def _wait_audio(self, timeout: float) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.ready() and not self._closed and not self._cleared:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except asyncio.TimeoutError:
                return

    # -- audio conversion --------------------------------------------------------------

    def _append_samples(self, samples: np.ndarray | None) -> None:
        if samples is not None and samples.size:
            self._buf.append(samples)
            self._buffered += int(samples.size)

    def _convert(self, frame: rtc.AudioFrame) -> np.ndarray | None:
        data = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            data = data.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        if frame.sample_rate == self.sample_rate:
            self._resampler = None
            return data.copy()
        if self._resampler is None or self._resampler_rate != frame.sample_rate:
            tail = self._flush_resampler()
            self._append_samples(tail)
            self._resampler = rtc.AudioResampler(frame.sample_rate, self.sample_rate,
                                                 num_channels=1)
            self._resampler_rate = frame.sample_rate
        mono = rtc.AudioFrame(data.tobytes(), frame.sample_rate, 1, data.size)
        out = [np.frombuffer(f.data, dtype=np.int16) for f in self._resampler.push(mono)]
        return np.concatenate(out) if out else None

    def _flush_resampler(self) -> np.ndarray | None:
        if self._resampler is None:
            return None
        out = [np.frombuffer(f.data, dtype=np.int16) for f in self._resampler.flush()]
        self._resampler = None
        return np.concatenate(out) if out else None

    # -- run-time control ----------------------------------------------------------------

    def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        self.renderer.set_emotion(name, intensity)

    async def set_background(self, spec: Any) -> None:
        """Prepare the new background off the event loop, then switch instantly."""
        layers = await asyncio.to_thread(self.renderer.prepare_background, spec)
        self.renderer.apply_background(layers)


class FaceAudioOutput(QueueAudioOutput):
    """``QueueAudioOutput`` that can pause: holds the generator's audio (false interruptions).

    With it ``AgentSession`` can pause the avatar on a possible interruption and resume it
    when the user turns out not to be speaking (``resume_false_interruption``).
    """

    def __init__(self, generator: PortraitVideoGenerator, *, sample_rate: int | None = None,
                 wait_playback_start: bool = True, pausable: bool = True) -> None:
        super().__init__(sample_rate=sample_rate, wait_playback_start=wait_playback_start)
        self._generator = generator
        self._capabilities = AudioOutputCapabilities(pause=pausable)

    def pause(self) -> None:
        if self._capabilities.pause:
            self._generator.pause()

    def resume(self) -> None:
        self._generator.resume()
