"""Optional HTTP control API of a running face (emotion, background), on 127.0.0.1 only.

::

    GET  /state                                      -> {"emotion": ..., "background": ..., ...}
    POST /emotion     {"name": "happy", "intensity": 0.8}
    POST /background  {"background": "sunset"}   (presets, colours; never file paths)

Every request needs ``Authorization: Bearer <token>``; without a configured token one is
generated and logged once. Bad input gets a 400 with ``{"error": ..., "hint": ...}``.
aiohttp is imported only when the server starts.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import secrets
import socket
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import AvatarkitError, FaceStartError

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("avatarkit.control")

HOST = "127.0.0.1"
MAX_BODY = 16 * 1024
# presets, colour names, #RRGGBB, "original": never a file path from an HTTP caller
_SAFE_BACKGROUND = re.compile(r"#?[A-Za-z0-9]{1,32}")


class ControlTarget(Protocol):
    """What the control API drives (``LocalFace`` implements it)."""

    def control_state(self) -> dict[str, Any]: ...

    async def set_emotion(self, name: str, intensity: float = 1.0) -> None: ...

    async def set_background(self, background: str) -> None: ...


class ControlServer:
    """A tiny aiohttp server bound to 127.0.0.1 with bearer-token auth."""

    def __init__(self, target: ControlTarget, *, port: int = 0, token: str | None = None) -> None:
        self.target = target
        self.requested_port = port
        self._generated = not token
        self.token = token or secrets.token_urlsafe(24)
        self.port: int | None = None
        self._runner: Any = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def addresses(self) -> list[Any]:
        """The socket addresses being served (always on 127.0.0.1)."""
        return list(self._runner.addresses) if self._runner is not None else []

    async def start(self) -> None:
        """Bind and serve; :class:`FaceStartError` if the port is taken."""
        from aiohttp import web

        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes([
            web.get("/state", self._state),
            web.post("/emotion", self._emotion),
            web.post("/background", self._background),
        ])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, self.requested_port))
        except OSError as exc:
            sock.close()
            await runner.cleanup()
            raise FaceStartError(
                f"control API cannot listen on {HOST}:{self.requested_port} ({exc.strerror})",
                hint="choose another control_port, or 0 for any free port",
            ) from None
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self.port = int(sock.getsockname()[1])
        if self._generated:
            log.warning("face control API on %s (bearer token: %s)", self.url, self.token)
        else:
            log.info("face control API on %s", self.url)

    async def aclose(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- handlers ----------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    @staticmethod
    def _error(status: int, message: str, hint: str | None = None,
               **extra: Any) -> web.Response:
        from aiohttp import web

        body: dict[str, Any] = {"error": message}
        if hint:
            body["hint"] = hint
        body.update(extra)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return web.json_response(body, status=status, headers=headers)

    def _unauthorized(self) -> web.Response:
        return self._error(401, "missing or wrong bearer token",
                           "send 'Authorization: Bearer <token>' (control_token in the face "
                           "options, or the token logged when the face started)")

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            raw = await request.read()
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            return self._error(400, "the request body is not valid JSON",
                               'send a JSON object, e.g. {"name": "happy"}')
        except Exception:  # noqa: BLE001 - e.g. body too large
            return self._error(400, f"the request body is unreadable (max {MAX_BODY} bytes)")
        if not isinstance(body, dict):
            return self._error(400, "the request body must be a JSON object")
        return body

    async def _state(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        if not self._authorized(request):
            return self._unauthorized()
        return web.json_response(self.target.control_state())

    async def _emotion(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        if not self._authorized(request):
            return self._unauthorized()
        body = await self._body(request)
        if not isinstance(body, dict):
            return body
        name = body.get("name")
        intensity = body.get("intensity", 1.0)
        if not isinstance(name, str):
            return self._error(400, "'name' (a string) is required",
                               'e.g. {"name": "happy", "intensity": 0.8}')
        if (isinstance(intensity, bool) or not isinstance(intensity, (int, float))
                or not math.isfinite(intensity)):
            return self._error(400, "'intensity' must be a number from 0 to 1")
        try:
            await self.target.set_emotion(name, float(intensity))
        except AvatarkitError as exc:
            return self._error(400, exc.message, exc.hint)
        return web.json_response(self.target.control_state())

    async def _background(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        if not self._authorized(request):
            return self._unauthorized()
        body = await self._body(request)
        if not isinstance(body, dict):
            return body
        background = body.get("background")
        if not isinstance(background, str):
            return self._error(400, "'background' (a string) is required",
                               'e.g. {"background": "sunset"} or {"background": "#203040"}')
        if not _SAFE_BACKGROUND.fullmatch(background.strip()):
            return self._error(400, f"background {background!r} is not a preset, colour name or "
                               "#RRGGBB colour",
                               "image files can only be set in the face options (background=...)")
        try:
            await self.target.set_background(background)
        except AvatarkitError as exc:
            return self._error(400, exc.message, exc.hint)
        return web.json_response(self.target.control_state())
