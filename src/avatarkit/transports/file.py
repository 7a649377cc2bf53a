"""The file transport: spoken questions in (real time), an mp4 of the avatar out.

No LiveKit server: the session's audio input is fed from audio clips in real time, a
self-hosted face renders into an :class:`Mp4Recorder`, and an audio-only session writes its
audio there too. This is what ``avatarkit demo`` and the end-to-end tests run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents.voice import AgentSession, io

from ..errors import AvatarkitError
from .audio_files import INPUT_RATE
from .base import MediaSink, Transport
from .mp4_recorder import Mp4Recorder

FRAME_MS = 10
FRAME_SAMPLES = INPUT_RATE * FRAME_MS // 1000


@dataclass
class Utterance:
    """One spoken input. ``barge_in_after``: say it this many seconds into the agent's
    reply (an interruption) instead of waiting for the agent to finish."""

    samples: Any
    barge_in_after: float | None = None

    @property
    def seconds(self) -> float:
        return len(self.samples) / INPUT_RATE

    @property
    def trailing_silence(self) -> float:
        """Seconds of silence after the last voiced 10 ms frame (speech ends there)."""
        frames = len(self.samples) // FRAME_SAMPLES
        if frames == 0:
            return 0.0
        chunks = self.samples[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)
        rms = np.sqrt(np.mean(chunks.astype(np.float64) ** 2, axis=1))
        voiced = np.flatnonzero(rms > 0.1 * rms.max())
        last = int(voiced[-1]) + 1 if len(voiced) else frames
        return self.seconds - last * FRAME_MS / 1000


@dataclass
class TurnTiming:
    """Wall-clock marks of one turn, measured at the transport (what a viewer sees)."""

    speech_start: float
    speech_end: float
    first_output: float | None = None  # first agent audio/frame delivered after speech end

    @property
    def speech_end_to_first_frame(self) -> float | None:
        return None if self.first_output is None else self.first_output - self.speech_end


class ScriptedAudioInput(io.AudioInput):
    """A microphone that plays queued clips in real time and silence in between."""

    def __init__(self) -> None:
        super().__init__(label="avatarkit-file-input")
        self._clips: asyncio.Queue[tuple[Any, asyncio.Future[float]]] = asyncio.Queue()
        self._closed = False

    def play(self, samples: Any) -> asyncio.Future[float]:
        """Queue ``samples``; the future resolves with the monotonic time the clip ended."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._clips.put_nowait((samples, fut))
        return fut

    def close(self) -> None:
        self._closed = True

    def __aiter__(self) -> AsyncIterator[rtc.AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[rtc.AudioFrame]:
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        next_at = time.monotonic()
        current: Any = None
        offset = 0
        done: asyncio.Future[float] | None = None
        while not self._closed:
            if current is None and not self._clips.empty():
                current, done = self._clips.get_nowait()
                offset = 0
            if current is not None:
                chunk = current[offset:offset + FRAME_SAMPLES]
                if len(chunk) < FRAME_SAMPLES:
                    chunk = np.concatenate([chunk, silence[: FRAME_SAMPLES - len(chunk)]])
                offset += FRAME_SAMPLES
                if offset >= len(current):
                    current = None
                    if done is not None and not done.done():
                        done.set_result(next_at + FRAME_MS / 1000)
            else:
                chunk = silence
            yield rtc.AudioFrame(chunk.tobytes(), INPUT_RATE, 1, FRAME_SAMPLES)
            next_at += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


class PacedAudioOutput(io.AudioOutput):
    """Audio-only output: plays agent audio in real time into a :class:`MediaSink`."""

    def __init__(self, sink: MediaSink, clock: MediaClock) -> None:
        super().__init__(label="avatarkit-file-audio",
                         capabilities=io.AudioOutputCapabilities(pause=False))
        self._sink = sink
        self._clock = clock
        self._queue: asyncio.Queue[rtc.AudioFrame | None] = asyncio.Queue()
        self._segment_open = False
        self._position = 0.0
        self._task: asyncio.Task[None] | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._task is None:
            self._task = asyncio.create_task(self._play(), name="avatarkit-paced-audio")
        if not self._segment_open:
            self._segment_open = True
            self._position = 0.0
            self.on_playback_started(created_at=time.time())
        self._queue.put_nowait(frame)

    def flush(self) -> None:
        super().flush()
        if self._segment_open:
            self._queue.put_nowait(None)

    def clear_buffer(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        if self._segment_open:
            self._segment_open = False
            self.on_playback_finished(playback_position=self._position, interrupted=True)

    async def _play(self) -> None:
        next_at = time.monotonic()
        while True:
            frame = await self._queue.get()
            if frame is None:
                if self._segment_open:
                    self._segment_open = False
                    self.on_playback_finished(playback_position=self._position,
                                              interrupted=False)
                continue
            next_at = max(next_at, time.monotonic())
            await self._sink.push_audio(frame, self._clock.now())
            self._position += frame.duration
            next_at += frame.duration
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # wait without suppressing CancelledError: ours (Ctrl-C) must not be swallowed
            await asyncio.wait([self._task])
            if not self._task.cancelled() and self._task.exception() is not None:
                raise self._task.exception()  # type: ignore[misc]


class MediaClock:
    """Seconds since the transport started: the media timeline of the recording."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0


class _SinkClock(MediaClock):
    """The recording's own timeline: once a face has delivered media, audio-only output
    (e.g. after the face died) continues on the face's clock, not a second one."""

    def __init__(self, sink: _TimingSink) -> None:
        super().__init__()
        self._sink = sink

    def now(self) -> float:
        offset = self._sink.media_offset
        return time.monotonic() - (self.t0 if offset is None else offset)


class _TimingSink:
    """Passes media to the recorder and notes the first output after each speech end.

    ``media_offset`` maps the monotonic clock onto the recording's timeline
    (``media_time = monotonic - media_offset``), fixed by the first frame delivered.
    """

    def __init__(self, recorder: Mp4Recorder, timings: list[TurnTiming]) -> None:
        self._recorder = recorder
        self._timings = timings
        self.media_offset: float | None = None

    def _mark(self, timestamp: float, audio: bool) -> None:
        now = time.monotonic()
        if self.media_offset is None:
            self.media_offset = now - timestamp
        if audio and self._timings and self._timings[-1].first_output is None:
            self._timings[-1].first_output = now

    async def push_video(self, frame: rtc.VideoFrame, timestamp: float) -> None:
        self._mark(timestamp, audio=False)
        await self._recorder.push_video(frame, timestamp)

    async def push_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None:
        self._mark(timestamp, audio=True)
        await self._recorder.push_audio(frame, timestamp)


@dataclass
class FileTransport(Transport):
    """Plays ``utterances`` into the session one turn at a time; records to ``output``."""

    utterances: list[Utterance]
    output: Path
    fps: int = 25
    video: bool = True
    reply_timeout: float = 60.0  # for a reply to start
    max_reply: float = 300.0  # for a reply to finish
    tail: float = 0.6
    timings: list[TurnTiming] = field(default_factory=list)
    name: str = "file"

    def __post_init__(self) -> None:
        self.recorder = Mp4Recorder(self.output, fps=self.fps, video=self.video)
        self._sink = _TimingSink(self.recorder, self.timings)
        self.clock = _SinkClock(self._sink)
        self._input = ScriptedAudioInput()
        self._output = PacedAudioOutput(self._sink, self.clock)
        self._state = "initializing"
        self._states: list[str] = []  # every state the agent went through, in order
        self._state_changed = asyncio.Event()

    def audio_input(self) -> io.AudioInput:
        return self._input

    def audio_output(self) -> io.AudioOutput:
        if self.recorder.video_frames == 0:
            self.recorder.audio_only()  # no face ever rendered: no video track in the mp4
        return self._output

    def media_sink(self) -> MediaSink:
        return self._sink

    def media_time(self, monotonic: float) -> float | None:
        """Where a monotonic instant falls on the recording's timeline (None before media)."""
        offset = self._sink.media_offset
        return None if offset is None else monotonic - offset

    def attach(self, session: AgentSession) -> None:
        def on_state(ev: Any) -> None:
            self._state = ev.new_state
            self._states.append(ev.new_state)
            self._state_changed.set()

        session.on("agent_state_changed", on_state)

    async def _wait_state(self, *states: str, timeout: float, since: int | None = None) -> None:
        """Until the agent is in one of ``states`` (or, with ``since``, has been in one since
        ``self._states[since]``: a fast reply can be over before the input has finished)."""
        deadline = time.monotonic() + timeout
        while self._state not in states and (
                since is None or not set(states) & set(self._states[since:])):
            self._state_changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._state_changed.wait(), remaining)

    async def wait_done(self, session: AgentSession) -> None:
        await self._wait_for("the agent to be ready", "listening", "idle")
        for number, utt in enumerate(self.utterances, 1):
            if utt.barge_in_after is not None:
                await self._wait_for(f"a reply to barge into (input {number})", "speaking")
                await asyncio.sleep(utt.barge_in_after)
            else:
                await self._wait_for("the previous reply to end", "listening", "idle",
                                     timeout=self.max_reply)
            mark = len(self._states)
            began = time.monotonic()  # the timing is in place before a fast reply arrives
            timing = TurnTiming(speech_start=began,
                                speech_end=began + utt.seconds - utt.trailing_silence)
            self.timings.append(timing)
            clip_end = await self._input.play(utt.samples)
            timing.speech_start = clip_end - utt.seconds
            timing.speech_end = clip_end - utt.trailing_silence
            await self._wait_for(f"a reply to input {number}", "thinking", "speaking",
                                 hint="was anything recognised? try a clearer recording "
                                 "or --ask TEXT", since=mark)
            await self._wait_for(f"the reply to input {number} to be spoken", "speaking",
                                 since=mark)
        await self._wait_for("the last reply to end", "listening", "idle",
                             timeout=self.max_reply)
        await asyncio.sleep(self.tail)

    async def _wait_for(self, what: str, *states: str, timeout: float | None = None,
                        hint: str | None = None, since: int | None = None) -> None:
        timeout = self.reply_timeout if timeout is None else timeout
        try:
            await self._wait_state(*states, timeout=timeout, since=since)
        except asyncio.TimeoutError:
            raise AvatarkitError(f"gave up waiting for {what} after {timeout:g} s",
                                 hint=hint) from None

    async def aclose(self) -> None:
        self._input.close()
        await self._output.aclose()
        await self.recorder.aclose()
