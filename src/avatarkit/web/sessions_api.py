"""The per-session control API of a worker (``[worker] control_port``): every session the
worker hosts, and each one's emotion and background.

::

    GET  /avatars                              -> {"avatars": [{"session_id": ..., "room": ...,
                                                   "face": ..., "emotion": ..., "background": ...}]}
    POST /avatars/{session_id}/emotion         {"name": "concerned", "intensity": 0.8}
    POST /avatars/{session_id}/background      {"background": "sunset"}

The bodies and their errors are those of the single-face API (:mod:`.control_api`). Every
request needs ``Authorization: Bearer <token>``; on loopback (the default) a token is
generated and logged when none is configured, and another interface is refused without
one. Sessions run in the worker's job processes: each one connects to ``/_link`` (a
WebSocket with its own secret, handed to the job processes with the plan, never through
the environment), registers, and carries out the commands sent to it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AvatarkitError, UsageError
from ..redact import is_loopback
from .control_api import (
    _FIELD_PROBLEMS,
    _SAFE_BACKGROUND,
    BackgroundRequest,
    EmotionRequest,
    _error,
    _read,
)
from .serving import bearer_token, listen

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("avatarkit.control")
LINK_PATH = "/_link"
#: Seconds a session has to carry out a command before the API answers 504.
COMMAND_TIMEOUT = 10.0
#: Seconds ``GET /avatars`` waits for each session's current state.
STATE_TIMEOUT = 2.0


@dataclass
class LinkAddress:
    """Where a job process's sessions register: the server's URL (set once it listens)
    and the link secret. Picklable: it travels to job processes with the plan."""

    secret: str
    url: str = ""


@dataclass
class _Session:
    ws: Any
    info: dict[str, Any]
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        return dict(self.info)


class SessionsControlServer:
    """The per-session control API (aiohttp) of one worker."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None) -> None:
        if not token and not is_loopback(host):
            raise UsageError(
                f"the control API would listen on {host} without a bearer token",
                hint="set [worker] control_token (or AVATARKIT_CONTROL_TOKEN), or keep "
                "control_host = 127.0.0.1")
        self.host, self.requested_port = host, port
        self._generated = not token
        self.token = token or secrets.token_urlsafe(24)
        self.link = LinkAddress(secret=secrets.token_urlsafe(24))
        self.sessions: dict[str, _Session] = {}
        self.port: int | None = None
        self._ids = itertools.count(1)
        self._runner: Any = None

    @property
    def url(self) -> str:
        return f"http://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}"

    def app(self) -> web.Application:
        from aiohttp import web

        public = bearer_token(self.token, _unauthorized)
        link = bearer_token(self.link.secret, _unauthorized)

        @web.middleware
        async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
            check = link if request.path == LINK_PATH else public
            return await check(request, handler)

        app = web.Application(client_max_size=16 * 1024, middlewares=[auth])
        app.add_routes([
            web.get("/avatars", self._list),
            web.post("/avatars/{session_id}/emotion", self._emotion),
            web.post("/avatars/{session_id}/background", self._background),
            web.get(LINK_PATH, self._link),
        ])
        return app

    async def start(self) -> None:
        """Listen; the job processes' link URL is set from the real port."""

        def refused(exc: OSError) -> AvatarkitError:
            return AvatarkitError(
                f"the control API cannot listen on {self.host}:{self.requested_port} "
                f"({exc.strerror})", hint="choose another [worker] control_port, or 0")

        self._runner, self.port = await listen(self.app(), self.host, self.requested_port,
                                               refused=refused)
        # job processes reach it on this machine (a wildcard bind through loopback)
        local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        self.link.url = f"http://{f'[{local}]' if ':' in local else local}:{self.port}"
        if self._generated:
            log.warning("session control API on %s (bearer token: %s)", self.url, self.token)
        else:
            log.info("session control API on %s", self.url)

    async def aclose(self) -> None:
        """Stop serving and drop every session link (idempotent)."""
        runner, self._runner = self._runner, None
        for session in list(self.sessions.values()):
            await session.ws.close()
        if runner is not None:
            await runner.cleanup()

    # -- the public API ----------------------------------------------------------------

    async def _list(self, request: web.Request) -> web.StreamResponse:
        """Every session, each one's state asked afresh (an agent's own tools may have
        changed it); a session slow to answer is shown as last known."""
        from aiohttp import web

        sessions = list(self.sessions.values())
        await asyncio.gather(*(self._ask(s, {"op": "state"}, STATE_TIMEOUT) for s in sessions),
                             return_exceptions=True)
        return web.json_response({"avatars": [s.entry() for s in sessions]})

    def _session(self, request: web.Request) -> _Session | web.Response:
        session_id = request.match_info["session_id"]
        session = self.sessions.get(session_id)
        if session is None:
            known = ", ".join(self.sessions) or "none"
            return _error(404, f"no session {session_id!r} on this worker (sessions: {known})",
                          "GET /avatars lists the sessions")
        return session

    async def _emotion(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if not isinstance(session, _Session):
            return session
        body = await _read(request, EmotionRequest)
        if not isinstance(body, EmotionRequest):
            return body
        if not math.isfinite(body.intensity):
            return _error(400, *_FIELD_PROBLEMS["intensity"])
        return await self._command(session, {"op": "emotion", "name": body.name,
                                             "intensity": float(body.intensity)})

    async def _background(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if not isinstance(session, _Session):
            return session
        body = await _read(request, BackgroundRequest)
        if not isinstance(body, BackgroundRequest):
            return body
        if not _SAFE_BACKGROUND.fullmatch(body.background.strip()):
            return _error(400, f"background {body.background!r} is not a preset, colour name "
                          "or #RRGGBB colour",
                          "image files can only be set in the face options (background=...)")
        return await self._command(session, {"op": "background",
                                             "background": body.background})

    async def _ask(self, session: _Session, command: dict[str, Any],
                   timeout: float) -> dict[str, Any]:
        """Send ``command`` to the session's job process and wait for its reply (its new
        state is kept). Raises ``TimeoutError``, or ``ConnectionError`` if it ended."""
        command_id = next(self._ids)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        session.pending[command_id] = reply
        try:
            await session.ws.send_json({"type": "command", "id": command_id, **command})
            answer = await asyncio.wait_for(reply, timeout)
        except RuntimeError as exc:  # sending on a closing socket
            raise ConnectionError(str(exc)) from None
        finally:
            session.pending.pop(command_id, None)
        if answer.get("ok"):
            session.info.update(answer.get("state") or {})
        return answer

    async def _command(self, session: _Session, command: dict[str, Any]) -> web.StreamResponse:
        """Send ``command`` to the session's job process; answer with what it did."""
        from aiohttp import web

        name = session.info["session_id"]
        try:
            answer = await self._ask(session, command, COMMAND_TIMEOUT)
        except asyncio.TimeoutError:
            return _error(504, f"session {name!r} did not answer within {COMMAND_TIMEOUT:g} s")
        except ConnectionError:
            return _error(409, f"session {name!r} has ended")
        if not answer.get("ok"):
            return _error(400, str(answer.get("error")), answer.get("hint"))
        return web.json_response(session.entry())

    # -- the job processes' link ------------------------------------------------------

    async def _link(self, request: web.Request) -> web.StreamResponse:
        """One session: ``register`` first, then replies to the commands sent to it."""
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        session: _Session | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = msg.json()
                if data.get("type") == "register" and session is None:
                    info = dict(data["session"])
                    session = _Session(ws, info)
                    self.sessions[str(info["session_id"])] = session
                    log.info("session %s (room %s) registered", info["session_id"],
                             info.get("room"))
                elif data.get("type") == "reply" and session is not None:
                    future = session.pending.get(int(data.get("id", -1)))
                    if future is not None and not future.done():
                        future.set_result(data)
        finally:
            if session is not None:
                self.sessions.pop(str(session.info["session_id"]), None)
                for future in session.pending.values():
                    if not future.done():
                        future.set_exception(ConnectionError("session ended"))
                log.info("session %s unregistered", session.info["session_id"])
        return ws


def _unauthorized() -> web.Response:
    return _error(401, "missing or wrong bearer token",
                  "send 'Authorization: Bearer <token>' ([worker] control_token, or the "
                  "token the worker logged when it started)")
