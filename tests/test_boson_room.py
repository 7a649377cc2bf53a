"""The ``boson`` face in a real LiveKit room, against the Boson stand-in and its avatar worker.

Everything below the provider's HTTP API is real: ``avatarkit run --dev`` registers with the
real livekit-server and is dispatched into the room; the agent is a real ``AgentSession``
(local brain: Silero VAD, whisper, Piper; its LLM is the OpenAI stand-in, so replies are
fixed); the official ``livekit-plugins-boson-avatar`` calls the stand-in, whose avatar worker
joins the room with the minted token, receives the agent's audio on ``lk.audio_stream`` and
publishes video + audio on the agent's behalf. A user participant speaks and watches.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from avatarkit.tokens import decode_grants
from room_user import RoomUser
from room_worker import WorkerProcess, dispatch, participants, wait_until
from standins.boson import BosonStandin
from standins.openai_api import OpenAIStandin

pytestmark = [pytest.mark.room, pytest.mark.standin, pytest.mark.local_extra]

AVATAR = "boson-avatar-agent"
GREETING = ("Hello, and welcome to the avatar kit room test. I will keep talking for a "
            "while, so that you have plenty of time to interrupt me whenever you like. "
            "Take your time, there is no hurry at all.")
REPLY = "It is noon. The weather is fine and the room works."
TIMINGS: dict[str, float] = {}


def worker_config(*, agent_name: str, llm: OpenAIStandin, boson: BosonStandin,
                  fallback: str = "", greeting: str = GREETING) -> str:
    return f"""
[agent]
greeting = "{greeting}"

[brain]
name = "local"

[brain.options.local]
base_url = "{llm.base_url}"
api_key = "{llm.api_key}"
tts = "piper"

[face]
name = "boson"
fallback = [{fallback}]
join_timeout = 60

[face.options.boson]
avatar_id = "{boson.avatar_id}"
api_url = "{boson.api_url}"
api_key = "{boson.api_key}"

[face.options.local]
width = 128
height = 128
fps = 15

