"""The face's emotion/background tools with the realtime brain: the tools (with the face's
own enum) reach the OpenAI Realtime session in ``session.update``, the stand-in model calls
``set_emotion`` over the Realtime protocol, the face takes it and the tool's answer goes
back to the model as a ``function_call_output`` item.

The cloud is the OpenAI stand-in (``standins/openai_api.py``: the Realtime WebSocket);
the brain, session, tools and face chain are the real ones (``avatarkit.attach`` on a
session built from the realtime brain, no room).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from avatarkit import attach
from avatarkit.brains.realtime import RealtimeBrain
from avatarkit.registry import Registry
from standins.openai_api import OpenAIStandin
from test_attach import faces  # noqa: F401 - the fixture
from test_composer import SilentTransport

pytestmark = pytest.mark.standin


async def wait_for(check: Any, what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_standin_realtime_model_calls_set_emotion(faces: Any) -> None:  # noqa: F811
    from livekit.agents import Agent, AgentSession
    from livekit.agents.utils import http_context

    oai = OpenAIStandin(api_key="sk-rt", tool_calls=[("set_emotion", {"emotion": "concerned"})])
    async with oai, http_context.open():
        brain = RealtimeBrain({"api_key": "sk-rt", "base_url": oai.base_url})
        session: AgentSession[Any] = AgentSession(**brain.build().session_kwargs())
        agent = Agent(instructions="Show how you feel.")
        avatar = await attach(session, SilentTransport(), face="moody", agent=agent,
                              registry=Registry.load(environ={}), environ={})
        try:
            await session.start(agent)
            await asyncio.wait_for(session.generate_reply(user_input="my parcel is lost"), 10)
            await wait_for(lambda: avatar.face.shown, "the face to change")
            await wait_for(lambda: outputs(oai), "the tool's answer to reach the model")
        finally:
            await session.aclose()
            await avatar.aclose()

    updates = [e["session"] for e in oai.realtime_events if e["type"] == "session.update"]
    tools = {t["name"]: t for u in updates for t in u.get("tools") or []}
    assert set(tools) == {"set_emotion", "set_background"}
    emotion = tools["set_emotion"]["parameters"]["properties"]["emotion"]
    assert emotion["enum"] == ["neutral", "happy", "concerned"]
    assert avatar.face.shown == [("concerned", 1.0)]
    assert outputs(oai) == ["Your face now shows: concerned."]
    assert faces.EVENTS.count(("close", "moody")) == 1


def outputs(oai: OpenAIStandin) -> list[str]:
    """The function results the session sent back to the Realtime model."""
    return [e["item"]["output"] for e in oai.realtime_events
            if e["type"] == "conversation.item.create"
            and e["item"].get("type") == "function_call_output"]
