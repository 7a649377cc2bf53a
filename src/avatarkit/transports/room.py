"""The LiveKit room transport: media flows through ``RoomIO`` in a worker job."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .base import Transport

if TYPE_CHECKING:
    from livekit import rtc
    from livekit.agents import AgentSession, JobContext


class RoomTransport(Transport):
    """A connected LiveKit room: a worker job's (``RoomTransport(ctx)``, production) or any
    room the caller connected (``RoomTransport(room=room)``, :func:`avatarkit.attach`)."""

    name = "livekit"

    def __init__(self, ctx: JobContext | None = None, *, room: rtc.Room | None = None) -> None:
        if room is None:
            if ctx is None:
                raise TypeError("RoomTransport needs a job context or a room")
            room = ctx.room
        self._room = room
        self._fallback: Any = None
        self._fallback_start: asyncio.Task[None] | None = None

    async def fallback_audio_output(self) -> Any:
        """Publish the agent's own audio track again (RoomIO's was replaced by the face's)."""
        from ..lk_private import participant_audio_output

        if self._fallback is None:
            self._fallback, self._fallback_start = participant_audio_output(self._room)
        return self._fallback

    async def aclose(self) -> None:
        if self._fallback_start is not None:
            self._fallback_start.cancel()
            await asyncio.gather(self._fallback_start, return_exceptions=True)
            self._fallback_start = None
        if self._fallback is not None:
            await self._fallback.aclose()
            self._fallback = None

    @property
    def room(self) -> rtc.Room:
        return self._room

    def start_kwargs(self, session: AgentSession) -> dict[str, Any]:
        from livekit.agents import room_io

        # A face that installed its own audio output (an avatar) replaces RoomIO's track.
        options = room_io.RoomOptions(audio_output=session.output.audio is None)
        return {"room": self._room, "room_options": options}

    async def wait_done(self, session: AgentSession) -> None:
        done = asyncio.Event()
        session.on("close", lambda _ev: done.set())
        self._room.on("disconnected", lambda *_a: done.set())
        if not self._room.isconnected():
            return
        await done.wait()
