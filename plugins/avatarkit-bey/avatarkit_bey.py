"""The ``bey`` face: a Beyond Presence avatar via ``livekit-plugins-bey``.

The avatar joins the room as ``bey-avatar-agent`` and takes the agent's voice (16 kHz) on
``lk.audio_stream``. Beyond Presence's LiveKit API has no session end call: avatarkit removes
the avatar participant on every exit path, which ends its session.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace


class BeyFace(AvatarSessionFace):
    """Beyond Presence realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "bey"
    provider: ClassVar[str] = "Beyond Presence"
    required: ClassVar[dict[str, str]] = {"api_key": "BEY_API_KEY"}

    class Options(ApiOptions):
        avatar_id: str | None = Field(default=None, description="Else the stock avatar.")


@hookimpl
def register_faces(register: Any) -> None:
    register(BeyFace)
