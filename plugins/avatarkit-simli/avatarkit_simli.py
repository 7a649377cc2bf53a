"""The ``simli`` face: a Simli face via ``livekit-plugins-simli``.

Simli's avatar joins the room as ``simli-avatar-agent`` and takes the agent's voice (16 kHz)
on ``lk.audio_stream``. Simli ends a session after ``max_session_length`` (the cap avatarkit
rotates before) or ``max_idle_time`` without speech; there is no end call, so avatarkit
removes the avatar participant on every exit path. The plugin only *logs* a refused start;
avatarkit turns that into a failure at once, so the next face of the chain runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace

SESSION_LENGTH_S = 600  # the plugin's default maxSessionLength


class SimliFace(AvatarSessionFace):
    """Simli realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "simli"
    provider: ClassVar[str] = "Simli"
    required: ClassVar[dict[str, str]] = {"api_key": "SIMLI_API_KEY", "face_id": "SIMLI_FACE_ID"}
    stop_call: ClassVar[str] = "none (Simli ends it after max_idle_time); participant removed"
    max_session_s: ClassVar[float | None] = SESSION_LENGTH_S
    duration_option: ClassVar[str | None] = "max_session_length"

    class Options(ApiOptions):
        face_id: str | None = Field(default=None, description="Simli face; else SIMLI_FACE_ID.")
        emotion_id: str | None = Field(default=None, description="Trinity faces' emotion.")
        max_session_length: int = Field(
            default=SESSION_LENGTH_S, gt=0, description="Simli ends the session after this.")
        max_idle_time: int = Field(default=30, gt=0,
                                   description="Simli ends a session silent this long.")

    def plugin_kwargs(self) -> dict[str, Any]:
        from livekit.plugins.simli import SimliConfig

        o = self.options
        config = SimliConfig(api_key=self.option_or_env("api_key"),
                             face_id=self.option_or_env("face_id"),
                             max_session_length=o.max_session_length,
                             max_idle_time=o.max_idle_time)
        if o.emotion_id:
            config.emotion_id = o.emotion_id
        return {"simli_config": config, "api_url": o.api_url}


@hookimpl
def register_faces(register: Any) -> None:
    register(SimliFace)
