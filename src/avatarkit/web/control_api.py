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

import logging
import math
import re
import secrets
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, StrictFloat, StrictInt, StrictStr, ValidationError

from ..errors import AvatarkitError, FaceStartError
from .serving import bearer_token, first_error, listen, read_model

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


class EmotionRequest(BaseModel):
    """``POST /emotion``: an emotion name and how strongly (0-1, default 1)."""

    name: StrictStr
    intensity: StrictFloat | StrictInt = 1.0


class BackgroundRequest(BaseModel):
    """``POST /background``: a preset, a colour name or ``#RRGGBB``."""

    background: StrictStr


# per field: what to answer when it is missing or of the wrong type
_FIELD_PROBLEMS: dict[str, tuple[str, str | None]] = {
    "name": ("'name' (a string) is required", 'e.g. {"name": "happy", "intensity": 0.8}'),
    "intensity": ("'intensity' must be a number from 0 to 1", None),
    "background": ("'background' (a string) is required",
                   'e.g. {"background": "sunset"} or {"background": "#203040"}'),
}


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

    def app(self) -> web.Application:
        from aiohttp import web

        app = web.Application(client_max_size=MAX_BODY,
                              middlewares=[bearer_token(self.token, _unauthorized)])
        app.add_routes([
            web.get("/state", self._state),
            web.post("/emotion", self._emotion),
            web.post("/background", self._background),
        ])
        return app

    async def start(self) -> None:
        """Bind and serve; :class:`FaceStartError` if the port is taken."""

        def refused(exc: OSError) -> FaceStartError:
            return FaceStartError(
                f"control API cannot listen on {HOST}:{self.requested_port} ({exc.strerror})",
                hint="choose another control_port, or 0 for any free port")

        self._runner, self.port = await listen(self.app(), HOST, self.requested_port,
                                               refused=refused)
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

    async def _state(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        return web.json_response(self.target.control_state())

    async def _emotion(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        body = await _read(request, EmotionRequest)
        if not isinstance(body, EmotionRequest):
            return body
        if not math.isfinite(body.intensity):
            return _error(400, *_FIELD_PROBLEMS["intensity"])
        try:
            await self.target.set_emotion(body.name, float(body.intensity))
        except AvatarkitError as exc:
            return _error(400, exc.message, exc.hint)
        return web.json_response(self.target.control_state())

    async def _background(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        body = await _read(request, BackgroundRequest)
        if not isinstance(body, BackgroundRequest):
            return body
        background = body.background
        if not _SAFE_BACKGROUND.fullmatch(background.strip()):
            return _error(400, f"background {background!r} is not a preset, colour name or "
                          "#RRGGBB colour",
                          "image files can only be set in the face options (background=...)")
        try:
            await self.target.set_background(background)
        except AvatarkitError as exc:
            return _error(400, exc.message, exc.hint)
        return web.json_response(self.target.control_state())


async def _read(request: web.Request, model: type[BaseModel]) -> Any:
    """The body as ``model``, or the 400 response that says what is wrong with it."""
    from aiohttp import web

    try:
        return await read_model(request, model)
    except web.HTTPException:  # e.g. body too large
        return _error(400, f"the request body is unreadable (max {MAX_BODY} bytes)")
    except ValidationError as exc:
        field, kind = first_error(exc)
        if kind == "json_invalid":
            return _error(400, "the request body is not valid JSON",
                          'send a JSON object, e.g. {"name": "happy"}')
        if kind == "model_type" or field not in _FIELD_PROBLEMS:
            return _error(400, "the request body must be a JSON object")
        return _error(400, *_FIELD_PROBLEMS[field])


def _error(status: int, message: str, hint: str | None = None) -> web.Response:
    from aiohttp import web

    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


def _unauthorized() -> web.Response:
    return _error(401, "missing or wrong bearer token",
                  "send 'Authorization: Bearer <token>' (control_token in the face "
                  "options, or the token logged when the face started)")
