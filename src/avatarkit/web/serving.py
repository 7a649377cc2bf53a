"""What every avatarkit web server shares (aiohttp): listening on a port, serving until
Ctrl-C / SIGTERM, the middlewares that refuse a request before its handler runs (a
browser origin that is not allowed, a missing bearer token), and request bodies read into
pydantic models.

aiohttp is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import AvatarkitError

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.typedefs import Handler, Middleware

M = TypeVar("M", bound=BaseModel)
#: Methods a browser sends an ``Origin`` with that change something (GETs are only read).
ORIGIN_CHECKED = frozenset({"POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


async def listen(app: web.Application, host: str, port: int, *,
                 refused: Callable[[OSError], AvatarkitError] | None = None,
                 ) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` with aiohttp's ``AppRunner``/``TCPSite``; return the
    runner (``cleanup()`` stops it) and the real port (``port`` 0 picks a free one).

    A port that cannot be bound is ``refused(error)`` (default: an :class:`AvatarkitError`
    saying to pick another ``--port``), never a bare ``OSError``.
    """
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if refused is not None:
            raise refused(exc) from None
        raise AvatarkitError(f"cannot listen on {host}:{port}: {exc.strerror}",
                             hint="pick another --port (0 picks a free one)") from None
    addresses = runner.addresses
    return runner, int(addresses[0][1]) if addresses else port


def origin_check(allows: Callable[[str | None], bool],
                 refusal: Callable[[str | None], web.StreamResponse]) -> Middleware:
    """A middleware answering ``refusal(origin)`` to a state-changing request (POST,
    OPTIONS...) whose ``Origin`` header ``allows`` refuses."""
    from aiohttp import web

    @web.middleware
    async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method in ORIGIN_CHECKED and not allows(origin):
            return refusal(origin)
        return await handler(request)

    return check_origin


def bearer_token(token: str, refusal: Callable[[], web.StreamResponse]) -> Middleware:
    """A middleware answering ``refusal()`` to every request without
    ``Authorization: Bearer <token>`` (compared in constant time)."""
    from aiohttp import web

    expected = token.encode()

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip() \
                or not hmac.compare_digest(given.strip().encode(), expected):
            return refusal()
        return await handler(request)

    return check_token


async def read_model(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as ``model``. Raises pydantic's ``ValidationError`` (error
    types ``json_invalid`` for a body that is not JSON, ``model_type`` for one that is not
    an object, then the model's own) or aiohttp's error for a body over the app's limit."""
    return model.model_validate_json(await request.read() or b"null")


def first_error(exc: ValidationError) -> tuple[str, str]:
    """``(field, error type)`` of a validation error's first problem (``""`` for the body
    as a whole), to answer it with the server's own words."""
    err = exc.errors()[0]
    return (str(err["loc"][0]) if err["loc"] else ""), err["type"]


async def serve_until_signal(
    start: Callable[[], Any], stop: Callable[[], Any],
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run ``start()``, wait for Ctrl-C / SIGTERM, then ``stop()`` (a second Ctrl-C during
    the shutdown interrupts it)."""
    loop = asyncio.get_running_loop()
    stop_event = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_event.set)
            installed.append(sig)
    started = False
    try:
        await start()
        started = True
        if on_ready is not None:
            on_ready()
        await stop_event.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if started:
            await stop()
