"""The ``bithuman`` face: bitHuman via ``livekit-plugins-bithuman``, in the cloud or locally.

- **cloud** (``avatar_id`` or ``avatar_image``): bitHuman's avatar joins the room as
  ``bithuman-avatar-agent`` and takes the agent's voice on ``lk.audio_stream``. There is no
  end call: avatarkit removes the avatar participant on every exit path. The plugin puts
  the API secret in the avatar's participant attributes, readable by everyone in the room:
  use a one-hour runtime token as ``api_secret``.
- **local** (``model_path`` to an ``.imx`` model): rendered in this process by the bitHuman
  SDK and published as the agent itself. The plugin's close would remove "the avatar"
  participant, which here is the agent: avatarkit closes the renderer and runtime instead,
  and never removes anyone. One process, no cap: no rotation.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import LIVEKIT_ENV, AvatarSessionFace, AvatarSessionOptions
from avatarkit.part import HttpUrl


class BithumanFace(AvatarSessionFace):
    """bitHuman avatar: a cloud session, or a local ``.imx`` model rendered in-process."""

    name: ClassVar[str] = "bithuman"
    summary: ClassVar[str] = "bitHuman avatar: cloud, or a local .imx model rendered in-process."
    provider: ClassVar[str] = "bitHuman"
    env: ClassVar[tuple[str, ...]] = ("BITHUMAN_API_SECRET", *LIVEKIT_ENV)
    required: ClassVar[dict[str, str]] = {
        "api_secret": "BITHUMAN_API_SECRET", "model_path": "BITHUMAN_MODEL_PATH"}
    stop_call: ClassVar[str] = ("cloud: none, participant removed; local: the renderer and "
                                "runtime closed in-process")

    class Options(AvatarSessionOptions):
        avatar_id: str | None = Field(default=None, description="Cloud: a bitHuman agent.")
        avatar_image: str | None = Field(
            default=None, description="Cloud: a portrait (path, URL or base64; Expression 1).")
        model: Literal["expression", "essence", "expression-2", "essence-2"] | None = Field(
            default=None, description="Cloud: pin the model.")
        model_path: str | None = Field(
            default=None, description="Local: an .imx model; else BITHUMAN_MODEL_PATH.")
        api_url: HttpUrl | None = Field(default=None, description="Else BITHUMAN_API_URL.")
        api_secret: SecretStr | None = Field(default=None,
                                             description="Else BITHUMAN_API_SECRET.")
        api_token: SecretStr | None = Field(
            default=None, description="Local: a runtime token instead; else BITHUMAN_API_TOKEN.")

    @classmethod
    def local(cls, options: Any) -> bool:
        return not (options.avatar_id or options.avatar_image)

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        if not cls.local(options):
            return LIVEKIT_ENV if options.api_secret else cls.env
        needed = [] if options.model_path else ["BITHUMAN_MODEL_PATH"]
        if not (options.api_secret or options.api_token):
            needed.append("BITHUMAN_API_SECRET")  # or BITHUMAN_API_TOKEN, checked below
        return tuple(needed)

    @classmethod
    def check_usable(cls, options: Any, environ: Any = None) -> None:
        import os

        environ = os.environ if environ is None else environ
        if environ.get("BITHUMAN_API_TOKEN") and not environ.get("BITHUMAN_API_SECRET"):
            environ = {**environ, "BITHUMAN_API_SECRET": environ["BITHUMAN_API_TOKEN"]}
        super().check_usable(options, environ)

    @property
    def rotates(self) -> bool:  # type: ignore[override]
        return not self.local(self.options)

    def participant_identities(self, avatar: Any) -> tuple[str, ...]:
        return () if self.local(self.options) else super().participant_identities(avatar)

    async def close_plugin(self, avatar: Any) -> None:
        if not self.local(self.options):
            return await super().close_plugin(avatar)
        avatar._room = None  # so the plugin's close removes no one (its "avatar" is the agent)
        try:
            await super().close_plugin(avatar)  # also cleans up the runtime
        finally:
            if avatar._avatar_runner is not None:
                await avatar._avatar_runner.aclose()


@hookimpl
def register_faces(register: Any) -> None:
    register(BithumanFace)