[worker]
agent_name = "{agent_name}"
port = 0
"""


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandin]:
    async with OpenAIStandin(reply=REPLY) as standin:
        yield standin


def boson_worker(livekit_server, tmp_path: Path, config: str) -> WorkerProcess:
    """``avatarkit run --dev`` with ``config`` (the boson plugin loaded), not started."""
    path = tmp_path / "avatarkit.toml"
    path.write_text(config)
    return WorkerProcess(livekit_server, ["--dev", "--config", str(path)],
                         tmp_path / "worker.log", cwd=tmp_path,
                         env={"AVATARKIT_LOAD_PLUGINS": "avatarkit-boson"})


@contextlib.asynccontextmanager
async def room_session(livekit_server, tmp_path: Path, llm: OpenAIStandin, boson: BosonStandin,
                       name: str, **config: str
                       ) -> AsyncIterator[tuple[WorkerProcess, RoomUser]]:
    """A worker registered as ``name``, a user in room ``name``, the worker dispatched."""
    worker = boson_worker(livekit_server, tmp_path,
                          worker_config(agent_name=name, llm=llm, boson=boson, **config))
    user = RoomUser(livekit_server, name)
    try:
        await worker.started()
        await user.join()
        await dispatch(livekit_server, name, name)
        yield worker, user
    finally:
        await user.leave()
        await worker.stopped()


def agent_identity(user: RoomUser) -> str:
    return next(p.identity for p in user.room.remote_participants.values()
                if p.kind == 4 and p.identity != AVATAR)  # PARTICIPANT_KIND_AGENT


async def session_ended(worker: WorkerProcess) -> str:
    line = await wait_until(
        lambda: next((ln for ln in worker.output().splitlines() if "session ended" in ln), None),
        60, "the session report in the worker log")
    return str(line)


async def test_standin_boson_face_in_room(livekit_server, tmp_path, llm) -> None:
    name = "boson-room"
    async with BosonStandin(workdir=tmp_path, linger=True) as boson, \
            room_session(livekit_server, tmp_path, llm, boson, name) as (worker, user):
        t0 = time.monotonic()  # dispatched: a job process starts, then the face
        # the avatar joins and the user receives its video
        sess = await boson.wait_session(90)
        await wait_until(lambda: user.got(AVATAR).video_frames >= 15, 90,
                         "video frames from the avatar")
        TIMINGS["dispatch -> first avatar frame at the user"] = (
            user.got(AVATAR).first_video_at - t0)  # type: ignore[operator]
        claims = decode_grants(sess.transport["participant_token"],
                               livekit_server.api_secret)
        agent = agent_identity(user)
        assert claims["sub"] == AVATAR and claims["kind"] == "agent"
        assert claims["video"]["room"] == name and claims["video"]["roomJoin"] is True
        assert claims["attributes"]["lk.publish_on_behalf"] == agent
        assert sess.transport["publisher_identity"] == agent
        joined = await boson.wait_event(sess, "joined")
        assert joined["identity"] == AVATAR and joined["room"] == name

        # the greeting reaches the avatar on lk.audio_stream and the user hears it
        # from the avatar participant (published on the agent's behalf)
        first = await boson.wait_event(sess, "segment_audio", timeout=60)
        assert first["sample_rate"] == 24000
        await wait_until(lambda: user.got(AVATAR).loud_seconds(0) > 1.0, 60,
                         "the greeting from the avatar")
        assert user.got(agent).loud_seconds(0) == 0  # the agent itself publishes no audio

        # barge-in: the user speaks over the greeting; the avatar's buffer is cleared
        user.speak()
        await boson.wait_event(sess, "clear_buffer", timeout=60)

        # the answer to the question plays through the avatar too, to its end: the
        # avatar answers lk.playback_finished and the agent's reply completes
        cleared = next(i for i, e in enumerate(sess.events()) if e["event"] == "clear_buffer")
        await boson.wait_event(sess, "segment_audio", after=cleared, timeout=90)
        reply = next(i for i, e in enumerate(sess.events())
                     if i > cleared and e["event"] == "segment_audio")
        # what was still playing when the buffer was cleared reports as interrupted (if the
        # avatar had already played all it had received, nothing was left to interrupt)
        assert all(e["interrupted"] for e in sess.events()[cleared:reply]
                   if e["event"] == "playback_finished")
        done = await boson.wait_event(sess, "segment_end", after=reply, timeout=60)
        assert done["seconds"] > 1.0
        played = await boson.wait_event(sess, "playback_finished", after=reply, timeout=60)
        assert played["interrupted"] is False and played["position"] > 1.0
        assert llm.paths("/v1/chat/completions")
        await wait_until(lambda: user.heard_text("noon"), 30, "the reply's transcript")

        # the user leaves: the session ends, the paid session is stopped exactly once
        await user.leave()
        report = await session_ended(worker)
        assert "boson ok" in report
        assert len(boson.stop_calls()) == 1
        assert boson.stop_calls()[0].path == f"/sessions/{sess.id}"
        assert sess.state == "terminated"
        await wait_until(lambda: sess.process.returncode is not None, 30,  # type: ignore
                         "the avatar worker to exit")
        assert AVATAR not in await participants(livekit_server, name)
        assert len(boson.start_calls()) == 1
        TIMINGS["face join (composer)"] = float(report.split("boson ok in ")[1].split()[0])
        print("\nboson room timings:", TIMINGS)


async def test_standin_boson_avatar_killed_mid_reply_continues_audio_only(
        livekit_server, tmp_path, llm) -> None:
    name = "boson-killed"
    async with BosonStandin(workdir=tmp_path) as boson, \
            room_session(livekit_server, tmp_path, llm, boson, name) as (worker, user):
        sess = await boson.wait_session(90)
        await boson.wait_event(sess, "segment_audio", timeout=90)
        await wait_until(lambda: user.got(AVATAR).loud_seconds(0) > 0.5, 60,
                         "the greeting from the avatar")
        agent = agent_identity(user)
        assert user.got(agent).loud_seconds(0) == 0

        # the provider's renderer dies in the middle of the greeting
        killed = time.monotonic()
        boson.kill_worker(sess)
        await wait_until(lambda: "died mid-session" in worker.output(), 60,
                         "the composer to notice the dead avatar")
        TIMINGS["kill -> audio-only"] = time.monotonic() - killed

        # the conversation goes on: the next answer is the agent's own audio, transcribed
        asked = time.monotonic()
        user.speak()
        await wait_until(lambda: user.got(agent).loud_seconds(asked) > 1.0, 90,
                         "the next answer as the agent's own audio track")
        await wait_until(lambda: user.heard_text("noon", asked), 30, "the answer's transcript")
        # ...and still synchronised with the audio (the transcript synchroniser survived the
        # swap to the fallback sink): its words arrive over the reply's playback, where a
        # replaced chain (session.output.audio = ...) sends them all at once (~0.05 s)
        times = next(t.chunk_times for t in user.transcripts if "noon" in t.text)
        assert times[-1] - times[0] > 0.5

        await user.leave()
        report = await session_ended(worker)
        assert "died mid-session" in report
        assert len(boson.stop_calls()) == 1  # the dead avatar's paid session still ends
        assert sess.state == "terminated"
        assert AVATAR not in await participants(livekit_server, name)
        print("\nboson kill timings:", TIMINGS)


async def test_standin_boson_refuses_start_next_face_runs(livekit_server, tmp_path, llm) -> None:
    name = "boson-refused"
    async with BosonStandin(workdir=tmp_path, refuse_status=403) as boson, \
            room_session(livekit_server, tmp_path, llm, boson, name, fallback='"local"',
                         greeting="Hello there, nice to meet you.") as (worker, user):
        await wait_until(lambda: any(p.kind == 4 for p in user.room.remote_participants.values()),
                         90, "the agent to join")
        agent = agent_identity(user)
        # the next face of the chain (local, rendered by the agent itself) runs
        await wait_until(lambda: user.got(agent).video_frames >= 15, 90,
                         "video frames from the local face")
        await wait_until(lambda: user.got(agent).loud_seconds(0) > 0.5, 60,
                         "the greeting from the local face")
        await user.leave()
        report = await session_ended(worker)
        assert "boson failed" in report and "local ok" in report
        assert len(boson.start_calls()) == 1  # a 4xx is final: no retry
        assert boson.sessions == {} and boson.stop_calls() == []
        assert AVATAR not in user.received


async def test_standin_boson_worker_sigterm_stops_every_session(
        livekit_server, tmp_path, llm) -> None:
    rooms = ["boson-term-1", "boson-term-2"]
    async with BosonStandin(workdir=tmp_path, linger=True) as boson:
        worker = boson_worker(livekit_server, tmp_path,
                              worker_config(agent_name="boson-term", llm=llm, boson=boson))
        users = [RoomUser(livekit_server, room) for room in rooms]
        try:
            await worker.started()
            for room, user in zip(rooms, users):
                await user.join()
                await dispatch(livekit_server, room, "boson-term")
            await wait_until(lambda: len(boson.sessions) == 2, 120, "two Boson sessions")
            for sess in boson.sessions.values():
                await boson.wait_event(sess, "segment_audio", timeout=90)

            # mid-session, the worker is told to stop (a deploy, a scale-down)
            signalled = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            await wait_until(lambda: len(boson.stop_calls()) == 2, 90,
                             "both provider sessions to be stopped")
            TIMINGS["SIGTERM -> every provider session stopped"] = time.monotonic() - signalled
            await worker.exited(90)
            assert sorted(c.path for c in boson.stop_calls()) == sorted(
                f"/sessions/{sid}" for sid in boson.sessions)
            assert all(s.state == "terminated" for s in boson.sessions.values())
            for room in rooms:
                assert AVATAR not in await participants(livekit_server, room)
            print("\nboson SIGTERM timings:", TIMINGS)
        finally:
            for user in users:
                await user.leave()
            await worker.stopped()
