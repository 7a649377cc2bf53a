"""Room-test helpers: an ``avatarkit run`` worker subprocess and a user participant.

The worker is the real CLI (``python -m avatarkit run --dev --config ...``) registered with
the real LiveKit server of the ``livekit_server`` fixture and dispatched explicitly by
agent name. The user is a ``livekit`` rtc participant that speaks a wav file as its
microphone and records what it receives, per participant: video frames, audio levels.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc

from room_worker import REGISTERED

ROOT = Path(__file__).resolve().parents[1]
QUESTION_WAV = ROOT / "src" / "avatarkit" / "assets" / "question.wav"
MIC_RATE = 16000


async def wait_until(check: Callable[[], Any], timeout: float, what: str,
                     interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


class Worker:
    """``avatarkit run --dev`` in a subprocess; its log goes to ``log_path``."""

    def __init__(self, workdir: Path, config: str, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.config_path = workdir / "avatarkit.toml"
        self.config_path.write_text(config)
        self.log_path = workdir / "worker.log"
        self.env = {**os.environ, **env,
                    "PYTHONPATH": os.pathsep.join([str(ROOT / "src"),
                                                   os.environ.get("PYTHONPATH", "")])}
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 90.0) -> Worker:
        """Start the worker and wait until it registered (``stop`` it even if this fails)."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "avatarkit", "run", "--dev", "--config",
                 str(self.config_path)], cwd=self.workdir, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        await wait_until(lambda: REGISTERED.search(self.log()) or self._exited(),
                         timeout, "the worker to register")
        assert not self._exited(), f"worker exited:\n{self.log()[-3000:]}"
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def sigterm(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def wait_exit(self, timeout: float) -> int:
        await wait_until(self._exited, timeout, "the worker to exit", interval=0.2)
        assert self.process is not None
        return int(self.process.returncode)

    def stop(self) -> None:
        """End the worker and its job processes (their process group)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@dataclass
class Received:
    """What the user got from one remote participant."""

    video_frames: int = 0
    first_video_at: float | None = None
    audio: list[tuple[float, float, float]] = field(default_factory=list)  # (time, rms, s)

    def loud_since(self, t: float, level: float = 0.01) -> float:
        """Seconds of audio above ``level`` received after time ``t``."""
        return sum(dur for at, rms, dur in self.audio if at >= t and rms > level)


class User:
    """A user participant: joins, speaks wav files into its microphone, records media."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.received: dict[str, Received] = {}
        self.transcripts: list[tuple[float, str, str]] = []  # (time, sender, text)
        self.transcript_chunks: list[tuple[str, list[float]]] = []  # text, chunk arrivals
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending = np.zeros(0, dtype=np.int16)
        self._source = rtc.AudioSource(MIC_RATE, 1)

    def got(self, identity: str) -> Received:
        return self.received.setdefault(identity, Received())

    async def join(self, url: str, token: str) -> User:
        self.room.on("track_subscribed", self._on_track)
        self.room.register_text_stream_handler("lk.transcription", self._on_transcript)
        await self.room.connect(url, token)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        self._spawn(self._feed_mic())
        return self

    def say(self, wav_path: Path = QUESTION_WAV) -> float:
        """Queue ``wav_path`` (16 kHz mono) on the microphone; returns its length (s)."""
        with wave.open(str(wav_path)) as w:
            assert w.getframerate() == MIC_RATE and w.getnchannels() == 1
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        self._pending = np.concatenate([self._pending, samples])
        return len(samples) / MIC_RATE

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.room.disconnect()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _feed_mic(self) -> None:
        """10 ms frames in real time: queued speech, else silence."""
        n = MIC_RATE // 100
        start = time.monotonic()
        sent = 0
        while True:
            chunk, self._pending = self._pending[:n], self._pending[n:]
            if len(chunk) < n:
                chunk = np.concatenate([chunk, np.zeros(n - len(chunk), dtype=np.int16)])
            await self._source.capture_frame(rtc.AudioFrame(chunk.tobytes(), MIC_RATE, 1, n))
            sent += 1
            delay = start + sent * 0.01 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def heard_text(self, words: str, since: float = 0.0) -> bool:
        """Whether a transcription received after ``since`` contains ``words``."""
        return any(words.lower() in text.lower() for at, _who, text in self.transcripts
                   if at >= since)

    def _on_transcript(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            text, times = "", []
            async for chunk in reader:
                text += chunk
                times.append(time.monotonic())
            self.transcripts.append((time.monotonic(), sender, text))
            self.transcript_chunks.append((text, times))

        self._spawn(read())

    def _on_track(self, track: rtc.Track, _pub: Any, participant: rtc.RemoteParticipant
                  ) -> None:
        got = self.got(participant.identity)
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            self._spawn(self._count_video(track, got))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            self._spawn(self._level_audio(track, got))

    async def _count_video(self, track: rtc.Track, got: Received) -> None:
        async for _event in rtc.VideoStream(track):
            got.video_frames += 1
            if got.first_video_at is None:
                got.first_video_at = time.monotonic()

    async def _level_audio(self, track: rtc.Track, got: Received) -> None:
        async for event in rtc.AudioStream(track, sample_rate=16000, num_channels=1):
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
            rms = float(np.sqrt(np.mean((samples / 32768.0) ** 2))) if len(samples) else 0.0
            got.audio.append((time.monotonic(), rms, event.frame.duration))


async def participants(server: Any, room: str) -> list[str]:
    """Identities in ``room`` according to the server's RoomService (none if it is gone)."""
    from livekit import api

    lkapi = server.api()
    try:
        listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
        return sorted(p.identity for p in listed.participants)
    except api.TwirpError as exc:
        if exc.code == "not_found":
            return []
        raise
    finally:
        await lkapi.aclose()


async def dispatch(server: Any, room: str, agent_name: str) -> None:
    """Ask the server to send the worker registered as ``agent_name`` into ``room``."""
    from livekit import api

    lkapi = server.api()
    try:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room))
    finally:
        await lkapi.aclose()
