"""A test user in a real LiveKit room (the ``livekit`` rtc SDK): a live microphone that says
spoken questions in real time, and recorders for what the others send: per participant,
video frames and audio levels (:class:`Received`); for agents also the video's mouth
region (a small grey patch around the portrait's mouth); and ``lk.transcription`` text
streams with the arrival time of each chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from livekit import api, rtc

from livekit_server import LiveKitServer

RATE = 16000
FRAME = RATE // 100  # 10 ms
QUESTION = Path(__file__).resolve().parents[1] / "src" / "avatarkit" / "assets" / "question.wav"
# Where the built-in portrait's mouth is, as fractions of the frame (default_portrait.json:
# mouth at 256,309 of 512x512, 54 px wide).
MOUTH_BOX = (0.39, 0.55, 0.61, 0.67)  # left, top, right, bottom
PATCH = (12, 22)  # rows, cols the mouth patch is sampled to
S = TypeVar("S", rtc.VideoStream, rtc.AudioStream)


def load_wav_16k(path: Path = QUESTION) -> np.ndarray:
    """A mono 16-bit 16 kHz wav as int16 samples."""
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == RATE and wav.getnchannels() == 1
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16).copy()


def open_stream(make: Callable[[], S]) -> S | None:
    """``make()`` a media stream; ``None`` if its track is already gone (a track subscribed
    as the room disconnects). The SDK subscribes a stream to the FFI's event queue before it
    asks for the native stream, and leaves it subscribed when that request fails: that
    subscription is dropped here."""
    from livekit.rtc._ffi_client import FfiClient

    ffi_queue = FfiClient.instance.queue
    before = {id(queue) for queue, _loop, _filter in ffi_queue._subscribers}
    try:
        return make()
    except Exception:  # noqa: BLE001 - "handle is not a FfiTrack": the track was released
        for queue, _loop, _filter in list(ffi_queue._subscribers):
            if id(queue) not in before:
                ffi_queue.unsubscribe(queue)
        return None


async def close_stream(stream: rtc.VideoStream | rtc.AudioStream) -> None:
    """Close a media stream, also when its reader was cancelled. A stream leaves livekit's
    FFI event queue only at its end-of-stream; left to arrive on its own, that can come after
    the test's event loop closed ("error putting to queue: Event loop is closed"), and such
    leftovers are torn down by the FFI at interpreter exit, where a callback into a
    finalizing Python aborts the process (a CI run ended in SIGABRT that way)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(stream.aclose()), 5)


@dataclass
class Transcript:
    at: float
    identity: str
    text: str
    attributes: dict[str, str]
    chunk_times: list[float] = field(default_factory=list)  # when each chunk arrived


@dataclass
class Received:
    """What the user got from one remote participant."""

    video_frames: int = 0
    first_video_at: float | None = None
    audio: list[tuple[float, float, float]] = field(default_factory=list)  # (time, rms, s)

    def loud_seconds(self, since: float = 0.0, level: float = 0.01) -> float:
        """Seconds of audio above ``level`` received after time ``since``."""
        return sum(dur for at, rms, dur in self.audio if at >= since and rms > level)


