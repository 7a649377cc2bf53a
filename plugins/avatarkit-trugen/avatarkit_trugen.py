"""The ``trugen`` face: a TruGen avatar via ``livekit-plugins-trugen``.

The avatar joins the room as ``trugen-avatar`` and takes the agent's voice on
``lk.audio_stream`` at the TTS's own rate. TruGen's API (``https://api.trugen.ai``, fixed in
the plugin) has no session end call: avatarkit removes the avatar participant on every exit
path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import AvatarSessionFace, AvatarSessionOptions


class TruGenFace(AvatarSessionFace):
    """TruGen realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "trugen"
    summary: ClassVar[str] = "TruGen cloud avatar (joins the LiveKit room)."
    provider: ClassVar[str] = "TruGen"
    plugin_module: ClassVar[str] = "livekit.plugins.trugen"
    required: ClassVar[dict[str, str]] = {"api_key": "TRUGEN_API_KEY"}

    class Options(AvatarSessionOptions):
        avatar_id: str | None = Field(default=None, description="Else the stock avatar.")
        api_key: SecretStr | None = Field(default=None, description="Else TRUGEN_API_KEY.")


@hookimpl
def register_faces(register: Any) -> None:
    register(TruGenFace)
