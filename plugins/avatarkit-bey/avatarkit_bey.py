"""The ``bey`` face: a Beyond Presence avatar via ``livekit-plugins-bey``.

The avatar joins the room as ``bey-avatar-agent`` and takes the agent's voice (16 kHz) on
``lk.audio_stream``. Beyond Presence's LiveKit API has no session end call: avatarkit removes
the avatar participant on every exit path, which ends its session.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import AvatarSessionFace, AvatarSessionOptions
from avatarkit.part import HttpUrl


class BeyFace(AvatarSessionFace):
    """Beyond Presence realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "bey"
    summary: ClassVar[str] = "Beyond Presence cloud avatar (joins the LiveKit room)."
    provider: ClassVar[str] = "Beyond Presence"
    plugin_module: ClassVar[str] = "livekit.plugins.bey"
    required: ClassVar[dict[str, str]] = {"api_key": "BEY_API_KEY"}

    class Options(AvatarSessionOptions):
        avatar_id: str | None = Field(default=None, description="Else the stock avatar.")
        api_url: HttpUrl | None = Field(default=None, description="Else BEY_API_URL.")
        api_key: SecretStr | None = Field(default=None, description="Else BEY_API_KEY.")


@hookimpl
def register_faces(register: Any) -> None:
    register(BeyFace)
