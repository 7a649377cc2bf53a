"""The ``protoface`` face: a Protoface avatar via ``livekit-plugins-protoface``.

Protoface's worker joins the room as ``protoface-avatar-agent`` and takes the agent's voice
(16 kHz) on ``lk.audio_stream``. The plugin ends the session itself
(``POST /v1/sessions/{id}/end``); ``max_duration_seconds`` (or the plan's limit) caps it,
and avatarkit rotates before that.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace


class ProtofaceFace(AvatarSessionFace):
    """Protoface realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "protoface"
    provider: ClassVar[str] = "Protoface"
    required: ClassVar[dict[str, str]] = {"api_key": "PROTOFACE_API_KEY"}
    plugin_stops_session: ClassVar[bool] = True
    stop_call: ClassVar[str] = "POST /v1/sessions/{id}/end (the plugin's)"
    duration_option: ClassVar[str | None] = "max_duration_seconds"

    class Options(ApiOptions):
        avatar_id: str | None = Field(default=None, description="Else the stock avatar.")
        max_duration_seconds: int | None = Field(
            default=None, gt=0, description="Protoface ends the session after this.")


@hookimpl
def register_faces(register: Any) -> None:
    register(ProtofaceFace)
