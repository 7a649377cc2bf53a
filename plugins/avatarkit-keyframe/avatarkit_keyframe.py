"""The ``keyframe`` face: a Keyframe Labs persona via ``livekit-plugins-keyframe``.

Keyframe's avatar joins the room as ``keyframe-avatar-agent`` and takes the agent's voice
(24 kHz) on ``lk.audio_stream``, with emotions on the ``lk.control`` topic. Its plugin
session API returns a reservation with no end call: avatarkit removes the avatar
participant on every exit path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.face import EMOTIONS
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace


class KeyframeFace(AvatarSessionFace):
    """Keyframe Labs realtime persona (joins the LiveKit room; emotions)."""

    name: ClassVar[str] = "keyframe"
    summary: ClassVar[str] = "Keyframe Labs cloud avatar with emotions (joins the LiveKit room)."
    provider: ClassVar[str] = "Keyframe"
    required: ClassVar[dict[str, str]] = {"api_key": "KEYFRAME_API_KEY"}
    emotions: ClassVar[tuple[str, ...]] = EMOTIONS

    class Options(ApiOptions):
        exactly_one: ClassVar[tuple[str, ...]] = ("persona_id", "persona_slug")

        persona_id: str | None = Field(default=None, description="A Keyframe persona id.")
        persona_slug: str | None = Field(default=None, description="Or its slug.")

    async def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        """Every avatarkit emotion is one of Keyframe's (persona-1.5 shows four of them)."""
        await self.avatar.set_emotion(name)


@hookimpl
def register_faces(register: Any) -> None:
    register(KeyframeFace)
