"""The ``anam`` face: an Anam persona via ``livekit-plugins-anam``.

Anam's engine joins the room as ``anam-avatar-agent`` and takes the agent's voice (24 kHz)
on ``lk.audio_stream``; avatarkit's LLM drives it (an ephemeral persona). Anam's engine
session API has no end call: avatarkit removes the avatar participant on every exit path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace


class AnamFace(AvatarSessionFace):
    """Anam realtime persona avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "anam"
    provider: ClassVar[str] = "Anam"
    required: ClassVar[dict[str, str]] = {"api_key": "ANAM_API_KEY", "avatar_id": "ANAM_AVATAR_ID"}

    class Options(ApiOptions):
        avatar_id: str | None = Field(default=None, description="Anam avatar; else ANAM_AVATAR_ID.")
        persona_name: str = Field(default="avatarkit", min_length=1,
                                  description="Name of the ephemeral persona.")
        avatar_model: str | None = Field(default=None, description="Pin an avatar model.")
        video_width: int | None = Field(default=None, gt=0, description="With video_height.")
        video_height: int | None = Field(default=None, gt=0, description="With video_width.")
        show_ai_avatar_disclosure: bool | None = Field(
            default=None, description="Have Anam watermark the video as AI-generated.")

        @model_validator(mode="after")
        def _size(self) -> AnamFace.Options:
            if (self.video_width is None) != (self.video_height is None):
                raise ValueError("video_width and video_height go together")
            return self

    def plugin_kwargs(self) -> dict[str, Any]:
        from livekit.plugins.anam import PersonaConfig, SessionOptions

        o = self.options
        persona = PersonaConfig(name=o.persona_name, avatarId=self.option_or_env("avatar_id"),
                                avatarModel=o.avatar_model)
        video = SessionOptions(video_width=o.video_width, video_height=o.video_height,
                               show_ai_avatar_disclosure=o.show_ai_avatar_disclosure)
        return {"persona_config": persona, "api_url": o.api_url, "api_key": o.api_key,
                "session_options": video if video != SessionOptions() else None}


@hookimpl
def register_faces(register: Any) -> None:
    register(AnamFace)
