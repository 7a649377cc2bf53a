"""The ``avatario`` face: an Avatario avatar via ``livekit-plugins-avatario``.

Avatario's avatar joins the room as ``avatario-avatar-agent`` and takes the agent's voice
(24 kHz) on ``lk.audio_stream``. Its SDK API (``https://avatario.ai/api/sdk``, fixed in the
plugin) has a start call only: avatarkit removes the avatar participant on every exit path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiKeyOptions, AvatarSessionFace
from avatarkit.part import HttpUrl


class AvatarioFace(AvatarSessionFace):
    """Avatario realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "avatario"
    provider: ClassVar[str] = "Avatario"
    required: ClassVar[dict[str, str]] = {
        "api_key": "AVATARIO_API_KEY", "avatar_id": "AVATARIO_AVATAR_ID"}

    class Options(ApiKeyOptions):
        avatar_id: str | None = Field(default=None, description="Else AVATARIO_AVATAR_ID.")
        video_width: int = Field(default=1280, gt=0, description="Output video width.")
        video_height: int = Field(default=720, gt=0, description="Output video height.")
        custom_background_url: HttpUrl | None = Field(default=None, description="A backdrop.")

    def plugin_kwargs(self) -> dict[str, Any]:
        from livekit.plugins.avatario import AvatarSession

        o = self.options
        video = AvatarSession.VideoInfo(video_height=o.video_height, video_width=o.video_width,
                                        custom_background_url=o.custom_background_url)
        return {"avatar_id": o.avatar_id, "api_key": o.api_key, "video_info": video}


@hookimpl
def register_faces(register: Any) -> None:
    register(AvatarioFace)
