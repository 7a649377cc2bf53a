"""The ``did`` face: a D-ID agent via ``livekit-plugins-did``.

D-ID's avatar joins the room as ``d-id-avatar-agent`` and takes the agent's voice (16, 24
or 48 kHz) on ``lk.audio_stream``. The plugin's join call has no matching end call:
avatarkit removes the avatar participant on every exit path.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace


class DIDFace(AvatarSessionFace):
    """D-ID realtime agent avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "did"
    provider: ClassVar[str] = "D-ID"
    required: ClassVar[dict[str, str]] = {"api_key": "DID_API_KEY", "agent_id": "DID_AGENT_ID"}

    class Options(ApiOptions):
        agent_id: str | None = Field(default=None, description="D-ID agent; else DID_AGENT_ID.")
        sample_rate: Literal[16000, 24000, 48000] = Field(
            default=24000, description="Rate of the audio sent to the avatar.")

    def plugin_kwargs(self) -> dict[str, Any]:
        from livekit.plugins.did import AudioConfig

        o = self.options
        return {"agent_id": self.option_or_env("agent_id"), "api_url": o.api_url,
                "api_key": o.api_key, "audio_config": AudioConfig(sample_rate=o.sample_rate)}


@hookimpl
def register_faces(register: Any) -> None:
    register(DIDFace)
