"""Provider faces in a real LiveKit room, run by a real ``avatarkit run`` worker.

Two data-stream providers (Tavus, with a session rotation; Runway, whose session ends with
a data message to the avatar) and HeyGen's WebSocket path. Everything below each provider's
HTTP API is real: livekit-server, the worker dispatched into the room, the local brain
(Silero VAD, whisper, Piper; its LLM is the OpenAI stand-in), the official plugin. Each
stand-in runs the provider's renderer: an avatar worker process that joins with the minted
token (data-stream providers), or for LiveAvatar a participant in this process that plays
the audio it receives over the WebSocket. A user participant speaks and listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from room_user import RoomUser
from room_worker import WorkerProcess, dispatch, participants, wait_until
from standins.liveavatar import LiveAvatarStandin
from standins.openai_api import OpenAIStandin
from standins.providers import SPECS, ProviderStandin
from test_boson_room import REPLY, session_ended

pytestmark = [pytest.mark.room, pytest.mark.standin]

GREETING = "Hello there, nice to meet you."
METRICS: dict[str, Any] = {}


@pytest.fixture
async def brain_llm() -> AsyncIterator[OpenAIStandin]:
    async with OpenAIStandin(reply=REPLY) as standin:
        yield standin


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value) + '"'


def worker_toml(name: str, tables: dict[str, dict[str, Any]]) -> str:
    """``avatarkit.toml`` for a worker registered as ``name``: ``{"table": {key: value}}``."""
    tables = {**tables, "worker": {"agent_name": name, "port": 0}}
    return "\n\n".join(f"[{table}]\n" + "\n".join(f"{k} = {toml_value(v)}"
                                                   for k, v in values.items())
                       for table, values in tables.items()) + "\n"


def provider_worker(livekit_server: Any, workdir: Path, config: str, face: str,
                    env: dict[str, str] | None = None) -> WorkerProcess:
    """``avatarkit run --dev`` with ``config``, loading the face's plugin distribution
    (built-in ``heygen`` needs none)."""
    path = workdir / "avatarkit.toml"
    path.write_text(config)
    plugin = "" if face == "heygen" else f"avatarkit-{face}"
    return WorkerProcess(livekit_server, ["--dev", "--config", str(path)],
                         workdir / "worker.log", cwd=workdir,
                         env={"AVATARKIT_LOAD_PLUGINS": plugin, **(env or {})})


def worker_config(name: str, llm: OpenAIStandin, face: str, options: dict[str, Any]) -> str:
    """The local brain (its LLM: the stand-in) and ``face`` with ``options``."""
    return worker_toml(name, {
        "agent": {"greeting": GREETING}, "brain": {"name": "local"},
        "brain.options.local": {"base_url": llm.base_url, "api_key": llm.api_key,
                                "tts": "piper"},
        "face": {"name": face, "join_timeout": 60}, f"face.options.{face}": options})


@contextlib.asynccontextmanager
async def room_session(livekit_server: Any, tmp_path: Path, llm: OpenAIStandin, name: str,
                       face: str, options: dict[str, Any]
                       ) -> AsyncIterator[tuple[WorkerProcess, RoomUser]]:
    """A worker registered as ``name`` with ``face``, a user in room ``name``, dispatched."""
    async with contextlib.AsyncExitStack() as cleanup:
        worker = provider_worker(livekit_server, tmp_path,
                                 worker_config(name, llm, face, options), face)
        cleanup.push_async_callback(worker.stopped)
        user = RoomUser(livekit_server, name)
        cleanup.push_async_callback(user.leave)
        await worker.started()
        await user.join()
        await dispatch(livekit_server, name, name)
        yield worker, user


def first_loud(user: RoomUser, identity: str, since: float, level: float = 0.01) -> float | None:
    return next((at for at, rms, _ in user.got(identity).audio if at >= since and rms > level),
                None)


async def ask(user: RoomUser, identity: str) -> float:
    """Speak the question; seconds from its end to the answer's first audio from
    ``identity`` (at the user)."""
    ended = await user.say()
    heard = await wait_until(lambda: first_loud(user, identity, ended), 90,
                             f"an answer from {identity}")
    return float(heard - ended)


async def test_standin_tavus_room_rotates_between_replies(livekit_server, tmp_path,
                                                          brain_llm) -> None:
    """Tavus with a 40 s cap: the conversation outlives it. A fresh session starts 20 s
    before the cap, is swapped in while the agent is idle, the old one is ended (Tavus's
    end call, once), and the next answer plays whole from the new avatar."""
    name, first_id, second_id = "tavus-rotate", "tavus-avatar-agent", "tavus-avatar-agent-2"
    async with ProviderStandin(SPECS["tavus"], workdir=tmp_path) as tavus:
        options = {**tavus.options(), "max_session_s": 40, "rotate_lead_s": 20}
        async with room_session(livekit_server, tmp_path, brain_llm, name, "tavus",
                                options) as (worker, user):
            await wait_until(lambda: tavus.sessions, 120, "the first Tavus session")
            first = tavus.only_session()
            # the stand-in lists a session before the avatar it launches for it is up
            await wait_until(lambda: first.avatar, 60, "the first Tavus avatar")
            await first.avatar.wait_event("segment_audio", timeout=90)  # the greeting
            await wait_until(lambda: user.got(first_id).loud_seconds(0) > 0.5, 60,
                             "the greeting from the first avatar")
            await first.avatar.wait_event("playback_finished", timeout=60)
            before = await ask(user, first_id)  # an answer from the first session

            # the rotation: a second session, swapped in while idle, the first one ended
            await wait_until(lambda: len(tavus.sessions) == 2, 60, "a fresh Tavus session")
            line = await wait_until(
                lambda: re.search(r"rotated the Tavus session after ([\d.]+) s \(fresh one "
                                  r"joined in ([\d.]+) s, swapped ([\d.]+) s later",
                                  worker.output()), 60, "the swap in the worker log")
            second = next(s for s in tavus.sessions.values() if s is not first)
            await wait_until(lambda: first.ended, 30, "the first session's end call")
            await wait_until(lambda: first.avatar.process.returncode is not None, 30,
                             "the first avatar to leave")
            assert second.join.token and second.avatar is not None
            assert first_id not in await participants(livekit_server, name)

            # the next answer plays whole from the new avatar
            after = await ask(user, second_id)
            seg = await second.avatar.wait_event("segment_end", timeout=60)
            played = await second.avatar.wait_event("playback_finished", timeout=60)
            assert played["interrupted"] is False and seg["seconds"] > 0.5
            assert abs(played["position"] - seg["seconds"]) < 0.2

            await user.leave()
            report = await session_ended(worker)
            assert "tavus ok" in report
            assert [s.stops for s in tavus.sessions.values()] == [1, 1]
            assert len(tavus.start_calls()) == 2
            for identity in (first_id, second_id):
                assert identity not in await participants(livekit_server, name)
            at_s, join_s, idle_s = (float(g) for g in line.groups())
            METRICS.update({"rotated after (s)": at_s, "fresh session joined in (s)": join_s,
                            "swap waited for idle (s)": idle_s,
                            "answer latency before the swap (s)": round(before, 3),
                            "answer latency after the swap (s)": round(after, 3),
                            "added by the swap (s)": round(after - before, 3)})
            print("\ntavus rotation:", METRICS)


async def test_standin_runway_room_ends_with_end_call(livekit_server, tmp_path,
                                                      brain_llm) -> None:
    """Runway (16 kHz): the greeting plays through the avatar; at the end the plugin's
    END_CALL data message reaches the avatar (once), which leaves."""
    name, identity = "runway-room", "runway-avatar-agent"
    async with ProviderStandin(SPECS["runway"], workdir=tmp_path) as runway, \
            room_session(livekit_server, tmp_path, brain_llm, name, "runway",
                         runway.options()) as (worker, user):
        await wait_until(lambda: runway.sessions, 120, "the Runway session")
        sess = runway.only_session()
        # the stand-in lists a session before the avatar it launches for it is up
        await wait_until(lambda: sess.avatar, 60, "the Runway avatar")
        first = await sess.avatar.wait_event("segment_audio", timeout=90)
        assert first["sample_rate"] == 16000
        await wait_until(lambda: user.got(identity).loud_seconds(0) > 0.5, 60,
                         "the greeting from the Runway avatar")
        await user.leave()
        assert "runway ok" in await session_ended(worker)
        await wait_until(lambda: sess.ended, 30, "the session's end")
        await asyncio.sleep(0.5)
        assert sess.reported("end_call") == 1 and sess.stops == 0  # the room was up
        assert identity not in await participants(livekit_server, name)


class LiveAvatarRenderer:
    """LiveAvatar's renderer: joins with the token from ``/v1/sessions/token`` and plays
    the audio the plugin sends over the WebSocket, with a moving video track."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.room = rtc.Room()
        self.audio = rtc.AudioSource(24000, 1)
        self.video = rtc.VideoSource(64, 64)
        self.tasks: list[asyncio.Task[Any]] = []

    async def join(self, config: dict[str, Any]) -> None:
        await self.room.connect(self.url, config["livekit_config"]["livekit_client_token"],
                                rtc.RoomOptions(auto_subscribe=False))
        lp = self.room.local_participant
        await lp.publish_track(rtc.LocalAudioTrack.create_audio_track("a", self.audio),
                               rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        await lp.publish_track(rtc.LocalVideoTrack.create_video_track("v", self.video),
                               rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA))
        self.tasks.append(asyncio.ensure_future(self._frames()))

    def play(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype=np.int16)
        frame = rtc.AudioFrame(samples.tobytes(), 24000, 1, len(samples))
        self.tasks.append(asyncio.ensure_future(self.audio.capture_frame(frame)))

    async def _frames(self) -> None:
        frame = rtc.VideoFrame(64, 64, rtc.VideoBufferType.RGBA, bytearray(64 * 64 * 4))
        while True:
            frame.data[0] = (frame.data[0] + 1) % 256
            self.video.capture_frame(frame)
            await asyncio.sleep(0.04)

    async def leave(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.room.disconnect()
        await self.audio.aclose()


async def test_standin_heygen_room_websocket_path(livekit_server, tmp_path, brain_llm) -> None:
    """HeyGen LiveAvatar: agent audio goes over the provider's WebSocket (not a data stream);
    the avatar participant plays it into the room; the session is stopped once at the end."""
    name, identity = "heygen-room", "liveavatar-avatar-agent"
    renderer = LiveAvatarRenderer(livekit_server.url)
    async with LiveAvatarStandin(on_started=renderer.join, on_audio=renderer.play) as la:
        options = {"avatar_id": "avatar-123", "api_url": la.api_url, "api_key": la.api_key}
        try:
            async with room_session(livekit_server, tmp_path, brain_llm, name, "heygen",
                                    options) as (worker, user):
                await asyncio.wait_for(la.ws_connected.wait(), 120)
                await wait_until(lambda: user.got(identity).loud_seconds(0) > 0.5, 90,
                                 "the greeting played by the LiveAvatar participant")
                assert la.messages("agent.speak") and user.got(identity).video_frames > 0
                await wait_until(lambda: la.messages("agent.speak_end"), 30, "speak_end")
                await user.leave()
                assert "heygen ok" in await session_ended(worker)
                await wait_until(lambda: la.stop_calls(), 30, "the session stop")
                await asyncio.sleep(0.5)
                assert len(la.stop_calls()) == 1
                assert identity not in await participants(livekit_server, name)
        finally:
            await renderer.leave()
