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
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from avatar_room import User, Worker, dispatch, participants, wait_until
from avatarkit.tokens import decode_grants
from standins.boson import BosonStandin
from standins.openai_api import OpenAIStandin

pytestmark = [pytest.mark.room, pytest.mark.standin]

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


@contextlib.asynccontextmanager
async def room_session(livekit_server, tmp_path: Path, llm: OpenAIStandin, boson: BosonStandin,
                       name: str, **config: str) -> AsyncIterator[tuple[Worker, User]]:
    """A worker registered as ``name``, a user in room ``name``, the worker dispatched."""
    worker = Worker(tmp_path, worker_config(agent_name=name, llm=llm, boson=boson, **config),
                    livekit_server.env())
    user = User()
    try:
        await worker.start()
        await user.join(livekit_server.url, livekit_server.token(name, "user"))
        await dispatch(livekit_server, name, name)
        yield worker, user
    finally:
        await user.leave()
        worker.stop()


def agent_identity(user: User) -> str:
    return next(p.identity for p in user.room.remote_participants.values()
                if p.kind == 4 and p.identity != AVATAR)  # PARTICIPANT_KIND_AGENT


async def session_ended(worker: Worker) -> str:
    line = await wait_until(
        lambda: next((ln for ln in worker.log().splitlines() if "session ended" in ln), None),
        60, "the session report in the worker log")
    return str(line)


async def test_standin_boson_face_in_room(livekit_server, tmp_path, llm) -> None:
    name = "boson-room"
    async with BosonStandin(workdir=tmp_path) as boson, \
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
        await wait_until(lambda: user.got(AVATAR).loud_since(0) > 1.0, 60,
                         "the greeting from the avatar")
        assert user.got(agent).loud_since(0) == 0  # the agent itself publishes no audio

        # barge-in: the user speaks over the greeting; the avatar's buffer is cleared
        user.say()
        await boson.wait_event(sess, "clear_buffer", timeout=60)
        finished = [e for e in sess.events() if e["event"] == "playback_finished"]
        assert finished and finished[0]["interrupted"] is True

        # the answer to the question plays through the avatar too, to its end: the
        # avatar answers lk.playback_finished and the agent's reply completes
        cleared = next(i for i, e in enumerate(sess.events()) if e["event"] == "clear_buffer")
        await boson.wait_event(sess, "segment_audio", after=cleared, timeout=90)
        reply = next(i for i, e in enumerate(sess.events())
                     if i > cleared and e["event"] == "segment_audio")
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
