"""``avatarkit serve``: a LiveKit join-token endpoint and a page that joins the room.

Routes: ``GET /`` and ``GET /room.html`` (the page; vendored LiveKit JS client, no CDN),
``POST /token`` (``{"room", "identity"?, "name"?}`` -> ``{"token", "url", "room",
"identity", "expires_at"}``), ``OPTIONS /token`` (CORS preflight), ``GET /static/*``,
``GET /healthz``. Tokens are made by :func:`avatarkit.tokens.make_join_token`: one room,
join/publish/subscribe only, short TTL.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ..config import LiveKitSettings
from ..redact import redact_url
from ..tokens import (
    DEFAULT_TTL,
    MAX_TTL_SECONDS,
    identity_problem,
    name_problem,
    room_problem,
)
from ..tokens import check_ttl as _check_ttl
from . import static_dir
from .origins import OriginPolicy, own_origins
from .serving import first_error, listen, origin_check, read_model, serve_until_signal

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

DEFAULT_TTL_SECONDS = int(DEFAULT_TTL.total_seconds())
MAX_TTL = MAX_TTL_SECONDS  # the one ceiling, from avatarkit.tokens
_NOT_AN_OBJECT = "expected a JSON object {\"room\": \"...\"}"


def _rule(problem: Callable[[object], str | None], optional: bool = False) -> BeforeValidator:
    """Check a field with one of :mod:`avatarkit.tokens`' rules (its words in the error)."""

    def check(value: object) -> object:
        if optional and value is None:
            return value
        reason = problem(value)
        if reason is not None:
            raise ValueError(reason)
        return value

    return BeforeValidator(check)


class TokenRequest(BaseModel):
    """The body of ``POST /token``: the room to join, optionally who joins and their name."""

    model_config = ConfigDict(extra="forbid")

    room: Annotated[str, _rule(room_problem)]
    identity: Annotated[str | None, _rule(identity_problem, optional=True)] = None
    name: Annotated[str | None, _rule(name_problem, optional=True)] = None


def token_request_problem(exc: ValidationError) -> str:
    """What is wrong with a ``POST /token`` body, in the words the page shows."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}; allowed: room, identity, name"
    field, kind = first_error(exc)
    if kind in ("json_invalid", "model_type") or not field:
        return _NOT_AN_OBJECT
    if kind == "missing":  # only the room is required
        return str(room_problem(None))
    return str(errors[0]["msg"]).removeprefix("Value error, ")


def check_ttl(ttl: int) -> int:
    """``ttl`` seconds if within avatarkit's one TTL ceiling, else a ``UsageError``."""
    return _check_ttl(ttl, "--ttl")


class TokenServer:
    """The token endpoint and the room page for one LiveKit project."""

    def __init__(self, livekit: LiveKitSettings, *, host: str = "127.0.0.1", port: int = 8766,
                 allow_origins: Sequence[str] = (), ttl: int = DEFAULT_TTL_SECONDS,
                 agent_name: str = "") -> None:
        self.livekit = livekit
        self.agent_name = agent_name  # the worker's explicit-dispatch name, '' = automatic
        self.host = host
        self.port = port
        self.ttl = check_ttl(ttl)
        self.allow_origins = tuple(allow_origins)
        self.policy = OriginPolicy(own_origins(host, port), self.allow_origins)
        self._runner: web.AppRunner | None = None

    def _refuse_origin(self, origin: str | None) -> web.Response:
        return _json({"error": f"origin {origin} is not allowed to request tokens",
                      "hint": "start `avatarkit serve --allow-origin ORIGIN` to allow it"}, 403)

    @web.middleware
    async def _cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """CORS headers for an allowed page of another origin (``--allow-origin``)."""
        response = await handler(request)
        if request.path == "/token":
            origin = request.headers.get("Origin")
            if origin is not None and self.policy.is_cross_origin(origin):
                response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    def missing(self) -> list[str]:
        """The ``LIVEKIT_*`` settings still needed to hand out tokens."""
        return self.livekit.missing()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024, middlewares=[
            origin_check(lambda origin: self.policy.allows(origin), self._refuse_origin),
            self._cors])
        app.router.add_get("/", self._page)
        app.router.add_get("/room.html", self._page)
        app.router.add_get("/healthz", self._health)
        app.router.add_post("/token", self._token)
        app.router.add_route("OPTIONS", "/token", self._preflight)
        app.router.add_static("/static/", static_dir(), follow_symlinks=False)
        return app

    async def start(self) -> str:
        """Start serving; return the page's URL (the real port when ``port`` is 0)."""
        self._runner, self.port = await listen(self.app(), self.host, self.port)
        self.policy = OriginPolicy(own_origins(self.host, self.port), self.allow_origins)
        return self.url

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers -----------------------------------------------------------------------
    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(static_dir() / "room.html", headers={"Cache-Control": "no-store"})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "configured": not self.missing()})

    async def _preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"})

    async def _token(self, request: web.Request) -> web.Response:
        from ..tokens import decode_grants, make_join_token

        missing = self.missing()
        if missing:
            return _json({"error": "this server cannot make LiveKit tokens: "
                          f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                          "missing": missing,
                          "hint": "set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET "
                          "for `avatarkit serve` (the same project as `avatarkit run`)"}, 503)
        try:
            body = await read_model(request, TokenRequest)
        except ValidationError as exc:
            return _json({"error": token_request_problem(exc)}, 400)
        except web.HTTPException:  # larger than the app's limit
            return _json({"error": _NOT_AN_OBJECT}, 400)
        identity = body.identity or f"web-{secrets.token_hex(4)}"
        lk = self.livekit
        assert lk.api_key is not None and lk.api_secret is not None and lk.url is not None
        secret = lk.api_secret.get_secret_value()
        token = make_join_token(room=body.room, identity=identity, name=body.name,
                                ttl=timedelta(seconds=self.ttl),
                                api_key=lk.api_key.get_secret_value(), api_secret=secret,
                                agent_name=self.agent_name or None)
        claims = decode_grants(token, secret)
        return _json({"token": token, "url": client_url(lk.url), "room": body.room,
                      "identity": identity, "expires_at": int(claims["exp"])}, 200,
                     {"Cache-Control": "no-store"})


def client_url(url: str) -> str:
    """The LiveKit URL as the JS client wants it (``ws``/``wss``, no credentials)."""
    url = redact_url(url)
    if url.startswith("https://"):
        return "wss://" + url[len("https://"):]
    if url.startswith("http://"):
        return "ws://" + url[len("http://"):]
    return url


def _json(data: dict[str, Any], status: int, headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def run_serve(livekit: LiveKitSettings, *, host: str, port: int, allow_origins: Sequence[str],
              ttl: int, echo: Callable[[str], None] = print, agent_name: str = "") -> None:
    """Serve the token endpoint and the room page until Ctrl-C. Blocking.

    ``agent_name`` (``worker.agent_name``): tokens dispatch that agent to the room.
    """
    import asyncio

    server = TokenServer(livekit, host=host, port=port, allow_origins=allow_origins, ttl=ttl,
                         agent_name=agent_name)

    def ready() -> None:
        missing = server.missing()
        if missing:
            echo(f"avatarkit serve: warning: {', '.join(missing)} not set; POST /token "
                 "answers 503 until they are")
        agent = f", dispatching agent '{agent_name}'" if agent_name else ""
        echo(f"avatarkit serve: open {server.url}  (tokens for one room{agent}, ttl "
             f"{server.ttl} s; Ctrl-C to stop)")

    asyncio.run(serve_until_signal(server.start, server.stop, ready))
    echo("avatarkit serve: stopped")
