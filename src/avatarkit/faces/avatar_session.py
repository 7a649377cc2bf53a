"""One adapter for every cloud avatar: a face over any LiveKit ``AvatarSession`` plugin.

A provider's face only declares how to build its plugin's ``AvatarSession`` (and, when the
plugin has no stop call, how to end the paid session); :class:`AvatarSessionFace` adds what
no provider plugin guarantees:

- **a join deadline**: ``start`` returns once the avatar has joined and published video
  (``wait_for_join``), within the composer's face timeout (:attr:`Face.join_deadline`), or
  raises. A start that only *logged* an error (simli, avatartalk) fails at once.
- **failure detection** (:meth:`failure`, polled by the composer): the avatar left, unpublished
  its video, lost its connection, or its video stopped arriving (``video_stall_timeout``).
- **the paid session ended on every exit path** (:meth:`aclose`, idempotent; also after a
  cancelled or failed start): :meth:`end_session` (the provider's documented end call where
  the plugin has none), the plugin's own ``aclose`` (its stop call where it has one), then
  always removal of the avatar participant through the server API, in or out of a job.

No heavy imports at module level: livekit is imported inside the methods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar

from pydantic import Field

from ..errors import FaceStartError, describe
from ..face import Face
from ..part import PartOptions
from ..transports.base import Transport

log = logging.getLogger("avatarkit.faces.avatar_session")

LIVEKIT_ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
CLOSE_TIMEOUT = 5.0  # seconds for each cleanup step
DEADLINE_MARGIN = 0.5  # seconds left to the composer after the face's own join deadline
STALL_POLL = 1.0  # seconds between video statistics checks


class AvatarSessionOptions(PartOptions):
    """Options every cloud face has (a provider's ``Options`` subclasses this)."""

    join_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for the avatar's video track "
        "(capped by the composer's face join timeout).")
    video_stall_timeout: float | None = Field(
        default=4.0, gt=0, description="Seconds without video packets from the avatar before "
        "it counts as dead (None: only a leave or unpublish counts).")


