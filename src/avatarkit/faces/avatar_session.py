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
  always removal of the avatar participant through the server API, in or out of a job. The
  plugin's ``aclose`` runs once even though LiveKit's job also calls it at shutdown.
- **session rotation** before the provider's time cap (``max_session_s``): a fresh provider
  session starts ``rotate_lead_s`` before the cap, under another participant identity, with
  its audio sink held back; once it has joined with video and the agent is idle (no reply
  playing), the sink is swapped in with ``session.output.replace_audio_tail()`` and the old
  session is ended. No utterance is cut: the swap only happens between replies.

A provider face is mostly declarations: ``plugin_module`` (its ``AvatarSession`` is built
from the options whose names match its keyword arguments, secrets unwrapped, unset ones left
to the plugin's own env fallbacks), ``required`` (option -> env var it falls back to),
``max_session_s``/``duration_option`` (the cap), ``stop_call`` (how the paid session ends).

No heavy imports at module level: livekit is imported inside the methods.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import time
from typing import Any, ClassVar

from pydantic import SecretStr

from ..errors import FaceStartError, describe
from ..face import Face, audio_tail
from ..lk_private import stop_sink_start
from ..part import PartOptions
from ..transports.base import Transport
from .avatar_options import BASE_OPTIONS, ApiKeyOptions, ApiOptions, AvatarSessionOptions
from .avatar_rotation import Rotation, _Live, agent_idle, installed_sink
from .avatar_watch import Watch, _ErrorLog

__all__ = ["LIVEKIT_ENV", "CLOSE_TIMEOUT", "BASE_OPTIONS", "ApiKeyOptions", "ApiOptions",
           "AvatarSessionFace", "AvatarSessionOptions", "agent_idle"]

log = logging.getLogger("avatarkit.faces.avatar_session")

LIVEKIT_ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
CLOSE_TIMEOUT = 5.0  # seconds for each cleanup step
DEADLINE_MARGIN = 0.5  # seconds left to the composer after the face's own join deadline
LATE_JOIN_S = 60.0  # seconds an ended session's avatar is still removed if it joins late


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class AvatarSessionFace(Rotation, Watch, Face):
    """Base of the cloud faces: declare the class metadata (or override :meth:`build_avatar`)."""

    provider: ClassVar[str] = "avatar"
    """Provider name used in messages."""
    plugin_module: ClassVar[str] = ""
    """The ``livekit.plugins.*`` module the face wraps (its ``AvatarSession`` is built)."""
    required: ClassVar[dict[str, str]] = {}
    """Option -> the environment variable the plugin falls back to; needed unless set."""
    plugin_stops_session: ClassVar[bool] = False
    """Whether the plugin's ``aclose()`` ends the paid provider session itself."""
    stop_call: ClassVar[str] = "none: only the avatar participant is removed"
    """How the paid session ends (documentation; shown by ``avatarkit plugins -v``)."""
    max_session_s: ClassVar[float | None] = None
    """The provider's known session cap in seconds (None: none known)."""
    duration_option: ClassVar[str | None] = None
    """An option that makes the provider end the session sooner (its value caps too)."""
    rotates: ClassVar[bool] = True
    """Whether a second session can run beside the first (for rotation)."""
    load_cost: ClassVar[float] = 0.02
    Options: ClassVar[type[PartOptions]] = AvatarSessionOptions

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Defaults from the declarations: ``env`` from ``required``, ``plugin_module``
        ``livekit.plugins.<name>``, ``summary`` from ``provider``."""
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__
        if "env" not in declared and "required" in declared:
            cls.env = (*cls.required.values(), *LIVEKIT_ENV)
        if not cls.plugin_module and "name" in declared:
            cls.plugin_module = f"livekit.plugins.{cls.name}"
        if "summary" not in declared and "provider" in declared:
            cls.summary = f"{cls.provider} cloud avatar (joins the LiveKit room)."

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.room: Any = None
        self.join_seconds: float | None = None
        """Seconds from ``start`` until the avatar had joined with video."""
        self.rotations: list[dict[str, float]] = []
        """One record per swap: ``join_s`` of the fresh session, ``idle_wait_s``, ``at_s``."""
        self._live: _Live | None = None
        self._pending: _Live | None = None  # a fresh session not swapped in yet
        self._rotate_task: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Task[None]] = set()  # old sessions being ended
        self._close_task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._errors = _ErrorLog()
        self._error_logger: logging.Logger | None = None
        self._stall_task: asyncio.Task[None] | None = None
        self._own_http: Any = None
        self._listeners: list[tuple[str, Any]] = []

    # -- what a provider's face declares ---------------------------------------------------

    def plugin_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the plugin's ``AvatarSession`` (default: every provider
        option, by name). ``None`` values are dropped and secrets unwrapped."""
        return {name: getattr(self.options, name) for name in type(self.options).model_fields
                if name not in BASE_OPTIONS}

    def build_avatar(self, identity: str | None = None) -> Any:
        """Build the plugin's ``AvatarSession`` (``identity``: the avatar's participant)."""
        kwargs = {key: _plain(value) for key, value in self.plugin_kwargs().items()
                  if value is not None}
        if isinstance(kwargs.get("api_url"), str):
            kwargs["api_url"] = kwargs["api_url"].rstrip("/")
        if identity is not None:
            kwargs["avatar_participant_identity"] = identity
        return importlib.import_module(self.plugin_module).AvatarSession(**kwargs)

    def option_or_env(self, name: str) -> Any:
        """Option ``name`` (a secret unwrapped), else the env var it falls back to."""
        value = _plain(getattr(self.options, name))
        if value is None and name in self.required:
            value = os.environ.get(self.required[name]) or None
        return value

    async def start_avatar(self, session: Any, room: Any, avatar: Any) -> Any:
        """Start the plugin's session (override to pass extra arguments)."""
        return await avatar.start(session, room)

    async def end_session(self, avatar: Any) -> None:
        """End the paid session where the plugin's ``aclose`` does not (default: nothing)."""

    async def close_plugin(self, avatar: Any) -> None:
        """The plugin's own close (its stop call where it has one, then participant removal
        inside a job). Runs once per avatar, whoever asks: avatarkit or the job's shutdown."""
        await type(avatar).aclose(avatar)

    def participant_identities(self, avatar: Any) -> tuple[str, ...]:
        """The participants a session brings into the room (all removed when it ends)."""
        return (str(avatar.avatar_identity),)

    def plugin_failure(self, avatar: Any) -> BaseException | None:
        """A provider-specific sign that the running avatar died (default: none)."""
        return None

    def session_cap(self) -> float | None:
        """Seconds after which this face's sessions rotate (None: never)."""
        if not self.rotates:
            return None
        if "max_session_s" in self.options.model_fields_set:
            return self.options.max_session_s or None
        cap = self.max_session_s
        if self.duration_option and getattr(self.options, self.duration_option, None):
            own = float(getattr(self.options, self.duration_option))
            cap = own if cap is None else min(cap, own)
        return cap

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        if not cls.required:
            return cls.env
        missing = [var for name, var in cls.required.items() if not getattr(options, name, None)]
        return (*missing, *LIVEKIT_ENV)

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules this face needs (checked by ``avatarkit doctor``)."""
        return ("livekit.agents", cls.plugin_module) if cls.plugin_module else ("livekit.agents",)

    # -- the Face interface ----------------------------------------------------------------

    @property
    def avatar(self) -> Any:
        """The plugin's running ``AvatarSession`` (the current one, after rotations)."""
        return None if self._live is None else self._live.avatar

    @property
    def avatar_identity(self) -> str | None:
        return None if self.avatar is None else str(self.avatar.avatar_identity)

    async def start(self, session: Any, transport: Transport) -> None:
        room = transport.room
        if room is None:
            raise FaceStartError(f"{self.name} needs a LiveKit room; use --face local for "
                                 "demo/playground")
        if self._live is not None or self._close_task is not None:
            raise FaceStartError(f"this {self.name} face was already started; create a new one")
        t0 = time.perf_counter()
        live = self._live = _Live(self._build(self.options.avatar_identity))
        self.room = room
        self._watch_errors()
        self._watch_room(room)
        timeout = self.join_time_left(self.options.join_timeout, margin=DEADLINE_MARGIN)
        try:
            await self._start_live(live, session, room, timeout)
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
        cap = self.session_cap()
        if cap:
            self._rotate_task = asyncio.ensure_future(self._rotate(session, room, cap))

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

    async def wait_left(self, identity: str, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for ``identity`` to leave the room; whether it did."""
        deadline = time.monotonic() + timeout
        while identity in self.room.remote_participants:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def step(self, what: str, coro: Any) -> None:
        """Await one cleanup step; log (never raise) its failure."""
        try:
            await asyncio.wait_for(coro, CLOSE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: could not %s: %s", self.name, what, describe(exc), exc_info=True)

    # -- internals: one provider session -------------------------------------------------

    def _build(self, identity: str | None) -> Any:
        try:
            avatar = self.build_avatar(identity)
        except FaceStartError:
            raise
        except Exception as exc:
            raise FaceStartError(f"{self.name}: {describe(exc)}") from exc
        # LiveKit's job also calls aclose at shutdown: make the plugin's close run once
        closing: list[asyncio.Task[None]] = []

        async def aclose_once() -> None:
            if not closing:
                closing.append(asyncio.ensure_future(self.close_plugin(avatar)))
            await asyncio.shield(closing[0])

        avatar.aclose = aclose_once
        return avatar

    async def _start_live(self, live: _Live, session: Any, room: Any, timeout: float) -> None:
        """Start ``live`` and wait for it to join with video, or raise.

        The plugin's start creates the paid session. It runs in its own task so that a
        cancellation (the composer's join timeout) cannot interrupt it between "created"
        and "id recorded": closing waits for it, then ends what it created.
        """
        self._errors.reset()
        live.session, live.before = session, None if live.view else audio_tail(session)
        live.task = asyncio.ensure_future(self.start_avatar(live.view or session, room,
                                                            live.avatar))
        try:
            await self._race_errors(asyncio.shield(live.task))
            await self._race_errors(live.avatar.wait_for_join(timeout=timeout))
        finally:  # also when the plugin's own start waits for the join, and times out
            live.sink, live.cut = installed_sink(live), not live.task.done()

    async def _end_live(self, live: _Live) -> None:
        """End one provider session on whatever path: start finished (or stopped), the
        paid session ended, the plugin closed, its participants removed."""
        avatar = live.avatar
        log.info("%s: ending the %s avatar session (%s)", self.name, self.provider,
                 avatar.avatar_identity)
        await self._finish_start(live.task)
        if live.cut and live.sink is None:  # installed after the cut, if at all
            live.sink = installed_sink(live)
        await self.step("end the provider session", self.end_session(avatar))
        identities = self.participant_identities(avatar)  # before the plugin forgets its room
        present = set(getattr(self.room, "remote_participants", {}))
        await self.step("close the provider plugin", avatar.aclose())
        stop_sink_start(live.sink)  # its wait for the avatar would fail when the room closes
        if live.task is not None:
            for identity in identities:
                await self.step("remove the avatar participant", self._remove(identity))
            self._remove_late_joiners(tuple(i for i in identities if i not in present))

    def _remove_late_joiners(self, identities: tuple[str, ...]) -> None:
        """A renderer the provider launched before the session ended can still join after
        it (a start cancelled or timed out mid-create): remove it if it does (watched for
        :data:`LATE_JOIN_S`)."""
        room = self.room
        if not identities or room is None or not room.isconnected():
            return

        def on_joined(participant: Any) -> None:
            if participant.identity in identities:
                log.info("%s: removing %s, which joined late (its session was over)", self.name,
                         participant.identity)
                task = asyncio.ensure_future(self.step("remove a late avatar",
                                                       self._remove(participant.identity)))
                self._ending.add(task)
                task.add_done_callback(self._ending.discard)

        room.on("participant_connected", on_joined)
        asyncio.get_running_loop().call_later(LATE_JOIN_S, room.off, "participant_connected",
                                              on_joined)

    # -- internals: closing ----------------------------------------------------------------

    async def _close(self) -> None:
        for task in (self._rotate_task, self._stall_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(*self._ending, return_exceptions=True)
        for live in (self._pending, self._live):
            if live is not None:
                await self._end_live(live)
        if self.room is not None:
            for event, handler in self._listeners:
                self.room.off(event, handler)
        self._listeners.clear()
        if self._error_logger is not None:
            self._error_logger.removeHandler(self._errors)
        if self._own_http is not None:
            await self.step("close the http session", self._own_http.close())
            self._own_http = None

    async def _finish_start(self, task: asyncio.Task[Any] | None) -> None:
        if task is None:
            return
        if not task.done():
            done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
            if not done:
                task.cancel()
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: start's caller already reported it

    async def _remove(self, identity: str) -> None:
        """Remove a participant via the server API (a job's, else from LIVEKIT_*)."""
        from livekit import api
        from livekit.agents import get_job_context

        job = get_job_context(required=False)
        lkapi = job.api if job is not None else api.LiveKitAPI()
        try:
            await lkapi.room.remove_participant(api.RoomParticipantIdentity(
                room=self.room.name, identity=identity))
            log.info("%s: removed avatar participant %s", self.name, identity)
        except api.TwirpError as exc:
            if exc.code != "not_found":
                raise
        finally:
            if job is None:
                await lkapi.aclose()
