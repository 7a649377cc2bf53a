"""``avatarkit playground``: an aiohttp server that talks to browsers peer-to-peer.

Routes: ``GET /`` (the page), ``GET /static/*``, ``POST /offer`` (SDP offer after ICE
gathering -> SDP answer; starts one session), ``GET /sessions`` (status JSON),
``GET /healthz``. Every peer gets its own
:class:`~avatarkit.playground.transport.PlaygroundTransport` and its own ``Composer.run``;
models and the llama.cpp server are process-wide.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..composer import Composer, Plan
from ..errors import AvatarkitError
from ..gc_pauses import freeze_loaded
from ..interruptible import run_interruptible
from ..progress import watch
from ..web import static_dir as shared_static_dir
from ..web.origins import OriginPolicy, own_origins
from ..web.serving import listen, origin_check, read_model, serve_until_signal
from . import static_dir
from .readiness import Readiness

log = logging.getLogger("avatarkit.playground")

MAX_OFFER_BYTES = 200_000
_BAD_OFFER = "expected a JSON body {\"sdp\": ..., \"type\": \"offer\"}"


class Offer(BaseModel):
    """The body of ``POST /offer``: the browser's SDP offer, after its ICE gathering."""

    sdp: str
    type: Literal["offer"]


class _Peer:
    def __init__(self, transport: Any, task: asyncio.Task[Any]) -> None:
        self.transport = transport
        self.task = task


class PlaygroundServer:
    """Serves the playground page and runs one session per connected browser.

    One :class:`~avatarkit.composer.Composer` per session, all built from the same
    validated :class:`~avatarkit.composer.Plan` (a composer's brain instance owns that
    session's STT/LLM/TTS objects; the models behind them are loaded once per process by
    :meth:`prewarm`).
    """

    def __init__(self, plan: Plan, *, host: str = "127.0.0.1", port: int = 8765,
                 max_sessions: int = 4, connect_timeout: float = 30.0,
                 allow_origins: tuple[str, ...] = ()) -> None:
        self.plan = plan
        self.host = host
        self.port = port
        self.max_sessions = max_sessions
        self.connect_timeout = connect_timeout
        self.allow_origins = allow_origins
        self.peers: dict[str, _Peer] = {}
        self.ended: collections.deque[dict[str, Any]] = collections.deque(maxlen=50)
        self._runner: web.AppRunner | None = None
        self._policy = OriginPolicy(allowed=allow_origins)
        self._stopping = False
        self.readiness = Readiness()

    def prewarm(self) -> None:
        """Load everything the first turn needs once, then mark the playground ready.
        Blocking, on the main thread (see :meth:`prewarm_in_background` to serve meanwhile).
        """
        self.readiness.begin()
        composer = Composer(self.plan)
        composer.import_plugins()
        self._load(composer)

        async def build_once() -> None:
            await self._build_once(composer)

        run_interruptible(build_once())
        self.readiness.set_ready()

    def prewarm_in_background(self) -> asyncio.Task[None]:
        """Serve while the models load: the page shows "getting ready" with each load
        (``GET /healthz``) and ``POST /offer`` answers 503 until everything is loaded.
        Call on the main thread, in the serving loop; the task fails if loading does."""
        self.readiness.begin()
        composer = Composer(self.plan)
        return asyncio.ensure_future(self._prewarm_async(composer))

    async def _prewarm_async(self, composer: Composer) -> None:
        try:
            composer.import_plugins()  # LiveKit registers plugins on the main thread only
            await asyncio.to_thread(self._load, composer)
            await self._build_once(composer)
        except Exception as exc:  # noqa: BLE001 - shown on the page and raised to the CLI
            self.readiness.set_failed(exc)
            raise
        self.readiness.set_ready()

    def _load(self, composer: Composer) -> None:
        stop = watch(self.readiness.note)
        try:
            composer.prewarm()
        finally:
            stop()

    @staticmethod
    async def _build_once(composer: Composer) -> None:
        """One session's components, built and closed: imports what ``build`` imports on
        this thread, so the first browser's session starts as fast as the others; what it
        imported is then frozen out of full garbage collections, as ``prewarm``'s loads are."""
        composer.brain.build()
        await composer.brain.aclose()
        freeze_loaded()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_OFFER_BYTES, middlewares=[
            origin_check(lambda origin: self._policy.allows(origin), _refuse_origin)])
        app.router.add_get("/", self._index)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/sessions", self._sessions)
        app.router.add_post("/offer", self._offer)
        app.router.add_get("/static/style.css", _style)  # shared with `serve`'s room page
        app.router.add_static("/static/", static_dir(), follow_symlinks=False)
        return app

    async def start(self) -> str:
        """Start serving; return the page's URL (the real port when ``port`` is 0)."""
        use_loopback_if_alone()
        self._runner, self.port = await listen(self.app(), self.host, self.port)
        self._policy = OriginPolicy(own_origins(self.host, self.port), self.allow_origins)
        return self.url

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    async def stop(self, timeout: float = 20.0) -> None:
        """Close every peer, wait for their sessions to finish, stop serving."""
        self._stopping = True
        for peer in list(self.peers.values()):
            peer.transport.close("the playground is shutting down")
        tasks = [p.task for p in self.peers.values()]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers -----------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(static_dir() / "playground.html",
                                headers={"Cache-Control": "no-store"})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "sessions": len(self.peers),
                                  **self.readiness.to_dict()})

    async def _sessions(self, request: web.Request) -> web.Response:
        return web.json_response({
            "active": [p.transport.status() for p in self.peers.values()],
            "ended": list(self.ended),
        }, dumps=_dumps)

    async def _offer(self, request: web.Request) -> web.Response:
        from .transport import PlaygroundTransport

        if self._stopping:
            return _error(503, "the playground is shutting down")
        if not self.readiness.ready:
            status = self.readiness.to_dict()
            return web.json_response({**status, "error": status["error"] or (
                "the avatar is getting ready (loading models); try again in a moment")},
                status=503)
        if len(self.peers) >= self.max_sessions:
            return _error(503, f"the playground already runs {len(self.peers)} sessions "
                          "(--max-sessions); close a tab or try again later")
        try:
            offer = await read_model(request, Offer)
        except (ValidationError, web.HTTPException):  # not an offer, or too large
            return _error(400, _BAD_OFFER)
        transport = PlaygroundTransport(connect_timeout=self.connect_timeout,
                                        brain=self.plan.brain_cls.name,
                                        face=self.plan.faces[0].cls.name)
        try:
            answer = await transport.answer(offer.sdp, offer.type)
        except AvatarkitError as exc:
            await transport.aclose()
            return _error(400, exc.message)
        except Exception as exc:  # noqa: BLE001 - aiortc internals: still answer in JSON
            log.warning("could not answer an offer", exc_info=True)
            await transport.aclose()
            return _error(500, f"could not answer the offer: {type(exc).__name__}: {exc}")
        task = asyncio.create_task(self._run_session(transport),
                                   name=f"avatarkit-playground-{transport.session_id}")
        self.peers[transport.session_id] = _Peer(transport, task)
        log.info("session %s: started (%d active)", transport.session_id, len(self.peers))
        return web.json_response({**answer, "session": transport.session_id})

    async def _run_session(self, transport: Any) -> None:
        started = time.time()
        error: str | None = None
        report = None
        try:
            report = await Composer(self.plan).run(transport, on_started=transport.on_started)
        except asyncio.CancelledError:
            error = "cancelled"
            raise
        except Exception as exc:  # noqa: BLE001 - one session's failure is not the server's
            error = (exc.message if isinstance(exc, AvatarkitError)
                     else f"{type(exc).__name__}: {exc}")
            log.warning("session %s failed: %s", transport.session_id, error)
            transport.send({"type": "error", "message": error})
            with contextlib.suppress(Exception):
                await transport.aclose()
        finally:
            self.peers.pop(transport.session_id, None)
            self.ended.append({
                "session": transport.session_id,
                "reason": transport.end_reason,
                "error": error,
                "seconds": round(time.time() - started, 3),
                "face": report.face if report is not None else None,
                "turns": len(report.turns) if report is not None else 0,
                "status": transport.status(),
            })
            log.info("session %s: ended (%s; %d active)", transport.session_id,
                     error or transport.end_reason, len(self.peers))