class _ErrorLog(logging.Handler):
    """Remembers the first error the provider plugin logs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.first: logging.LogRecord | None = None
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.first is None:
            self.first = record
            self.seen.set()


class AvatarSessionFace(Face):
    """Base of the cloud faces: implement :meth:`build_avatar`, declare the class metadata."""

    provider: ClassVar[str] = "avatar"
    """Provider name used in messages."""
    plugin_module: ClassVar[str] = ""
    """The ``livekit.plugins.*`` module the face wraps (checked by ``avatarkit doctor``)."""
    plugin_stops_session: ClassVar[bool] = False
    """Whether the plugin's ``aclose()`` ends the paid provider session itself."""
    max_session_s: ClassVar[float | None] = None
    """The provider's known session cap in seconds (None: none known)."""
    load_cost: ClassVar[float] = 0.02
    Options: ClassVar[type[PartOptions]] = AvatarSessionOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.avatar: Any = None  # the plugin's AvatarSession
        self.room: Any = None
        self.join_seconds: float | None = None
        """Seconds from ``start`` until the avatar had joined with video."""
        self._start_task: asyncio.Task[Any] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._errors = _ErrorLog()
        self._error_logger: logging.Logger | None = None
        self._stall_task: asyncio.Task[None] | None = None
        self._own_http: Any = None
        self._listeners: list[tuple[str, Any]] = []

    # -- what a provider's face declares ---------------------------------------------------

    def build_avatar(self) -> Any:
        """Build the plugin's ``AvatarSession`` from ``self.options`` (import it here)."""
        raise NotImplementedError

    async def start_avatar(self, session: Any, room: Any) -> Any:
        """Start the plugin's session (override to pass extra arguments)."""
        return await self.avatar.start(session, room)

    async def end_session(self, avatar: Any) -> None:
        """End the paid session where the plugin's ``aclose`` does not (default: nothing)."""

    def plugin_failure(self, avatar: Any) -> BaseException | None:
        """A provider-specific sign that the running avatar died (default: none)."""
        return None

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules this face needs (checked by ``avatarkit doctor``)."""
        return ("livekit.agents", cls.plugin_module) if cls.plugin_module else ("livekit.agents",)

    # -- the Face interface ----------------------------------------------------------------

    @property
    def avatar_identity(self) -> str | None:
        return None if self.avatar is None else str(self.avatar.avatar_identity)

    async def start(self, session: Any, transport: Transport) -> None:
        room = transport.room
        if room is None:
            raise FaceStartError(f"{self.name} needs a LiveKit room; use --face local for "
                                 "demo/playground")
        if self.avatar is not None or self._close_task is not None:
            raise FaceStartError(f"this {self.name} face was already started; create a new one")
        t0 = time.perf_counter()
        try:
            self.avatar = self.build_avatar()
        except FaceStartError:
            raise
        except Exception as exc:
            raise FaceStartError(f"{self.name}: {describe(exc)}") from exc
        self.room = room
        self._watch_errors()
        self._watch_room(room)
        # The plugin's start creates the paid session. It runs in its own task so that a
        # cancellation (the composer's join timeout) cannot interrupt it between "created"
        # and "id recorded": aclose waits for it, then ends what it created.
        self._start_task = asyncio.ensure_future(self.start_avatar(session, room))
        timeout = self.join_time_left(self.options.join_timeout, margin=DEADLINE_MARGIN)
        try:
            await self._race_errors(asyncio.shield(self._start_task))
            await self._race_errors(self.avatar.wait_for_join(timeout=timeout))
        except asyncio.TimeoutError as exc:
            raise FaceStartError(
                f"{self.name} avatar did not join the room within {timeout:.1f} s") from exc
        except FaceStartError:
            raise
        except Exception as exc:
            raise FaceStartError(f"{self.name} could not start: {describe(exc)}") from exc
        self.join_seconds = time.perf_counter() - t0
        if self.options.video_stall_timeout is not None:
            self._stall_task = asyncio.ensure_future(self._watch_video(room))

    def failure(self) -> BaseException | None:
        """Why the running avatar stopped working (left, unpublished, stalled), else None."""
        if self._close_task is not None or self.avatar is None:
            return None
        return self._failure or self.plugin_failure(self.avatar)

    async def aclose(self) -> None:
        """End the paid session, close the plugin, remove the avatar (once; safe to repeat)."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close())
        try:
            await asyncio.shield(self._close_task)
        except asyncio.CancelledError:
            raise
        except Exception:  # pragma: no cover - _close logs everything itself
            log.warning("%s: cleanup failed", self.name, exc_info=True)

    # -- helpers for provider faces --------------------------------------------------------

    def http_session(self) -> Any:
        """The job's shared aiohttp session, or one this face opens (closed by ``aclose``)."""
        from livekit.agents.utils import http_context

        try:
            return http_context.http_session()
        except RuntimeError:
            if self._own_http is None:
                import aiohttp

                self._own_http = aiohttp.ClientSession()
            return self._own_http

    async def step(self, what: str, coro: Any) -> None:
        """Await one cleanup step; log (never raise) its failure."""
        try:
            await asyncio.wait_for(coro, CLOSE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: could not %s: %s", self.name, what, describe(exc), exc_info=True)

    # -- internals -------------------------------------------------------------------------

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
                self._fail(RuntimeError(f"the {self.provider} avatar unpublished its video"))

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
        limit = float(self.options.video_stall_timeout)
        while self._failure is None:
            await asyncio.sleep(STALL_POLL)
            participant = room.remote_participants.get(self.avatar_identity)
            track = next((p.track for p in getattr(participant, "track_publications", {}).values()
                          if p.kind == rtc.TrackKind.KIND_VIDEO and p.track is not None), None)
            if track is None:
                last, since = -1, time.monotonic()  # not subscribed: nothing to measure
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

    async def _close(self) -> None:
        if self._stall_task is not None:
            self._stall_task.cancel()
            await asyncio.gather(self._stall_task, return_exceptions=True)
        avatar = self.avatar
        if avatar is not None:
            log.info("%s: ending the %s avatar session", self.name, self.provider)
            await self._finish_start()
            await self.step("end the provider session", self.end_session(avatar))
            await self.step("close the provider plugin", avatar.aclose())
            if self._start_task is not None:
                await self.step("remove the avatar participant", self._remove_avatar())
        if self.room is not None:
            for event, handler in self._listeners:
                self.room.off(event, handler)
        self._listeners.clear()
        if self._error_logger is not None:
            self._error_logger.removeHandler(self._errors)
        if self._own_http is not None:
            await self.step("close the http session", self._own_http.close())
            self._own_http = None

    async def _finish_start(self) -> None:
        task = self._start_task
        if task is None:
            return
        if not task.done():
            done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
            if not done:
                task.cancel()
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: start's caller already reported it

    async def _remove_avatar(self) -> None:
        """Remove the avatar participant via the server API (a job's, else from LIVEKIT_*)."""
        from livekit import api
        from livekit.agents import get_job_context

        job = get_job_context(required=False)
        lkapi = job.api if job is not None else api.LiveKitAPI()
        try:
            await lkapi.room.remove_participant(api.RoomParticipantIdentity(
                room=self.room.name, identity=self.avatar_identity))
            log.info("%s: removed avatar participant %s", self.name, self.avatar_identity)
        except api.TwirpError as exc:
            if exc.code != "not_found":
                raise
        finally:
            if job is None:
                await lkapi.aclose()
