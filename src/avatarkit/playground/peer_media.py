"""Media from a session to one browser peer (aiortc): the outgoing tracks and the sink.

A face delivers frames and audio to a :class:`PeerMediaSink` with timestamps on its own
media clock. :class:`~.timeline.Playout` maps those timestamps onto the wall clock with a
small fixed delay, and both :class:`SinkVideoTrack` and :class:`SinkAudioTrack` hand media
to aiortc at exactly that wall time. aiortc's RTCP sender reports pair each RTP timestamp
with its send time, so the browser lines the two tracks up: lip sync survives the network.
The browser's microphone comes in through :mod:`.mic`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from aiortc import AudioStreamTrack, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from livekit import rtc

from .timeline import (
    AUDIO_PTIME,
    AUDIO_SAMPLES,
    LOUD_RMS,
    OUT_RATE,
    AudioTimeline,
    Playout,
    rms,
)

VIDEO_CLOCK = 90000
LATE_VIDEO = 0.4
"""Seconds a video frame may be late and still be sent; an older one is skipped while a
newer one waits. A stalled loop sends the frames it owes in a burst, as it sends the audio:
with the cores contended the browser's jitter buffers hold 0.3-0.5 s (the audio's worst
gaps, which the video waits for), so such a frame is still shown on time. At 0.1 s, three
sessions on 2 cores skipped 9-351 frames each in a run (4 runs; docs/performance.md)."""


@dataclass
class PeerTurnTiming:
    """Server-side marks of one turn (``time.monotonic()`` seconds).

    ``speech_end``: the browser's mic audio went quiet (as received here);
    ``first_audio``: when the first loud agent audio is released to the peer;
    ``first_frame``: when the first video frame shown with that audio is released.
    """

    speech_end: float
    first_audio: float | None = None
    first_frame: float | None = None

    @property
    def speech_end_to_first_frame(self) -> float | None:
        return None if self.first_frame is None else self.first_frame - self.speech_end

    @property
    def speech_end_to_first_audio(self) -> float | None:
        return None if self.first_audio is None else self.first_audio - self.speech_end


class SinkAudioTrack(AudioStreamTrack):
    """Agent audio to the browser: continuous 20 ms frames (silence between replies)."""

    kind = "audio"

    def __init__(self, timeline: AudioTimeline) -> None:
        super().__init__()
        self.timeline = timeline
        self._slot: int | None = None
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        origin = self.timeline.origin
        now = time.monotonic()
        if self._slot is None or now - (origin + self._slot * AUDIO_PTIME) > 0.5:
            self._slot = max(0, int((now - origin) / AUDIO_PTIME))  # start / catch up
        else:
            self._slot += 1
        wait = origin + self._slot * AUDIO_PTIME - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self.readyState != "live":
            raise MediaStreamError
        samples = self.timeline.read(self._slot)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = OUT_RATE
        frame.pts = self._slot * AUDIO_SAMPLES
        frame.time_base = Fraction(1, OUT_RATE)
        self.frames_sent += 1
        return frame


class PerSecond:
    """Events counted per consecutive second from the first one (``counts[k]``: those in
    second k), for a rate's history; the newest ``keep`` seconds are kept."""

    def __init__(self, keep: int = 3600) -> None:
        self.keep = keep
        self.first: float | None = None
        self.counts: list[int] = []
        self._dropped = 0  # seconds dropped from the front

    def count(self, now: float) -> None:
        if self.first is None:
            self.first = now
        k = int(now - self.first) - self._dropped
        if k >= len(self.counts):
            self.counts.extend([0] * (k + 1 - len(self.counts)))
        self.counts[k] += 1
        if len(self.counts) > self.keep:
            del self.counts[: len(self.counts) - self.keep]
            self._dropped = int(now - self.first) - len(self.counts) + 1