@dataclass
class RoomUser:
    """Join with :meth:`join`; :meth:`say` speaks into the mic in real time."""

    server: LiveKitServer
    room_name: str
    identity: str = "user"
    agent_name: str | None = None  # explicit dispatch through the join token
    join_token: str | None = None  # a token from elsewhere (a token endpoint) instead
    room: rtc.Room = field(default_factory=rtc.Room)
    frames: list[tuple[float, np.ndarray, tuple[int, int]]] = field(default_factory=list)
    levels: list[tuple[float, float]] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)
    video_size: tuple[int, int] | None = None
    corner: np.ndarray | None = None  # mean RGB of the latest agent frame's top-left corner
    received: dict[str, Received] = field(default_factory=dict)  # by participant identity
    _source: rtc.AudioSource | None = None
    _pending: list[Any] = field(default_factory=list)  # sample arrays and "done" futures
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _agent_video: asyncio.Event = field(default_factory=asyncio.Event)
    _agent_audio: asyncio.Event = field(default_factory=asyncio.Event)
    _leaving: bool = False

    def token(self) -> str:
        if self.join_token is not None:
            return self.join_token
        token = (api.AccessToken(self.server.api_key, self.server.api_secret)
                 .with_identity(self.identity)
                 .with_grants(api.VideoGrants(room_join=True, room=self.room_name)))
        if self.agent_name is not None:
            token = token.with_room_config(api.RoomConfiguration(
                agents=[api.RoomAgentDispatch(agent_name=self.agent_name)]))
        return token.to_jwt()

    async def join(self) -> RoomUser:
        """Connect, publish a live (silent until :meth:`say`) microphone, start recording."""
        self.room.on("track_subscribed", self._on_track)
        self.room.register_text_stream_handler("lk.transcription", self._on_text)
        await self.room.connect(self.server.url, self.token())
        self._source = rtc.AudioSource(RATE, 1, queue_size_ms=100)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        self._tasks.append(asyncio.create_task(self._mic()))
        return self

    async def leave(self) -> None:
        """Disconnect, then stop the mic and the recorders (the streams have ended by then)."""
        self._leaving = True  # a track subscribed meanwhile gets no recorder (see open_stream)
        await self.room.disconnect()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def got(self, identity: str) -> Received:
        """What arrived from participant ``identity`` (empty until something does)."""
        return self.received.setdefault(identity, Received())

    def agents(self) -> list[rtc.RemoteParticipant]:
        return [p for p in self.room.remote_participants.values()
                if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT]

    async def wait_for_agent(self, timeout: float) -> rtc.RemoteParticipant:
        deadline = time.monotonic() + timeout
        while not self.agents():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no agent joined {self.room_name} within {timeout:g} s")
            await asyncio.sleep(0.1)
        return self.agents()[0]

    async def wait_for_media(self, timeout: float, *, video: bool = True) -> None:
        """Until the agent's audio (and video) are subscribed and flowing."""
        waits = [self._agent_audio.wait()] + ([self._agent_video.wait()] if video else [])
        await asyncio.wait_for(asyncio.gather(*waits), timeout)

    def speak(self, samples: np.ndarray | None = None) -> asyncio.Future[float]:
        """Start speaking ``samples`` (16 kHz int16; default: the bundled question) and go
        on at once; the future resolves with the end of the speech (``time.monotonic()``)."""
        assert self._source is not None
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._pending.append(load_wav_16k() if samples is None else samples)
        self._pending.append(done)
        return done

    async def say(self, samples: np.ndarray | None = None) -> float:
        """Speak ``samples`` now; return when the last one left the mic
        (``time.monotonic()``): the end of the user's speech."""
        return float(await self.speak(samples))

    async def _mic(self) -> None:
        """Real-time mic: queued speech, else silence, 10 ms at a time."""
        assert self._source is not None
        silence = np.zeros(FRAME, np.int16)
        while True:
            item = self._pending.pop(0) if self._pending else silence
            if isinstance(item, asyncio.Future):
                await self._source.wait_for_playout()
                item.set_result(time.monotonic())
                continue
            for start in range(0, len(item), FRAME):
                chunk = item[start:start + FRAME]
                if len(chunk) < FRAME:
                    chunk = np.concatenate([chunk, silence[: FRAME - len(chunk)]])
                await self._source.capture_frame(
                    rtc.AudioFrame(chunk.tobytes(), RATE, 1, FRAME))

    def _on_track(self, track: rtc.Track, _pub: Any, participant: rtc.RemoteParticipant) -> None:
        got = self.got(participant.identity)
        agent = participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            self._tasks.append(asyncio.create_task(self._record_video(track, got, agent)))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            self._tasks.append(asyncio.create_task(self._record_audio(track, got, agent)))

    async def _events(self, make: Callable[[], S]) -> AsyncIterator[Any]:
        """The events of the stream ``make()`` opens (none once leaving, or if its track is
        gone); the stream is closed however the reading ends (see close_stream)."""
        stream = None if self._leaving else open_stream(make)
        if stream is None:
            return
        try:
            async for event in stream:
                yield event
        finally:
            await close_stream(stream)

    async def _record_video(self, track: rtc.Track, got: Received, agent: bool) -> None:
        """Count every participant's frames; keep an agent's mouth patches."""
        buffer = rtc.VideoBufferType.RGBA if agent else None
        async for event in self._events(lambda: rtc.VideoStream(track, format=buffer)):
            now = time.monotonic()
            got.video_frames += 1
            if got.first_video_at is None:
                got.first_video_at = now
            if agent:
                frame = event.frame
                self.video_size = (frame.width, frame.height)
                self.frames.append((now, mouth_patch(frame), self.video_size))
                self.corner = corner_colour(frame)
                self._agent_video.set()

    async def _record_audio(self, track: rtc.Track, got: Received, agent: bool) -> None:
        async for event in self._events(lambda: rtc.AudioStream(track, sample_rate=RATE,
                                                                num_channels=1)):
            samples = np.frombuffer(event.frame.data, np.int16).astype(np.float64) / 32768.0
            level = float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0
            now = time.monotonic()
            got.audio.append((now, level, event.frame.duration))
            if agent:
                self.levels.append((now, level))
                self._agent_audio.set()

    def _on_text(self, reader: rtc.TextStreamReader, identity: str) -> None:
        async def read() -> None:
            text, times = "", []
            async for chunk in reader:
                text += chunk
                times.append(time.monotonic())
            attributes = dict(reader.info.attributes or {})
            self.transcripts.append(
                Transcript(time.monotonic(), identity, text, attributes, times))

        self._tasks.append(asyncio.create_task(read()))

    # -- what arrived -------------------------------------------------------------------
    def agent_text(self, since: float = 0.0) -> str:
        """Final transcriptions sent by the agent (its replies), joined."""
        return " ".join(t.text for t in self.transcripts if t.at >= since
                        and t.identity != self.identity
                        and t.attributes.get("lk.transcription_final") == "true")

    def heard_text(self, words: str, since: float = 0.0) -> bool:
        """Whether a transcription received after ``since`` (anyone's) contains ``words``."""
        return any(words.lower() in t.text.lower() for t in self.transcripts if t.at >= since)

    def user_text(self, since: float = 0.0) -> str:
        """Final transcriptions of the user's own speech (the agent's STT)."""
        return " ".join(t.text for t in self.transcripts if t.at >= since
                        and t.identity == self.identity
                        and t.attributes.get("lk.transcription_final") == "true")

    def loud_since(self, since: float, level: float = 0.01) -> float | None:
        """When the agent's audio first rose above ``level`` after ``since``."""
        return next((t for t, v in self.levels if t >= since and v > level), None)

    def _changes(self, start: float, end: float = float("inf")) -> list[tuple[float, float]]:
        """(arrival, mean mouth-patch change from the previous frame) for frames in
        [start, end); frames of another size (a new simulcast layer) are not compared."""
        frames = [f for f in self.frames if start <= f[0] < end]
        return [(t, float(np.abs(b - a).mean()))
                for (_, a, size_a), (t, b, size_b) in zip(frames, frames[1:])
                if size_a == size_b]

    def mouth_motion(self, start: float, end: float) -> np.ndarray:
        """Frame-to-frame mean change of the mouth patch for frames in [start, end)."""
        return np.array([change for _, change in self._changes(start, end)])

    def first_mouth_move(self, since: float, threshold: float) -> float | None:
        """Arrival time of the first frame after ``since`` whose mouth patch moved."""
        return next((t for t, change in self._changes(since) if change > threshold), None)


def corner_colour(frame: rtc.VideoFrame) -> np.ndarray:
    """Mean RGB of the top-left 1/8 x 1/8 of an RGBA frame (the backdrop, not the face)."""
    rgba = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 4)
    return rgba[: frame.height // 8, : frame.width // 8, :3].reshape(-1, 3).mean(axis=0)


def mouth_patch(frame: rtc.VideoFrame) -> np.ndarray:
    """The grey mouth region of an RGBA frame, sampled to a fixed :data:`PATCH` size."""
    rgba = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 4)
    left, top, right, bottom = MOUTH_BOX
    rows = np.linspace(top * frame.height, bottom * frame.height, PATCH[0]).astype(int)
    cols = np.linspace(left * frame.width, right * frame.width, PATCH[1]).astype(int)
    patch = rgba[np.ix_(rows, cols)][..., :3].astype(np.float32)
    return patch.mean(axis=2)
