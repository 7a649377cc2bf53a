"""Failure detection for :class:`~avatarkit.faces.avatar_session.AvatarSessionFace`: errors
the provider plugin only logs, the avatar leaving or unpublishing, lost connection, stalled
video."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar

from ..errors import FaceStartError

STALL_POLL = 1.0  # seconds between video statistics checks
# seconds an unpublished video waits before it counts as the failure: a participant that
# leaves unpublishes its tracks first, and "left the room" says more
UNPUBLISH_GRACE = 0.5


class _ErrorLog(logging.Handler):
    """Remembers the first error the provider plugin logs (since the last ``reset``)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.first: logging.LogRecord | None = None
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.first is None:
            self.first = record
            self.seen.set()

    def reset(self) -> None:
        self.first = None
        self.seen.clear()


class Watch:
    """Mixin of :class:`AvatarSessionFace`: the watchers that set ``_failure``."""

    name: ClassVar[str]
    provider: ClassVar[str]
    options: Any
    join_seconds: float | None
    _failure: BaseException | None
    _errors: _ErrorLog
    _error_logger: logging.Logger | None
    _listeners: list[tuple[str, Any]]

    @property
    def avatar(self) -> Any:
        raise NotImplementedError

    @property
    def avatar_identity(self) -> str | None:
        raise NotImplementedError


    async def _race_errors(self, awaitable: Any) -> Any:
        """Await ``awaitable``; fail as soon as the plugin logs an error instead."""
        main = asyncio.ensure_future(awaitable)
        seen = asyncio.ensure_future(self._errors.seen.wait())
        try:
            await asyncio.wait({main, seen}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            seen.cancel()
            if not main.done():
                main.cancel()
                await asyncio.gather(main, return_exceptions=True)
        error = None if main.cancelled() else main.exception()
        if error is not None:
            raise error
        record = self._errors.first
        if record is not None:
            raise FaceStartError(f"{self.name}: the provider plugin reported an error: "
                                 f"{record.getMessage()}")
        return main.result()

    def _watch_errors(self) -> None:
        module = type(self.avatar).__module__
        name = module.rsplit(".", 1)[0] if module.startswith("livekit.plugins.") else module
        self._error_logger = logging.getLogger(name)
        self._error_logger.addHandler(self._errors)

    def _watch_room(self, room: Any) -> None:
        def on_left(participant: Any) -> None:
            if participant.identity == self.avatar_identity:  # says more than "unpublished"
                self._fail(RuntimeError(f"the {self.provider} avatar left the room"),
                           override=True)

        def on_unpublished(publication: Any, participant: Any) -> None:
            from livekit import rtc

            if (participant.identity == self.avatar_identity
                    and publication.kind == rtc.TrackKind.KIND_VIDEO):
                error = RuntimeError(f"the {self.provider} avatar unpublished its video")
                asyncio.get_running_loop().call_later(UNPUBLISH_GRACE, self._fail, error)

        def on_quality(participant: Any, quality: Any) -> None:
            from livekit import rtc

            if (participant.identity == self.avatar_identity
                    and quality == rtc.ConnectionQuality.QUALITY_LOST):
                self._fail(RuntimeError(f"lost the connection to the {self.provider} avatar"))

        for event, handler in (("participant_disconnected", on_left),
                               ("track_unpublished", on_unpublished),
                               ("connection_quality_changed", on_quality)):
            room.on(event, handler)
            self._listeners.append((event, handler))

    def _fail(self, error: BaseException, *, override: bool = False) -> None:
        if (self._failure is None or override) and self.join_seconds is not None:
            self._failure = error

    async def _watch_video(self, room: Any) -> None:
        """Fail when the avatar's (subscribed) video track stops receiving packets."""
        from livekit import rtc

        last, since = -1, time.monotonic()
        watched: Any = None
        limit = float(self.options.video_stall_timeout)
        while self._failure is None:
            await asyncio.sleep(STALL_POLL)
            participant = room.remote_participants.get(self.avatar_identity)
            track = next((p.track for p in getattr(participant, "track_publications", {}).values()
                          if p.kind == rtc.TrackKind.KIND_VIDEO and p.track is not None), None)
            if track is None or track is not watched:  # not subscribed, or a rotated avatar
                last, since, watched = -1, time.monotonic(), track
                continue
            try:
                stats = await track.get_stats()
            except Exception:  # noqa: BLE001 - statistics are best effort
                continue
            packets = sum(s.inbound_rtp.received.packets_received for s in stats
                          if s.WhichOneof("stats") == "inbound_rtp")
            if packets != last:
                last, since = packets, time.monotonic()
            elif time.monotonic() - since >= limit:
                self._fail(RuntimeError(
                    f"no video from the {self.provider} avatar for {limit:g} s"))
