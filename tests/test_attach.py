"""``avatarkit.attach`` on a user's own ``AgentSession`` with no room (a test transport):
the composer's face chain (fallback, mid-session death, closing) and the face tools, driven
with real Face plugins and a real session. Bad arguments are refused before any face starts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from avatarkit import attach
from avatarkit.errors import ConfigError, MissingCredentialsError, UnknownPartError
from avatarkit.registry import Registry
from test_composer import SilentTransport

FACES = """
import asyncio
from avatarkit import Face, hookimpl
from avatarkit.errors import FaceStartError

EVENTS = []

class Refusing(Face):
    name = "refusing"
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        raise FaceStartError("no capacity")
    async def aclose(self):
        EVENTS.append(("close", self.name))

class Moody(Face):
    name = "moody"
    emotions = ("neutral", "happy", "concerned")
    supports_background = True
    backgrounds = ("plain", "beach")
    dies = False
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        session.output.audio = transport.audio_output()
        self.shown = []
    def failure(self):
        return RuntimeError("stream lost") if Moody.dies else None
    async def set_emotion(self, name, intensity=1.0):
        self.shown.append((name, intensity))
    async def set_background(self, background):
        self.shown.append(("background", background))
    async def aclose(self):
        EVENTS.append(("close", self.name))

class Paid(Moody):
    name = "paid"
    env = ("PAID_API_KEY",)

@hookimpl
def register_faces(register):
    for f in (Refusing, Moody, Paid):
        register(f)
"""


@pytest.fixture
def faces(plugin_dir, clean_env):
    plugin_dir("avatarkit-attachfaces", {"ak_attachfaces": FACES},
               {"attachfaces": "ak_attachfaces"})
    import ak_attachfaces

    ak_attachfaces.EVENTS.clear()
    ak_attachfaces.Moody.dies = False
    return ak_attachfaces


def tool(agent: Any, name: str) -> Any:
    return next(t for t in agent.tools if t.info.name == name)


async def test_attach_falls_back_adds_tools_and_closes_with_the_session(faces) -> None:
    from livekit.agents import Agent, AgentSession
    from livekit.agents.llm.utils import build_legacy_openai_schema

    session: AgentSession[Any] = AgentSession()
    agent = Agent(instructions="Be kind.")
    transport = SilentTransport()
    avatar = await attach(session, transport, face="refusing", fallback=["moody"],
                          agent=agent, registry=Registry.load(environ={}), environ={})
    assert avatar.face.name == "moody" and avatar.current is avatar.face
    assert [(a.name, a.ok) for a in avatar.report.attempts] == [("refusing", False),
                                                                ("moody", True)]
    assert faces.EVENTS[:3] == [("start", "refusing"), ("close", "refusing"),
                                ("start", "moody")]
    schema = build_legacy_openai_schema(tool(agent, "set_emotion"))["function"]["parameters"]
    assert schema["properties"]["emotion"]["enum"] == ["neutral", "happy", "concerned"]
    schema = build_legacy_openai_schema(tool(agent, "set_background"))["function"]
    assert schema["parameters"]["properties"]["background"]["enum"] == ["plain", "beach"]

    assert await tool(agent, "set_emotion")(emotion="concerned") == \
        "Your face now shows: concerned."
    assert await tool(agent, "set_background")(background="beach") == \
        "The background is now: beach."
    assert avatar.face.shown == [("concerned", 1.0), ("background", "beach")]
    assert [c[1:3] for c in avatar.tool_calls.calls] == [("set_emotion", "concerned"),
                                                          ("set_background", "beach")]

    await session.start(agent)
    await session.aclose()  # the session closes: so does the avatar, once
    for _ in range(100):
        if ("close", "moody") in faces.EVENTS:
            break
        await asyncio.sleep(0.02)
    await avatar.aclose()
    assert faces.EVENTS.count(("close", "moody")) == 1
    assert transport.closed == 0  # the caller's transport stays the caller's


async def test_after_the_face_dies_the_tools_answer_cleanly(faces) -> None:
    from livekit.agents import Agent, AgentSession

    session: AgentSession[Any] = AgentSession()
    agent = Agent(instructions="Be kind.")
    transport = SilentTransport()
    async with await attach(session, transport, face="moody", agent=agent,
                            registry=Registry.load(environ={}), environ={}) as avatar:
        faces.Moody.dies = True
        for _ in range(100):  # the composer's watch polls every 0.25 s
            if avatar.current is None:
                break
            await asyncio.sleep(0.05)
        assert avatar.current is None
        assert ("close", "moody") in faces.EVENTS
        assert "died mid-session: RuntimeError: stream lost" in \
            (avatar.report.attempts[-1].error or "")
        answer = await tool(agent, "set_emotion")(emotion="happy")
        assert "audio only" in answer and "Carry on" in answer
        answer = await tool(agent, "set_background")(background="plain")
        assert "audio only" in answer
        assert avatar.face.shown == []
        # the agent's audio went on through the transport's audio-only output
        assert len(transport.outputs) == 2
    assert faces.EVENTS.count(("close", "moody")) == 1


async def test_tools_can_be_taken_for_the_agent_constructor(faces) -> None:
    from livekit.agents import Agent, AgentSession

    avatar = await attach(AgentSession(), SilentTransport(), face="moody", tools=False,
                          registry=Registry.load(environ={}), environ={})
    try:
        agent = Agent(instructions="x", tools=avatar.tools)
        assert {t.info.name for t in agent.tools} == {"set_emotion", "set_background"}
        assert "set_emotion" not in {t.info.name for t in Agent(instructions="y").tools}
    finally:
        await avatar.aclose()


@pytest.mark.parametrize(("kwargs", "error", "needle"), [
    ({"face": "mooody"}, UnknownPartError, "did you mean 'moody'"),
    ({"face": "paid"}, MissingCredentialsError, "PAID_API_KEY"),
    ({"face": "moody", "fallback": ["paid"]}, MissingCredentialsError, "PAID_API_KEY"),
    ({"face": "moody", "face_options": {"local": {"width": 256}}}, ConfigError,
     "'local', which is not in the face chain (moody -> none)"),
    ({"face": "moody", "join_timeout": 0}, ConfigError, "join_timeout"),
    ({"face": "moody", "transport": None}, ConfigError, "needs the room"),
])
async def test_bad_arguments_are_refused_before_any_face_starts(
        faces, kwargs: dict[str, Any], error: type[Exception], needle: str) -> None:
    from livekit.agents import AgentSession

    room = kwargs.pop("transport", SilentTransport())
    with pytest.raises(error) as info:
        await attach(AgentSession(), room, registry=Registry.load(environ={}), environ={},
                     **kwargs)
    assert needle in str(info.value)
    assert faces.EVENTS == []


def test_the_public_name_stays_the_function() -> None:
    """``avatarkit.attach`` is the function even after its module was imported."""
    import avatarkit
    import avatarkit.embed

    assert avatarkit.attach is avatarkit.embed.attach and callable(avatarkit.attach)
    assert avatarkit.Avatar is avatarkit.embed.Avatar
