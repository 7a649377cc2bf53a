"""Media between a session and one browser peer (aiortc).

Outgoing: a face delivers frames and audio to a :class:`PeerMediaSink` with timestamps on
its own media clock. :class:`Playout` maps those timestamps onto the wall clock with a small
fixed delay, and both :class:`SinkVideoTrack` and :class:`SinkAudioTrack` hand media to
aiortc at exactly that wall time. aiortc's RTCP sender reports pair each RTP timestamp with
its send time, so the browser lines the two tracks up: lip sync survives the network.

Incoming: :class:`BrowserAudioInput` turns the browser's mic track into 16 kHz mono 10 ms
``rtc.AudioFrame`` s for the ``AgentSession`` and notes when the user stops speaking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from livekit import rtc
from livekit.agents.voice import io

OUT_RATE = 48000  # what goes to the Opus encoder (aiortc resamples for PCMU/G722)
AUDIO_PTIME = 0.02
AUDIO_SAMPLES = int(OUT_RATE * AUDIO_PTIME)
VIDEO_CLOCK = 90000
IN_RATE = 16000
IN_FRAME = IN_RATE // 100  # 10 ms
LOUD_RMS = 0.01  # -40 dBFS: "someone is speaking" for latency marks and checks
MAX_INPUT_BACKLOG = 3000  # 30 s of 10 ms frames queued before the session reads them


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


class Playout:
    """Face timestamps -> wall-clock release times, shared by a peer's audio and video.

    Anchored on the first media pushed; ``delay`` absorbs push jitter. If media arrives more
    than ``max_late`` behind its slot (the face fell behind, e.g. CPU starvation), the clock
    re-anchors so audio and video stay together instead of drifting apart.
    """

    def __init__(self, delay: float = 0.06, max_late: float = 0.2) -> None:
        self.delay = delay
        self.max_late = max_late
        self.reanchors = 0
        self._offset: float | None = None

    def due(self, timestamp: float) -> float:
        now = time.monotonic()
        if self._offset is None:
            self._offset = now - timestamp
        due = self._offset + timestamp + self.delay
        if now > due + self.max_late:
            self._offset = now - timestamp
            self.reanchors += 1
            due = now + self.delay
        return due


class AudioTimeline:
    """48 kHz mono samples placed at wall-clock positions, read in 20 ms slots.

    Sample ``i`` plays at ``origin + i / 48000``. Writes close to the end of the previous
    write are made contiguous (no clicks from rounding); writes for slots already sent are
    moved to the next unsent sample (late audio is delayed, never dropped).
    """

    def __init__(self, origin: float | None = None) -> None:
        self.origin = time.monotonic() if origin is None else origin
        self._base = 0  # sample index of _buf[0] (the next sample to send)
        self._buf = np.zeros(0, dtype=np.int16)
        self._write_end = 0

    def position(self, when: float) -> int:
        return round((when - self.origin) * OUT_RATE)

    def write(self, due: float, samples: np.ndarray) -> int:
        """Place ``samples`` to start playing at wall time ``due``; return the position."""
        pos = self.position(due)
        if abs(pos - self._write_end) <= OUT_RATE // 100:
            pos = self._write_end
        pos = max(pos, self._base)
        end = pos + len(samples)
        need = end - self._base
        if need > len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros(need - len(self._buf), np.int16)])
        self._buf[pos - self._base:end - self._base] = samples
        self._write_end = max(self._write_end, end)
        return pos

    def read(self, slot: int) -> np.ndarray:
        """The 20 ms of samples of ``slot`` (silence where nothing was written)."""
        start = slot * AUDIO_SAMPLES
        if start > self._base:
            self._buf = self._buf[start - self._base:]
            self._base = start
        elif start < self._base:  # already sent (a slot read twice): silence
            return np.zeros(AUDIO_SAMPLES, np.int16)
        chunk = self._buf[:AUDIO_SAMPLES]
        self._buf = self._buf[AUDIO_SAMPLES:]
        self._base += AUDIO_SAMPLES
        if len(chunk) < AUDIO_SAMPLES:
            chunk = np.concatenate([chunk, np.zeros(AUDIO_SAMPLES - len(chunk), np.int16)])
        return chunk

    @property
    def buffered_seconds(self) -> float:
        return max(0, self._write_end - self._base) / OUT_RATE


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
        self.size: tuple[int, int] | None = None

    def put(self, due: float, frame: rtc.VideoFrame) -> None:
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
        # Late frames are skipped while a newer one waits: latency stays bounded.
        while item is not None and not self._queue.empty() \
                and time.monotonic() > item[0] + 0.1:
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


def rms(samples: np.ndarray) -> float:
    """Root mean square of int16 samples, 0..1 of full scale."""
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean((samples.astype(np.float32) / 32768.0) ** 2)))


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


class BrowserAudioInput(io.AudioInput):
    """The browser's mic as the session's audio input: 16 kHz mono, 10 ms frames.

    Frames that arrive before the session reads them are queued (up to 30 s), so nothing
    said while the session starts is lost. ``speech_ends`` gets a mark each time loud
    input is followed by 0.35 s of quiet.
    """

    def __init__(self, on_speech_end: Callable[[float], None] | None = None) -> None:
        super().__init__(label="avatarkit-browser-mic")
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

    def start(self, track: MediaStreamTrack) -> None:
        """Read ``track`` (the remote mic) until it ends."""
        if self._task is None:
            self._task = asyncio.create_task(self._read(track), name="avatarkit-browser-mic")

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=IN_RATE)
        pending = np.zeros(0, dtype=np.int16)
        try:
            while not self._closed:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    break
                chunks = [pending]
                for out in resampler.resample(frame):  # type: ignore[arg-type]
                    chunks.append(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
                pending = np.concatenate(chunks)
                while len(pending) >= IN_FRAME:
                    self._emit(pending[:IN_FRAME])
                    pending = pending[IN_FRAME:]
        finally:
            self._queue.put_nowait(None)

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
