"""Function tools that let the agent show what it feels: ``set_emotion``, ``set_background``.

Built for the face that started, from its own lists (``Face.emotions``, ``Face.backgrounds``)
as the enum of the tool's JSON schema, and added to whatever ``Agent`` runs (the default
one or the user's) with the public ``Agent.update_tools``. Each call goes to the face
showing the agent *now* (``current()``): after a mid-session fallback to audio only the
tools answer that the face is gone, so the model carries on rather than the call failing.

``face_tools = false`` (``[agent]``, or ``--no-face-tools``) leaves them out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .emotions import FACE_TOOLS
from .errors import AvatarkitError, describe
from .face import Face

log = logging.getLogger("avatarkit.face_tools")
EMOTION_TOOL, BACKGROUND_TOOL = FACE_TOOLS


class FaceToolCalls:
    """What the tools did (for tests, reports and benchmarks): ``(monotonic time, tool,
    value, result)`` per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, str, str]] = []

    def add(self, tool: str, value: str, result: str) -> None:
        self.calls.append((time.perf_counter(), tool, value, result))


def face_tools(face: Face, current: Callable[[], Face | None],
               record: FaceToolCalls | None = None) -> list[Any]:
    """The tools ``face`` supports (none for a face without emotions or backgrounds)."""
    tools = []
    if face.emotions:
        tools.append(_emotion_tool(tuple(face.emotions), current, record))
    if face.supports_background and face.backgrounds:
        tools.append(_background_tool(tuple(face.backgrounds), current, record))
    return tools


async def add_face_tools(agent: Any, face: Face, current: Callable[[], Face | None],
                         record: FaceToolCalls | None = None) -> list[str]:
    """Add the face's tools to ``agent`` (before or during its session); the names added.

    A tool the agent already has under the same name is kept (the user's wins).
    """
    own = {getattr(getattr(t, "info", None), "name", None) for t in agent.tools}
    tools = [t for t in face_tools(face, current, record) if t.info.name not in own]
    if tools:
        await agent.update_tools([*agent.tools, *tools])
    return [t.info.name for t in tools]


async def _change(face: Face | None, what: str, refusal: Callable[[Face], str | None],
                  apply: Callable[[Face], Awaitable[None]], done: str, subject: str) -> str:
    """One tool call's answer for the model: the face gone, the value refused, the change
    made, or why it failed (never an exception: the conversation goes on)."""
    if face is None:
        return (f"The avatar's video stopped (audio only now), so it cannot show {what}. "
                "Carry on with the conversation without it.")
    refused = refusal(face)
    if refused is not None:
        return refused
    try:
        await apply(face)
    except AvatarkitError as exc:
        return f"{subject} could not change ({describe(exc)})."
    return done


def _emotion_tool(emotions: tuple[str, ...], current: Callable[[], Face | None],
                  record: FaceToolCalls | None) -> Any:
    from typing import Annotated, Literal

    from livekit.agents import function_tool
    from pydantic import Field

    async def set_emotion(emotion: str, intensity: float = 1.0) -> str:
        def refusal(face: Face) -> str | None:
            if emotion in face.emotions:
                return None
            return (f"The '{face.name}' face cannot show {emotion!r} "
                    f"(it shows: {', '.join(face.emotions) or 'no emotions'}).")

        answer = await _change(current(), "emotions", refusal,
                               lambda face: face.set_emotion(emotion, intensity),
                               f"Your face now shows: {emotion}.", "The face")
        if record is not None:
            record.add(EMOTION_TOOL, emotion, answer)
        return answer

    set_emotion.__annotations__ = {
        "emotion": Annotated[Literal[emotions],
                             Field(description="The emotion to show")],
        "intensity": Annotated[float, Field(ge=0.0, le=1.0,
                                            description="How strongly, 0-1 (default 1)")],
        "return": str,
    }
    return function_tool(
        set_emotion, name=EMOTION_TOOL,
        description="Change the emotion your avatar's face shows, to match what you say "
        "and how the user feels (e.g. concerned when they describe a problem, happy when "
        "they share good news). Call it before the words it goes with; it does not speak.")


def _background_tool(backgrounds: tuple[str, ...], current: Callable[[], Face | None],
                     record: FaceToolCalls | None) -> Any:
    from typing import Annotated, Literal

    from livekit.agents import function_tool
    from pydantic import Field

    async def set_background(background: str) -> str:
        def refusal(face: Face) -> str | None:
            if face.supports_background and background in face.backgrounds:
                return None
            return f"The '{face.name}' face cannot show the {background!r} background."

        answer = await _change(current(), "a background", refusal,
                               lambda face: face.set_background(background),
                               f"The background is now: {background}.", "The background")
        if record is not None:
            record.add(BACKGROUND_TOOL, background, answer)
        return answer

    set_background.__annotations__ = {
        "background": Annotated[Literal[backgrounds],
                                Field(description="The backdrop to show")],
        "return": str,
    }
    return function_tool(
        set_background, name=BACKGROUND_TOOL,
        description="Change the backdrop behind your avatar when the user asks for one "
        "or the setting calls for it.")
