"""The ``runway`` face: a Runway Characters avatar via ``livekit-plugins-runway``.

Runway's avatar joins the room as ``runway-avatar-agent`` and takes the agent's voice
(16 kHz) on ``lk.audio_stream``. Runway cuts sessions at about 300 s whatever
``max_duration`` says (livekit/agents #6427, #6703): avatarkit rotates to a fresh session
before that, between replies. The plugin ends each session itself: an ``END_CALL`` data
message to the avatar, or ``DELETE /v1/realtime_sessions/{id}`` once the room is gone. The
plugin removes the avatar right after its ``END_CALL``, which can beat the message: avatarkit
lets the avatar leave first. An ``END_CALL`` to an avatar that never joined reaches no one:
then avatarkit sends the ``DELETE`` (the plugin's call) itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace

HARD_CAP_S = 300  # observed: sessions end at ~300 s even with maxDuration=1800
END_CALL_GRACE_S = 3.0  # for the avatar to leave on END_CALL before it is removed


class RunwayFace(AvatarSessionFace):
    """Runway Characters realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "runway"
    summary: ClassVar[str] = "Runway Characters cloud avatar (joins the LiveKit room)."
    provider: ClassVar[str] = "Runway"
    required: ClassVar[dict[str, str]] = {"api_key": "RUNWAYML_API_SECRET"}
    plugin_stops_session: ClassVar[bool] = True
    stop_call: ClassVar[str] = ("END_CALL data message, else (room gone, or the avatar never "
                                "joined) DELETE /v1/realtime_sessions/{id} (the plugin's)")
    max_session_s: ClassVar[float | None] = HARD_CAP_S
    duration_option: ClassVar[str | None] = "max_duration"

    class Options(ApiOptions):
        exactly_one: ClassVar[tuple[str, ...]] = ("avatar_id", "preset_id")

        avatar_id: str | None = Field(default=None, description="A custom avatar.")
        preset_id: str | None = Field(default=None, description="Or a Runway preset.")
        max_duration: int | None = Field(default=None, gt=0,
                                         description="Runway ends the session after this.")

    async def end_session(self, avatar: Any) -> None:
        if avatar.avatar_identity not in self.room.remote_participants:
            await avatar._cancel_runway_realtime_session()

    async def close_plugin(self, avatar: Any) -> None:
        if self.room.isconnected() and avatar.avatar_identity in self.room.remote_participants:
            await avatar._ensure_end_session_task()  # the plugin's END_CALL, sent once
            await self.wait_left(avatar.avatar_identity, END_CALL_GRACE_S)
        await super().close_plugin(avatar)


@hookimpl
def register_faces(register: Any) -> None:
    register(RunwayFace)
