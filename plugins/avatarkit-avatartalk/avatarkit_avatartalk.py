"""The ``avatartalk`` face: an AvatarTalk avatar via ``livekit-plugins-avatartalk``.

AvatarTalk joins the room twice: the avatar (``avatartalk-agent``, publishing on the agent's
behalf) and a ``listener`` that takes the agent's voice (16 kHz) on ``lk.audio_stream``. The
plugin only *logs* a refused start (avatarkit fails it at once) and ends the session
(``DELETE /livekit/delete-session/{task_id}``) only at job shutdown: avatarkit sends that
call when the face closes (once: the job's later call is skipped) and removes both
participants. Both identities are fixed per room, so sessions do not rotate.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace

LISTENER = "listener"  # the plugin's fixed identity for the audio receiver


class AvatarTalkFace(AvatarSessionFace):
    """AvatarTalk realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "avatartalk"
    provider: ClassVar[str] = "AvatarTalk"
    required: ClassVar[dict[str, str]] = {"api_key": "AVATARTALK_API_KEY"}
    stop_call: ClassVar[str] = ("DELETE /livekit/delete-session/{task_id} (the plugin's, sent "
                                "by avatarkit at close instead of only at job shutdown)")
    rotates: ClassVar[bool] = False

    class Options(ApiOptions):
        avatar: str | None = Field(default=None, description="Else AVATARTALK_AVATAR.")
        emotion: str | None = Field(default=None, description="Else AVATARTALK_EMOTION.")

    def plugin_kwargs(self) -> dict[str, Any]:
        o = self.options
        return {"avatar": o.avatar, "emotion": o.emotion, "api_url": o.api_url,
                "api_secret": o.api_key}

    def build_avatar(self, identity: str | None = None) -> Any:
        avatar = super().build_avatar(identity)
        api, stopped = avatar._avatartalk_api, set()
        original = api.stop_session

        async def stop_once(task_id: str) -> Any:  # the job's shutdown call comes after ours
            if task_id not in stopped:
                stopped.add(task_id)
                return await original(task_id)

        api.stop_session = stop_once
        return avatar

    async def end_session(self, avatar: Any) -> None:
        task_id = getattr(avatar, "conversation_id", None)
        if task_id is not None:
            await avatar._avatartalk_api.stop_session(task_id)

    def participant_identities(self, avatar: Any) -> tuple[str, ...]:
        return (*super().participant_identities(avatar), LISTENER)


@hookimpl
def register_faces(register: Any) -> None:
    register(AvatarTalkFace)
