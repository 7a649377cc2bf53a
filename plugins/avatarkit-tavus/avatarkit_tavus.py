"""The ``tavus`` face: a Tavus conversation via ``livekit-plugins-tavus``.

Tavus's worker joins the room as ``tavus-avatar-agent`` and takes the agent's voice (24 kHz)
on ``lk.audio_stream``. The plugin never ends the conversation (it only removes the
participant; Tavus bills until its own timeout), so avatarkit calls Tavus's documented
``POST /v2/conversations/{id}/end`` on every exit path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from avatarkit import hookimpl
from avatarkit.faces.avatar_session import ApiOptions, AvatarSessionFace


class TavusFace(AvatarSessionFace):
    """Tavus realtime avatar (joins the LiveKit room)."""

    name: ClassVar[str] = "tavus"
    provider: ClassVar[str] = "Tavus"
    required: ClassVar[dict[str, str]] = {"api_key": "TAVUS_API_KEY"}
    stop_call: ClassVar[str] = "POST /v2/conversations/{id}/end (avatarkit's; the plugin has none)"

    class Options(ApiOptions):
        face_id: str | None = Field(
            default=None, description="Face (replica); else TAVUS_FACE_ID, else the stock one.")
        pal_id: str | None = Field(
            default=None, description="PAL (persona); else TAVUS_PAL_ID, else the stock one.")

    async def end_session(self, avatar: Any) -> None:
        if avatar.conversation_id is None:
            return
        api = avatar._api  # the plugin's client: its base URL and key
        url = f"{api._api_url}/conversations/{avatar.conversation_id}/end"
        async with self.http_session().post(url, headers={"x-api-key": api._api_key}) as resp:
            resp.raise_for_status()


@hookimpl
def register_faces(register: Any) -> None:
    register(TavusFace)
