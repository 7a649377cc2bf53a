"""The ``boson`` face: Boson AI's Higgs avatar via ``livekit-plugins-boson-avatar``.

The avatar joins the LiveKit room as its own participant (``boson-avatar-agent``), receives
the agent's audio (24 kHz) on the ``lk.audio_stream`` byte stream and publishes video and
audio on the agent's behalf. The plugin ends the paid session itself
(``DELETE /sessions/{id}``, also after a failed or cancelled start);
:class:`~avatarkit.faces.avatar_session.AvatarSessionFace` adds the join deadline, failure
detection and the avatar's removal on every exit path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import LIVEKIT_ENV, AvatarSessionFace, AvatarSessionOptions

MAX_DURATION_S = 14_400  # the plugin refuses longer sessions


class BosonFace(AvatarSessionFace):
    """Boson Higgs realtime avatar (a cloud avatar that joins the LiveKit room)."""

    name: ClassVar[str] = "boson"
    summary: ClassVar[str] = "Boson AI Higgs cloud avatar (joins the LiveKit room)."
    env: ClassVar[tuple[str, ...]] = (
        "BOSON_API_KEY", "BOSON_AVATAR_ID", "BOSON_AVATAR_API_URL", *LIVEKIT_ENV)
    provider: ClassVar[str] = "Boson"
    plugin_module: ClassVar[str] = "livekit.plugins.boson_avatar"
    plugin_stops_session: ClassVar[bool] = True
    max_session_s: ClassVar[float | None] = MAX_DURATION_S

    class Options(AvatarSessionOptions):

        avatar_id: str | None = Field(default=None, description="Else BOSON_AVATAR_ID.")
        api_key: SecretStr | None = Field(
            default=None, description="Else BOSON_API_KEY (or BOSONAI_API_KEY).")
        api_url: str | None = Field(
            default=None, description="Avatar session service URL; else BOSON_AVATAR_API_URL.")
        width: int | None = Field(default=None, gt=0, description="Video width (with height).")
        height: int | None = Field(default=None, gt=0, description="Video height (with width).")
        max_duration_seconds: int | None = Field(
            default=None, gt=0, le=MAX_DURATION_S,
            description="The provider ends the session after this long.")
        avatar_identity: str | None = Field(
            default=None, description="The avatar's participant identity (boson-avatar-agent).")

        @field_validator("api_url")
        @classmethod
        def _url(cls, value: str | None) -> str | None:
            if value is not None and not value.startswith(("https://", "http://")):
                raise ValueError("must be an http(s) URL (https unless on loopback)")
            return value

        @model_validator(mode="after")
        def _size(self) -> BosonFace.Options:
            if (self.width is None) != (self.height is None):
                raise ValueError("width and height go together")
            return self

    options: Options

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        needed = [] if options.api_key is not None else ["BOSON_API_KEY"]
        if not options.avatar_id:
            needed.append("BOSON_AVATAR_ID")
        if not options.api_url:
            needed.append("BOSON_AVATAR_API_URL")
        return (*needed, *LIVEKIT_ENV)

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """As the plugin does, accept ``BOSONAI_API_KEY`` for ``BOSON_API_KEY``."""
        import os

        environ = os.environ if environ is None else environ
        if not environ.get("BOSON_API_KEY") and environ.get("BOSONAI_API_KEY"):
            environ = {**environ, "BOSON_API_KEY": environ["BOSONAI_API_KEY"]}
        super().check_usable(options, environ)

    def build_avatar(self) -> Any:
        from livekit.plugins import boson_avatar

        o = self.options
        kwargs: dict[str, Any] = {
            key: value for key, value in (
                ("avatar_id", o.avatar_id), ("api_url", o.api_url), ("width", o.width),
                ("height", o.height), ("max_duration_seconds", o.max_duration_seconds),
                ("avatar_participant_identity", o.avatar_identity),
            ) if value is not None
        }
        if o.api_key is not None:
            kwargs["api_key"] = o.api_key.get_secret_value()
        return boson_avatar.AvatarSession(**kwargs)


@hookimpl
def register_faces(register: Any) -> None:
    register(BosonFace)
