"""The ``synthesia`` face: a Synthesia interactive avatar via ``livekit-plugins-synthesia``.

Synthesia's avatar joins the room as ``synthesia-avatar-agent`` and takes the agent's voice
on ``lk.audio_stream``; up to five avatars can be precomputed and swapped mid-session. The
session API has no end call: avatarkit removes the avatar participant on every exit path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace


class SynthesiaFace(AvatarSessionFace):
    """Synthesia interactive avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "synthesia"
    summary: ClassVar[str] = "Synthesia interactive cloud avatar (joins the LiveKit room)."
    provider: ClassVar[str] = "Synthesia"
    required: ClassVar[dict[str, str]] = {"api_key": "SYNTHESIA_API_KEY"}

    class Options(ApiOptions):
        avatar_ids: list[str] = Field(min_length=1, max_length=5,
                                      description="1-5 gallery avatar ids (the first shows).")

    def plugin_kwargs(self) -> dict[str, Any]:
        from livekit.plugins.synthesia import AvatarConfig

        o = self.options
        return {"avatar_config": AvatarConfig(avatar_ids=o.avatar_ids), "api_url": o.api_url,
                "api_key": o.api_key, "join_timeout": o.join_timeout}


@hookimpl
def register_faces(register: Any) -> None:
    register(SynthesiaFace)
