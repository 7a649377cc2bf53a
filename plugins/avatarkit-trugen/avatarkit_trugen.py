"""The ``trugen`` face: a TruGen avatar via ``livekit-plugins-trugen``.

The avatar joins the room as ``trugen-avatar`` and takes the agent's voice on
``lk.audio_stream`` at the TTS's own rate. TruGen's API (``https://api.trugen.ai``, fixed in
the plugin) has no session end call: avatarkit removes the avatar participant on every exit
path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiKeyOptions, AvatarSessionFace


class TruGenFace(AvatarSessionFace):
    """TruGen realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "trugen"
    provider: ClassVar[str] = "TruGen"
    required: ClassVar[dict[str, str]] = {"api_key": "TRUGEN_API_KEY"}

    class Options(ApiKeyOptions):
        avatar_id: str | None = Field(default=None, description="Else the stock avatar.")


@hookimpl
def register_faces(register: Any) -> None:
    register(TruGenFace)
