"""``avatarkit.attach``: give your own ``AgentSession`` an avatarkit face chain (this module is
``avatarkit.embed``, so the public name ``avatarkit.attach`` stays the function).

Inside your LiveKit entrypoint, with your own ``AgentSession`` and ``Agent``::

    avatar = await avatarkit.attach(session, ctx.room, face="heygen", fallback=["local"],
                                    agent=agent)
    await session.start(agent, room=ctx.room, room_options=avatar.room_options())

The faces are validated first (names, options, credentials: a
:class:`~avatarkit.errors.UsageError` before anything connects), then started in order under
the join timeout, exactly as ``avatarkit run`` does (:class:`~avatarkit.face_chain.FaceChain`
is the same code): a face that fails is closed and the next is tried, audio-only ``none``
last; a face that dies mid-session is closed and the agent goes on with audio only. Every
started face is closed by :meth:`Avatar.aclose`, which also runs when the session closes and
when the job shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .composer import face_specs
from .config import FaceSettings
from .errors import ConfigError
from .face import Face
from .face_chain import FaceChain
from .face_tools import FaceToolCalls, add_face_tools, face_tools
from .part import format_validation_error
from .registry import Registry
from .report import SessionReport
from .transports.base import Transport

if TYPE_CHECKING:
    from livekit import rtc

__all__ = ["Avatar", "attach"]
log = logging.getLogger("avatarkit.embed")


class Avatar:
    """The face chain attached to one session (returned by :func:`attach`)."""

    def __init__(self, session: Any, chain: FaceChain, face: Face, transport: Transport,
                 *, owns_transport: bool) -> None:
        self.session = session
        self.face = face
        """The face that started (``none`` when only audio could)."""
        self.report: SessionReport = chain.report
        self.tool_calls = FaceToolCalls()
        """Every ``set_emotion``/``set_background`` call the agent made."""
        self._chain = chain
        self._transport = transport
        self._owns_transport = owns_transport
        self._closed: asyncio.Future[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def _close_soon(self, _event: Any = None) -> None:
        """Close when the session closes (a session event handler cannot await)."""
        task = asyncio.ensure_future(self.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @property
    def current(self) -> Face | None:
        """The face showing the agent now (``None`` after it died mid-session)."""
        return self._chain.current

    @property
    def tools(self) -> list[Any]:
        """The face's emotion/background function tools, for ``Agent(tools=[...])``."""
        return face_tools(self.face, lambda: self._chain.current, self.tool_calls)

    async def add_tools(self, agent: Any) -> list[str]:
        """Add :attr:`tools` to ``agent`` (before or during its session); the names added."""
        return await add_face_tools(agent, self.face, lambda: self._chain.current,
                                    self.tool_calls)

    def room_options(self, **options: Any) -> Any:
        """``RoomOptions`` for ``session.start(room=...)``: RoomIO publishes no audio track
        of its own when the face took the agent's audio (``**options`` are passed on)."""
        from livekit.agents import room_io

        options.setdefault("audio_output", self.session.output.audio is None)
        return room_io.RoomOptions(**options)

    async def aclose(self) -> None:
        """Close every face that started, once (idempotent; paid provider sessions end)."""
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            try:
                await self._chain.aclose()
                if self._owns_transport:
                    await self._transport.aclose()
            finally:
                self._closed.set_result(None)
                log.info("avatar closed (face '%s')", self.face.name)
        await asyncio.shield(self._closed)

    async def __aenter__(self) -> Avatar:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def attach(
    session: Any,
    room: rtc.Room | Transport | None = None,
    *,
    face: str = "local",
    fallback: Iterable[str] = (),
    face_options: Mapping[str, Mapping[str, Any]] | None = None,
    join_timeout: float = 20.0,
    agent: Any = None,
    tools: bool = True,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Avatar:
    """Start a face chain for ``session`` (before ``session.start``); see the module doc.

    ``room`` is the connected ``rtc.Room`` (default: the running job's room) or, off-room,
    a :class:`~avatarkit.transports.base.Transport`. ``face_options`` maps a face name to
    its options (``{"local": {"background": "office"}}``). With ``agent`` and ``tools``,
    the face's ``set_emotion``/``set_background`` tools are added to it.
    """
    from livekit.agents import get_job_context

    environ = os.environ if environ is None else environ
    settings = _face_settings(face, fallback, face_options, join_timeout)
    specs = face_specs(settings, registry or Registry.load(), environ)
    ctx = get_job_context(required=False)
    transport, owns = _transport(room, ctx)
    chain = FaceChain(specs, join_timeout=settings.join_timeout,
                      report=SessionReport(brain="(your session)"))
    try:
        started = await chain.start(session, transport)
    except BaseException:
        await chain.aclose()
        if owns:
            await transport.aclose()
        raise
    avatar = Avatar(session, chain, started, transport, owns_transport=owns)
    if agent is not None and tools:
        await avatar.add_tools(agent)
    chain.watch(session, transport)
    session.on("close", avatar._close_soon)
    if ctx is not None:
        ctx.add_shutdown_callback(avatar.aclose)
    log.info("avatar attached: face '%s' (%s)", started.name,
             " -> ".join(spec.cls.name for spec in specs))
    return avatar


def _face_settings(face: str, fallback: Iterable[str],
                   options: Mapping[str, Mapping[str, Any]] | None,
                   join_timeout: float) -> FaceSettings:
    from pydantic import ValidationError

    if isinstance(fallback, str):
        fallback = [fallback]
    hint = "face_options maps a face name to its options, e.g. {'local': {'background': "\
        "'office'}}"
    try:
        settings = FaceSettings(name=face, fallback=list(fallback), join_timeout=join_timeout,
                                options={k: dict(v) for k, v in (options or {}).items()})
    except (ValidationError, TypeError, ValueError) as exc:
        detail = (format_validation_error(exc) if isinstance(exc, ValidationError)
                  else str(exc))
        raise ConfigError(f"invalid avatarkit.attach() arguments:\n{detail}",
                          hint=hint) from None
    stray = sorted(set(settings.options) - set(settings.chain()))
    if stray:
        raise ConfigError(f"face_options names {', '.join(map(repr, stray))}, which is not in "
                          f"the face chain ({' -> '.join(settings.chain())})", hint=hint)
    return settings


def _transport(room: Any, ctx: Any) -> tuple[Transport, bool]:
    """The transport for ``room``, and whether :class:`Avatar` owns (closes) it."""
    from .transports.room import RoomTransport

    if isinstance(room, Transport):
        return room, False
    if room is None:
        if ctx is None:
            raise ConfigError("avatarkit.attach() needs the room (no LiveKit job is running)",
                              hint="pass the connected room: attach(session, ctx.room, ...)")
        room = ctx.room
    return RoomTransport(room=room), True
