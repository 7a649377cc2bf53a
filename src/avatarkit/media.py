"""Media value types shared by transports and renderers (no heavy imports)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from livekit import rtc


class MediaSink(Protocol):
    """Where a self-hosted face delivers synchronised media when there is no room.

    Timestamps are seconds on the session's media clock (0 = first frame delivered).
    ``avatarkit.transports.base.MediaSink`` is the same protocol.
    """

    async def push_video(self, frame: rtc.VideoFrame, timestamp: float) -> None: ...

    async def push_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None: ...
