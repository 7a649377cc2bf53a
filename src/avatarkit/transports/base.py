"""The transport interface the composer drives.

A transport owns the session's media endpoints. A LiveKit room provides them through
``RoomIO`` (``room`` is set, the other hooks return ``None``); the file and playground
transports have no room and hand the composer their own audio input, an audio-only output
and a :class:`MediaSink` that self-hosted faces render into.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from ..media import MediaSink

if TYPE_CHECKING:
    from livekit import rtc
    from livekit.agents.voice import AgentSession, io

__all__ = ["MediaSink", "Transport"]


class Transport(ABC):
    """One conversation's media endpoints."""

    name: str = "transport"

    @property
    def room(self) -> rtc.Room | None:
        """The connected LiveKit room, when this transport is one."""
        return None

    def audio_input(self) -> io.AudioInput | None:
        """The user's audio, when not taken from a room."""
        return None

    def audio_output(self) -> io.AudioOutput | None:
        """Where agent audio goes when no face renders it (audio only), off-room."""
        return None

    async def fallback_audio_output(self) -> io.AudioOutput | None:
        """Where agent audio goes when the face dies mid-session (audio only from then on)."""
        return self.audio_output()

    def media_sink(self) -> MediaSink | None:
        """Where a self-hosted face sends frames and audio, off-room."""
        return None

    def start_kwargs(self, session: AgentSession) -> dict[str, Any]:
        """Extra keyword arguments for ``AgentSession.start`` (``room=...`` etc.)."""
        return {}

    def attach(self, session: AgentSession) -> None:  # noqa: B027 - optional hook
        """Called once the session exists, before faces start (events, transcripts)."""

    @abstractmethod
    async def wait_done(self, session: AgentSession) -> None:
        """Return when the conversation is over (input consumed, peer gone, room closed)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release the transport's resources (files, peer connections)."""