class SinkVideoTrack(VideoStreamTrack):
    """Avatar frames to the browser, each released at its playout time (pts from it)."""

    kind = "video"

    def __init__(self, origin: float, on_sent: Callable[[float], None] | None = None) -> None:
        super().__init__()
        self._origin = origin
        self._queue: asyncio.Queue[tuple[float, rtc.VideoFrame] | None] = asyncio.Queue()
        self._on_sent = on_sent
        self._last_pts = -1
        self.frames_sent = 0
        self.frames_dropped = 0
        self.sent_per_second = PerSecond()  # frames handed to aiortc in each second
        self.put_per_second = PerSecond()  # frames the face delivered in each second
        self.size: tuple[int, int] | None = None

    def put(self, due: float, frame: rtc.VideoFrame) -> None:
        self.put_per_second.count(time.monotonic())
        if self._queue.qsize() >= 50:  # nobody is reading (not connected yet): keep it small
            self._queue.get_nowait()
            self.frames_dropped += 1
        self._queue.put_nowait((due, frame))

    def stop(self) -> None:
        super().stop()
        self._queue.put_nowait(None)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        item = await self._queue.get()
        # Frames too late to be shown are skipped while a newer one waits: latency stays bounded.
        while item is not None and not self._queue.empty() \
                and time.monotonic() > item[0] + LATE_VIDEO:
            item = self._queue.get_nowait()
            self.frames_dropped += 1
        if item is None or self.readyState != "live":
            raise MediaStreamError
        due, frame = item
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        out = to_av_video(frame)
        pts = max(round((due - self._origin) * VIDEO_CLOCK), self._last_pts + 1)
        self._last_pts = pts
        out.pts = pts
        out.time_base = Fraction(1, VIDEO_CLOCK)
        self.frames_sent += 1
        self.sent_per_second.count(time.monotonic())
        self.size = (frame.width, frame.height)
        if self._on_sent is not None:
            self._on_sent(due)
        return out


def to_av_video(frame: rtc.VideoFrame) -> av.VideoFrame:
    """An ``rtc.VideoFrame`` (any buffer type, even size) as a yuv420p ``av.VideoFrame``."""
    i420 = frame if frame.type == rtc.VideoBufferType.I420 else frame.convert(
        rtc.VideoBufferType.I420)
    width, height = i420.width, i420.height
    data = np.frombuffer(i420.data, dtype=np.uint8)
    plane = width * height
    chroma = ((width + 1) // 2) * ((height + 1) // 2)
    if width % 2 or height % 2:
        raise ValueError(f"video frames must have an even size, got {width}x{height}")
    arr = data[: plane + 2 * chroma].reshape(height * 3 // 2, width)
    return av.VideoFrame.from_ndarray(arr, format="yuv420p")


class PeerMediaSink:
    """The :class:`~avatarkit.transports.base.MediaSink` of one peer: feeds both tracks.

    Also marks, per turn, when the first loud agent audio and the first video frame shown
    with it are released (server side of the latency figures).
    """

    def __init__(self, playout: Playout, timings: list[PeerTurnTiming]) -> None:
        self.playout = playout
        self.timings = timings
        self.timeline = AudioTimeline()
        self.video = SinkVideoTrack(self.timeline.origin, on_sent=self._video_sent)
        self.audio = SinkAudioTrack(self.timeline)
        self.video_frames = 0
        self.audio_seconds = 0.0
        self.audio_peak_rms = 0.0
        self._resamplers: dict[tuple[int, int], rtc.AudioResampler] = {}
        self._reply_audio_due: float | None = None

    async def push_video(self, frame: rtc.VideoFrame, timestamp: float) -> None:
        self.video_frames += 1
        self.video.put(self.playout.due(timestamp), frame)

    async def push_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None:
        due = self.playout.due(timestamp)
        samples = self._to_out_rate(frame)
        self.audio_seconds += frame.samples_per_channel / frame.sample_rate
        self.timeline.write(due, samples)
        level = rms(samples)
        self.audio_peak_rms = max(self.audio_peak_rms, level)
        if level >= LOUD_RMS and self.timings:
            turn = self.timings[-1]
            if turn.first_audio is None and due > turn.speech_end:
                turn.first_audio = due
                self._reply_audio_due = due
                if self.video_frames == 0:  # audio only: the audio is the first output
                    turn.first_frame = due

    def _video_sent(self, due: float) -> None:
        mark = self._reply_audio_due
        if mark is not None and due >= mark - 0.02 and self.timings:
            turn = self.timings[-1]
            if turn.first_frame is None or turn.first_frame == turn.first_audio:
                turn.first_frame = max(due, time.monotonic())
            self._reply_audio_due = None

    def _to_out_rate(self, frame: rtc.AudioFrame) -> np.ndarray:
        data = np.frombuffer(frame.data, dtype=np.int16)
        channels = frame.num_channels
        if frame.sample_rate != OUT_RATE:
            key = (frame.sample_rate, channels)
            resampler = self._resamplers.get(key)
            if resampler is None:
                resampler = self._resamplers[key] = rtc.AudioResampler(
                    frame.sample_rate, OUT_RATE, num_channels=channels)
            outs = resampler.push(frame)
            data = (np.concatenate([np.frombuffer(o.data, dtype=np.int16) for o in outs])
                    if outs else np.zeros(0, np.int16))
        if channels > 1:
            data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
        return data
