"""The ``lemonslice`` face: a LemonSlice agent via ``livekit-plugins-lemonslice``.

LemonSlice's avatar joins the room as ``lemonslice-avatar-agent`` and takes the agent's voice
(24 kHz by default) on ``lk.audio_stream``. Its API has no session end call (only
``leave-meeting`` for meeting bots) and relies on ``idle_timeout``: avatarkit removes the
avatar participant on every exit path.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, FilePath

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace
from avatarkit.part import HttpUrl


class LemonSliceFace(AvatarSessionFace):
    """LemonSlice realtime avatar from an agent or one image (joins the LiveKit room)."""

    name: ClassVar[str] = "lemonslice"
    summary: ClassVar[str] = "LemonSlice cloud avatar from an agent or an image (joins the room)."
    provider: ClassVar[str] = "LemonSlice"
    required: ClassVar[dict[str, str]] = {"api_key": "LEMONSLICE_API_KEY"}
    stop_call: ClassVar[str] = "none (LemonSlice ends it after idle_timeout); participant removed"

    class Options(ApiOptions):
        exactly_one: ClassVar[tuple[str, ...]] = ("agent_id", "agent_image_url", "agent_image")

        agent_id: str | None = Field(default=None, description="A LemonSlice agent.")
        agent_image_url: HttpUrl | None = Field(default=None, description="Or an image URL.")
        agent_image: FilePath | None = Field(default=None, description="Or an image file.")
        agent_prompt: str | None = Field(default=None, description="How the avatar moves.")
        agent_idle_prompt: str | None = Field(default=None, description="...while idle.")
        idle_timeout: int | None = Field(default=None, gt=0, description="Seconds.")
        audio_sample_rate: Literal[16000, 22050, 24000, 44100, 48000] = 24000
        model: str | None = Field(default=None, description="A LemonSlice model name.")

    def plugin_kwargs(self) -> dict[str, Any]:
        kwargs = super().plugin_kwargs()
        if self.options.agent_image is not None:
            from PIL import Image

            kwargs["agent_image"] = Image.open(self.options.agent_image)
        return kwargs


@hookimpl
def register_faces(register: Any) -> None:
    register(LemonSliceFace)
