"""The ``boson`` face: Boson AI's Higgs avatar via ``livekit-plugins-boson-avatar``.

The avatar joins the LiveKit room as its own participant (``boson-avatar-agent``), receives
the agent's audio (24 kHz) on the ``lk.audio_stream`` byte stream and publishes video and
audio on the agent's behalf. The plugin ends the paid session itself
(``DELETE /sessions/{id}``, also after a failed or cancelled start);
:class:`~avatarkit.faces.avatar_session.AvatarSessionFace` adds the join deadline, failure
detection, rotation and the avatar's removal on every exit path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, model_validator

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace

MAX_DURATION_S = 14_400  # the plugin refuses longer sessions


class BosonFace(AvatarSessionFace):
    """Boson Higgs realtime avatar (a cloud avatar that joins the LiveKit room)."""

    name: ClassVar[str] = "boson"
    summary: ClassVar[str] = "Boson AI Higgs cloud avatar (joins the LiveKit room)."
    provider: ClassVar[str] = "Boson"
    plugin_module: ClassVar[str] = "livekit.plugins.boson_avatar"
    required: ClassVar[dict[str, str]] = {
        "api_key": "BOSON_API_KEY", "avatar_id": "BOSON_AVATAR_ID",
        "api_url": "BOSON_AVATAR_API_URL"}
    plugin_stops_session: ClassVar[bool] = True
    stop_call: ClassVar[str] = "DELETE /sessions/{id} (the plugin's)"
    max_session_s: ClassVar[float | None] = MAX_DURATION_S
    duration_option: ClassVar[str | None] = "max_duration_seconds"

    class Options(ApiOptions):
        avatar_id: str | None = Field(default=None, description="Else BOSON_AVATAR_ID.")
        width: int | None = Field(default=None, gt=0, description="Video width (with height).")
        height: int | None = Field(default=None, gt=0, description="Video height (with width).")
        max_duration_seconds: int | None = Field(
            default=None, gt=0, le=MAX_DURATION_S,
            description="The provider ends the session after this long.")

        @model_validator(mode="after")
        def _size(self) -> BosonFace.Options:
            if (self.width is None) != (self.height is None):
                raise ValueError("width and height go together")
            return self

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """As the plugin does, accept ``BOSONAI_API_KEY`` for ``BOSON_API_KEY``."""
        import os

        environ = os.environ if environ is None else environ
        if not environ.get("BOSON_API_KEY") and environ.get("BOSONAI_API_KEY"):
            environ = {**environ, "BOSON_API_KEY": environ["BOSONAI_API_KEY"]}
        super().check_usable(options, environ)


@hookimpl
def register_faces(register: Any) -> None:
    register(BosonFace)
