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
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field, SecretStr, model_validator

from ..errors import FaceStartError, describe
from ..face import Face
from ..part import HttpUrl, PartOptions
from ..transports.base import Transport

log = logging.getLogger("avatarkit.faces.avatar_session")

LIVEKIT_ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
CLOSE_TIMEOUT = 5.0  # seconds for each cleanup step
DEADLINE_MARGIN = 0.5  # seconds left to the composer after the face's own join deadline
STALL_POLL = 1.0  # seconds between video statistics checks
IDLE_POLL = 0.02  # seconds between checks that the agent is idle (a swap waits for it)
SWAP_MARGIN = 2.0  # seconds before the cap when a swap no longer waits for a pause
RETRY_ROTATION = 5.0  # seconds before another try when a fresh session failed to start
LATE_JOIN_S = 60.0  # seconds an ended session's avatar is still removed if it joins late


class AvatarSessionOptions(PartOptions):
    """Options every cloud face has (a provider's ``Options`` subclasses this).

    ``exactly_one`` names options of which exactly one must be set (checked at load).
    """

    exactly_one: ClassVar[tuple[str, ...]] = ()

    join_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for the avatar's video track "
        "(capped by the composer's face join timeout).")
    video_stall_timeout: float | None = Field(
        default=4.0, gt=0, description="Seconds without video packets from the avatar before "
        "it counts as dead (None: only a leave or unpublish counts).")
    avatar_identity: str | None = Field(
        default=None, min_length=1,
        description="The avatar's participant identity (default: the plugin's).")
    max_session_s: float | None = Field(
        default=None, ge=0, description="Start a fresh provider session before this many "
        "seconds and swap it in between replies (default: the provider's known cap; 0: never).")
    rotate_lead_s: float = Field(
        default=30.0, gt=0, description="Seconds before max_session_s when the fresh session "
        "starts (it must join and the agent pause before the cap).")

    @model_validator(mode="after")
    def _exactly_one(self) -> AvatarSessionOptions:
        if self.exactly_one:
            given = [name for name in self.exactly_one if getattr(self, name) is not None]
            if len(given) != 1:
                raise ValueError(f"set exactly one of {', '.join(self.exactly_one)}"
                                 + (f" (got {', '.join(given)})" if given else ""))
        return self


BASE_OPTIONS = frozenset(AvatarSessionOptions.model_fields)


class ApiKeyOptions(AvatarSessionOptions):
    """A provider face's options with the provider's API key."""

    api_key: SecretStr | None = Field(
        default=None, description="The provider's API key; else its environment variable.")


class ApiOptions(ApiKeyOptions):
    """A provider face's options with the provider's API key and an API URL override."""

    api_url: HttpUrl | None = Field(
        default=None, description="The provider's API URL (default: the plugin's).")


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


class _HeldOutput:
    """``session.output`` as a rotating plugin sees it: the sink it installs is held back."""

    def __init__(self, output: Any) -> None:
        self._output = output
        self.sink: Any = None

    def replace_audio_tail(self, sink: Any) -> None:
        self.sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._output, name)


class _SessionView:
    """The ``AgentSession`` as a rotating plugin sees it (everything but the audio tail)."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.output = _HeldOutput(session.output)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@dataclass
class _Live:
    """One provider session: the plugin's ``AvatarSession`` and the task that started it."""

    avatar: Any
    task: asyncio.Task[Any] | None = None
    view: _SessionView | None = None
    began: float = field(default_factory=time.monotonic)


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def agent_idle(session: Any) -> bool:
    """Whether no reply is playing: nothing captured by the audio chain is left unplayed.

    (``_pending_playback_count`` is livekit-agents' own count of segments a sink accepted
    and has not reported finished; the agent state alone lags the first frame.)
    """
    if getattr(session, "agent_state", None) == "speaking":
        return False
    top = session.output.audio
    return top is None or int(getattr(top, "_pending_playback_count", 0)) == 0


class AvatarSessionFace(Face):
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
        live.task = asyncio.ensure_future(self.start_avatar(live.view or session, room,
                                                            live.avatar))
        await self._race_errors(asyncio.shield(live.task))
        await self._race_errors(live.avatar.wait_for_join(timeout=timeout))

    async def _end_live(self, live: _Live) -> None:
        """End one provider session on whatever path: start finished (or stopped), the
        paid session ended, the plugin closed, its participants removed."""
        avatar = live.avatar
        log.info("%s: ending the %s avatar session (%s)", self.name, self.provider,
                 avatar.avatar_identity)
        await self._finish_start(live.task)
        await self.step("end the provider session", self.end_session(avatar))
        identities = self.participant_identities(avatar)  # before the plugin forgets its room
        present = set(getattr(self.room, "remote_participants", {}))
        await self.step("close the provider plugin", avatar.aclose())
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

    # -- internals: rotation ---------------------------------------------------------------

    async def _rotate(self, session: Any, room: Any, cap: float) -> None:
        """Before each session's cap: start a fresh one, swap it in while idle, end the old."""
        lead = min(self.options.rotate_lead_s, cap / 2)
        assert self._live is not None
        base = self.options.avatar_identity or str(self._live.avatar.avatar_identity)
        generation = 1
        while self._close_task is None:
            current = self._live
            assert current is not None
            due = current.began + cap - lead - time.monotonic()
            if due > 0:
                await asyncio.sleep(due)
            generation += 1
            t0 = time.monotonic()
            fresh = self._pending = _Live(self._build(f"{base}-{generation}"),
                                          view=_SessionView(session))
            try:
                await self._start_live(fresh, fresh.view, room, self.options.join_timeout)
                if fresh.view is None or fresh.view.output.sink is None:
                    raise FaceStartError("the plugin routed no audio to the fresh avatar")
            except Exception as exc:  # noqa: BLE001 - the running session goes on meanwhile
                log.warning("%s: a fresh %s session did not start (%s); retrying in %g s",
                            self.name, self.provider, describe(exc), RETRY_ROTATION)
                await self._end_soon(fresh)
                await asyncio.sleep(RETRY_ROTATION)
                continue
            joined = time.monotonic()
            deadline = current.began + cap - SWAP_MARGIN
            while not agent_idle(session) and time.monotonic() < deadline:
                await asyncio.sleep(IDLE_POLL)
            if not agent_idle(session):
                log.warning("%s: the agent never paused before the %s cap; swapping mid-reply",
                            self.name, self.provider)
            session.output.replace_audio_tail(fresh.view.output.sink)
            fresh.began = time.monotonic()
            self._live, self._pending = fresh, None
            record = {"join_s": joined - t0, "idle_wait_s": fresh.began - joined,
                      "at_s": fresh.began - current.began}
            self.rotations.append(record)
            log.info("%s: rotated the %s session after %.1f s (fresh one joined in %.1f s, "
                     "swapped %.2f s later while the agent was idle)", self.name,
                     self.provider, record["at_s"], record["join_s"], record["idle_wait_s"])
            await self._end_soon(current)

    async def _end_soon(self, live: _Live) -> None:
        """End ``live`` in a task of its own: a cancelled rotation still ends it (``_close``
        waits for these)."""
        if self._pending is live:
            self._pending = None
        task = asyncio.ensure_future(self._end_live(live))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)
        await asyncio.shield(task)

    # -- internals: watching ---------------------------------------------------------------

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
