"""Stand-in for Boson's hosted avatar session API, as livekit-plugins-boson-avatar 1.8.9
calls it (``livekit/plugins/boson_avatar/api.py``), plus the avatar worker a real provider
runs: on start it launches :mod:`standins.avatar_worker`, which joins the real LiveKit room
with the token it was given and speaks LiveKit's data-stream avatar protocol.

- ``POST /sessions`` (``Authorization: Bearer``, ``Idempotency-Key: <uuid>``) with
  ``{"avatar_id", "transport": {"type": "livekit", "url", "room_name", "participant_token",
  "participant_identity", "publisher_identity", "audio_source": "data_stream"},
  "output"?: {"width", "height"}, "max_duration_seconds"?}`` -> 201 ``{"id", "object":
  "avatar.livekit.session", "status": "active", "avatar_identity"}``; the same key again
  returns the same session (200), never a second one.
- ``DELETE /sessions/{id}`` -> 200 ``{"id", "object", "status": "terminated"}`` (idempotent;
  404 for an unknown id); the avatar worker is stopped and leaves the room.
- ``GET /avatars`` -> ``{"object": "avatar.list", "data": [{"avatar_id", "name"}]}``.
- Errors: ``{"error": {"message", "type", "request_id"}}`` with an ``x-request-id`` header.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ._avatar import AvatarProcess, launch_avatar
from ._server import StandinServer

SESSION_OBJECT = "avatar.livekit.session"


@dataclass
class BosonSession:
    """One provider session: what was asked, its state, its avatar worker."""

    id: str
    request: dict[str, Any]
    idempotency_key: str
    state: str = "active"
    events_path: Path | None = None
    process: asyncio.subprocess.Process | None = None
    avatar: AvatarProcess | None = None
    created_at: float = field(default_factory=time.monotonic)

    @property
    def transport(self) -> dict[str, Any]:
        return dict(self.request["transport"])

    def events(self) -> list[dict[str, Any]]:
        """What the avatar worker reported (JSON lines), oldest first."""
        return [] if self.avatar is None else self.avatar.events()


class BosonStandin(StandinServer):
    """Records every call. ``api_url`` is what ``BOSON_AVATAR_API_URL`` should be.

    ``refuse_status`` answers every start with that error status (nothing is created);
    ``workdir`` set means each session launches a real avatar worker into the room;
    ``linger`` keeps that worker in the room after the session is stopped (a provider that
    is slow to leave), so only the caller's own removal of the participant clears the room;
    ``create_delay`` answers a start that late (the session exists, and is billed, already);
    ``on_created(session)`` runs once a session exists, before the answer (tests use it to
    join an avatar of their own).
    """

    def __init__(self, *, api_key: str = "boson-test-key", avatar_id: str = "av-test",
                 refuse_status: int | None = None, workdir: Path | None = None,
                 linger: bool = False, create_delay: float = 0.0,
                 worker_env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.avatar_id = avatar_id
        self.refuse_status = refuse_status
        self.workdir = workdir
        self.linger = linger
        self.create_delay = create_delay
        self.on_created: Callable[[BosonSession], Awaitable[None]] | None = None
        self.worker_env = dict(worker_env or {})
        self.sessions: dict[str, BosonSession] = {}
        self._by_key: dict[str, str] = {}
        r = self.app.router
        r.add_post("/sessions", self._create)
        r.add_delete("/sessions/{session_id}", self._delete)
        r.add_get("/avatars", self._avatars)

    @property
    def api_url(self) -> str:
        return self.url

    def start_calls(self) -> list[Any]:
        return [c for c in self.calls if c.method == "POST" and c.path == "/sessions"]

    def stop_calls(self, session_id: str | None = None) -> list[Any]:
        return [c for c in self.calls if c.method == "DELETE" and (
            session_id is None or c.path == f"/sessions/{session_id}")]

    def only_session(self) -> BosonSession:
        assert len(self.sessions) == 1, f"expected one session, got {list(self.sessions)}"
        return next(iter(self.sessions.values()))

    async def wait_session(self, timeout: float = 30.0) -> BosonSession:
        """The one session, once created (with ``workdir``: once its avatar worker is
        launched too: the session exists a moment before its worker does)."""
        deadline = time.monotonic() + timeout
        while not self.sessions or (self.workdir is not None and any(
                s.avatar is None for s in self.sessions.values())):
            if time.monotonic() > deadline:
                raise TimeoutError("no Boson session was started (or its avatar worker was not "
                                   "launched)")
            await asyncio.sleep(0.05)
        return self.only_session()

    async def wait_event(self, session: BosonSession, event: str, *, timeout: float = 60.0,
                         after: int = 0) -> dict[str, Any]:
        """The first ``event`` the session's avatar worker reported (past index ``after``)."""
        assert session.avatar is not None, "this session launched no avatar worker"
        return await session.avatar.wait_event(event, timeout=timeout, after=after)

    def kill_worker(self, session: BosonSession) -> None:
        """The provider's renderer crashes: SIGKILL, no goodbye to the room."""
        assert session.process is not None and session.process.returncode is None
        session.process.send_signal(signal.SIGKILL)

    async def close(self) -> None:
        for sess in self.sessions.values():
            await self._stop_worker(sess)
        await super().close()

    # -- HTTP -----------------------------------------------------------------------------

    def _error(self, status: int, message: str, kind: str = "invalid_request_error"
               ) -> web.Response:
        rid = "req_" + uuid.uuid4().hex[:12]
        return web.json_response({"error": {"message": message, "type": kind,
                                            "request_id": rid}},
                                 status=status, headers={"x-request-id": rid})

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _create(self, request: web.Request) -> web.Response:
        call = await self.record(request)
        if not self._authorized(request):
            return self._error(401, "invalid api key", "authentication_error")
        key = request.headers.get("Idempotency-Key", "")
        try:
            uuid.UUID(key)
        except ValueError:
            return self._error(400, "Idempotency-Key must be a UUID")
        problem = _check_body(call.json, self.avatar_id)
        if problem:
            return self._error(400, problem)
        if self.refuse_status is not None:
            return self._error(self.refuse_status, "avatar sessions are not available",
                               "permission_error" if self.refuse_status == 403 else "api_error")
        if key in self._by_key:  # a retried create: the same session, not a second one
            return web.json_response(self._body(self.sessions[self._by_key[key]]), status=200)
        sess = BosonSession("avsess_" + uuid.uuid4().hex[:16], call.json, key)
        self.sessions[sess.id] = sess
        self._by_key[key] = sess.id
        if self.workdir is not None:
            await self._launch_worker(sess)
        if self.on_created is not None:
            await self.on_created(sess)
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        return web.json_response(self._body(sess), status=201)

    async def _delete(self, request: web.Request) -> web.Response:
        await self.record(request)
        if not self._authorized(request):
            return self._error(401, "invalid api key", "authentication_error")
        sess = self.sessions.get(request.match_info["session_id"])
        if sess is None:
            return self._error(404, "no such session", "not_found_error")
        sess.state = "terminated"
        if not self.linger:
            await self._stop_worker(sess)
        return web.json_response({"id": sess.id, "object": SESSION_OBJECT,
                                  "status": "terminated"})

    async def _avatars(self, request: web.Request) -> web.Response:
        await self.record(request)
        if not self._authorized(request):
            return self._error(401, "invalid api key", "authentication_error")
        return web.json_response({"object": "avatar.list", "data": [
            {"avatar_id": self.avatar_id, "name": "Test Avatar"}]})

    def _body(self, sess: BosonSession) -> dict[str, Any]:
        return {"id": sess.id, "object": SESSION_OBJECT, "status": sess.state,
                "avatar_identity": sess.transport["participant_identity"]}

    # -- the avatar worker ----------------------------------------------------------------

    async def _launch_worker(self, sess: BosonSession) -> None:
        assert self.workdir is not None
        t = sess.transport
        output = sess.request.get("output") or {}
        avatar = await launch_avatar(self.workdir, sess.id, t["url"], t["participant_token"],
                                     width=output.get("width", 128),
                                     height=output.get("height", 128), env=self.worker_env)
        sess.events_path, sess.process = avatar.events_path, avatar.process
        sess.avatar = avatar

    async def _stop_worker(self, sess: BosonSession) -> None:
        if sess.avatar is not None:
            await sess.avatar.stop()


def _check_body(body: Any, avatar_id: str) -> str | None:
    """What is wrong with a create request, or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if body.get("avatar_id") != avatar_id:
        return f"unknown avatar_id {body.get('avatar_id')!r}"
    t = body.get("transport")
    if not isinstance(t, dict) or t.get("type") != "livekit":
        return "transport.type must be 'livekit'"
    for key in ("url", "room_name", "participant_token", "participant_identity",
                "publisher_identity"):
        if not isinstance(t.get(key), str) or not t[key]:
            return f"transport.{key} is required"
    if t.get("audio_source") != "data_stream":
        return "transport.audio_source must be 'data_stream'"
    out = body.get("output")
    if out is not None and not (isinstance(out, dict) and all(
            isinstance(out.get(k), int) and out[k] > 0 for k in ("width", "height"))):
        return "output needs positive integer width and height"
    mds = body.get("max_duration_seconds")
    if mds is not None and not (isinstance(mds, int) and 0 < mds <= 14_400):
        return "max_duration_seconds must be 1..14400"
    return None