def use_loopback_if_alone() -> bool:
    """On a machine whose only interface is loopback, let aioice offer 127.0.0.1.

    aioice never gathers 127.0.0.1 as a host candidate, so with no other interface every
    connection would fail. This wraps ``aioice.ice.get_host_addresses`` to fall back to
    loopback only in that case (the browser then needs loopback candidates too: Chromium's
    ``--allow-loopback-in-peer-connection``). Returns True when the fallback is active.
    """
    from aioice import ice

    original = getattr(ice.get_host_addresses, "__wrapped__", ice.get_host_addresses)
    if original(use_ipv4=True, use_ipv6=True):
        return False

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return original(use_ipv4, use_ipv6) or (["127.0.0.1"] if use_ipv4 else [])

    with_loopback.__wrapped__ = original  # type: ignore[attr-defined]
    ice.get_host_addresses = with_loopback
    log.warning("no network interface but loopback: offering 127.0.0.1 ICE candidates "
                "(Chromium needs --allow-loopback-in-peer-connection)")
    return True


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _refuse_origin(origin: str | None) -> web.Response:
    return _error(403, f"origin {origin} may not start sessions on this playground")


async def _style(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(shared_static_dir() / "style.css")


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, default=str)


def run_playground(plan: Plan, *, host: str, port: int, open_browser: bool = False,
                   max_sessions: int = 4, echo: Callable[[str], None] = print) -> None:
    """Prewarm, serve until Ctrl-C, then close every session. Blocking."""
    server = PlaygroundServer(plan, host=host, port=port, max_sessions=max_sessions)
    echo(f"avatarkit playground: brain '{plan.brain_cls.name}', face chain "
         f"{' -> '.join(f.cls.name for f in plan.faces)}")
    Composer(plan).import_plugins()  # before serving: it would hold up the serving loop

    def ready() -> None:
        echo(f"avatarkit playground: open {server.url}  (Ctrl-C to stop); getting ready "
             "(loading models)...")
        if open_browser:
            import webbrowser

            webbrowser.open(server.url)

        def loaded(task: asyncio.Task[None]) -> None:
            if task.cancelled():
                return
            if task.exception() is None:
                echo("avatarkit playground: ready")
            else:  # stop serving; the error is raised below, after the shutdown
                signal.raise_signal(signal.SIGTERM)

        server.prewarm_in_background().add_done_callback(loaded)

    async def stop() -> None:
        if server.peers:
            echo(f"avatarkit playground: closing {len(server.peers)} session(s)")
        await server.stop()

    asyncio.run(serve_until_signal(server.start, stop, ready))
    if server.readiness.error is not None:
        raise server.readiness.error
    echo("avatarkit playground: stopped")
