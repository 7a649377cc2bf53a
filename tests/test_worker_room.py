"""`avatarkit run --brain local --face local` in a real LiveKit room, end to end.

The session's real worker (``local_worker``: ``--dev``, explicit dispatch by agent name)
serves these tests. A test user (the ``livekit`` rtc SDK) joins with a token, says the
bundled spoken question into its microphone track in real time, and receives the avatar's
video (its mouth moves while the agent speaks and not before), the agent's audio, and both
transcriptions on ``lk.transcription``. The face renders small and still when idle (no
blinks, no head motion) so that only speech moves the mouth and two cores keep up.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest
from livekit import api

from livekit_server import LiveKitServer
from local_helpers import words
from room_user import RoomUser, load_wav_16k
from room_worker import LOCAL_AGENT, WorkerProcess

pytestmark = [pytest.mark.room, pytest.mark.e2e, pytest.mark.local_extra]
AGENT = LOCAL_AGENT
JOIN_TIMEOUT = 240.0  # a job process loads whisper, Piper and llama.cpp on 2 busy cores


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.2)


async def test_spoken_question_gets_a_lip_synced_answer_in_the_room(
        livekit_server: LiveKitServer, local_worker: WorkerProcess) -> None:
    user = RoomUser(livekit_server, "ask-room", agent_name=AGENT)  # dispatch in the token
    await user.join()
    try:
        agent = await user.wait_for_agent(JOIN_TIMEOUT)
        await user.wait_for_media(60)
        idle_from = time.monotonic()
        await asyncio.sleep(3.0)  # the avatar idles: a still face
        idle_to = time.monotonic()
        speech_end = await user.say(load_wav_16k())  # "What is the capital of France?"
        await wait_until(lambda: user.agent_text(speech_end), 180, "the answer's transcript")
        await asyncio.sleep(0.5)
    finally:
        await user.leave()
    assert agent.identity in {t.identity for t in user.transcripts}

    # the transcriptions: the user's question (the agent's STT) and the answer
    assert words(user.user_text()) & {"capital", "france"}, user.transcripts
    assert len(user.agent_text(speech_end).split()) >= 2, user.transcripts

    # the agent's audio: silent while idle, speech after the question
    idle_level = max(v for t, v in user.levels if idle_from <= t < idle_to)
    speaking_at = user.loud_since(speech_end, level=0.02)
    assert speaking_at is not None, "no agent audio after the question"
    speech_level = max(v for t, v in user.levels if t >= speaking_at)
    assert idle_level < 0.005 and speech_level > 0.05, (idle_level, speech_level)

    # the avatar's video: the mouth region is still while idle and moves with the speech
    idle = user.mouth_motion(idle_from, idle_to)
    speaking = user.mouth_motion(speaking_at, speaking_at + 2.0)
    print(f"mouth change per frame: idle median {np.median(idle):.2f}, speaking median "
          f"{np.median(speaking):.2f} max {speaking.max():.2f}; audio idle {idle_level:.4f}, "
          f"speaking {speech_level:.3f}")
    assert len(idle) >= 10 and len(speaking) >= 10, (len(idle), len(speaking))
    assert float(np.median(speaking)) > 4 * max(float(np.median(idle)), 0.1), (idle, speaking)
    assert float(speaking.max()) > 3.0, speaking
    assert user.video_size == (256, 256)

    # the user left: the session ends and the worker frees its slot
    await wait_until(lambda: local_worker.status()["active_jobs"] == 0, 60,
                     "the worker to end the session")


async def test_explicit_dispatch_through_the_agent_dispatch_api(
        livekit_server: LiveKitServer, local_worker: WorkerProcess) -> None:
    lkapi = livekit_server.api()
    user = RoomUser(livekit_server, "dispatched-room")
    bystander = RoomUser(livekit_server, "undispatched-room", identity="bystander")
    try:
        await bystander.join()  # a room first, with no dispatch: a named worker stays out
        dispatch = await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=AGENT, room="dispatched-room",
                                           metadata="from the test"))
        await user.join()
        agent = await user.wait_for_agent(JOIN_TIMEOUT)
        await user.wait_for_media(60)
        listed = await lkapi.agent_dispatch.list_dispatch(room_name="dispatched-room")
        assert dispatch.id in {d.id for d in listed}
        assert agent.attributes.get("lk.agent.name") == AGENT
        assert not bystander.agents()
        assert local_worker.rooms()[-1] == "dispatched-room"
        assert "undispatched-room" not in local_worker.rooms()
    finally:
        await asyncio.gather(user.leave(), bystander.leave(), return_exceptions=True)
        await lkapi.aclose()
