"""``avatarkit run``: check the LiveKit server, start what job processes share, serve.

1. :func:`check_livekit` opens the worker WebSocket once, as the worker will: a server that
   cannot be reached (refused, unknown host, TLS, timeout) or refuses the key gets one
   plain message within seconds (URL, what failed, what to check) and exit code 1, before
   any model loads.
2. The brain prepares what every job process shares (the ``local`` brain's llama.cpp server:
   one per worker, whatever the number of job processes or their restarts).
3. The ``AgentServer`` runs until SIGINT/SIGTERM (drained in production mode; a second
   signal forces the exit). Exit 0 after a worker that registered is stopped; exit 1 when
   it never registered (interrupted or failed before) or the connection failed for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

from .errors import AvatarkitError, MissingCredentialsError, describe
from .redact import redact_url

if TYPE_CHECKING:
    from livekit.agents import AgentServer

    from .composer import Plan

Mode = Literal["start", "dev", "connect"]
CHECK_TIMEOUT = 5.0
_CHECK = ("check LIVEKIT_URL (for LiveKit Cloud: wss://<project>.livekit.cloud; for a server "
          "of your own: is it running and listening there?) and that this machine can reach "
          "it (network, firewall, proxy)")


class WorkerError(AvatarkitError):
    """The worker could not connect or register (exit code 1)."""


def agent_url(url: str) -> str:
    """The worker endpoint LiveKit's ``AgentServer`` connects to (``ws[s]://.../agent``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.replace("http", "ws", 1)
    return urljoin(f"{scheme}://{parts.netloc}{parts.path}".rstrip("/") + "/", "agent")


async def check_livekit(url: str, api_key: str, api_secret: str,
                        timeout: float = CHECK_TIMEOUT) -> None:
    """Open the worker WebSocket of ``url`` with these credentials and close it again.

    Raises :class:`WorkerError` saying what failed: nothing listens, unknown host, TLS,
    no answer within ``timeout``, key refused, not a LiveKit server.
    """
    import aiohttp
    from livekit import api  # not livekit.agents: seconds to import, and not needed yet

    shown = redact_url(url)
    token = (api.AccessToken(api_key, api_secret)
             .with_grants(api.VideoGrants(agent=True)).to_jwt())
    connector = aiohttp.TCPConnector(ssl=_ssl_context())
    try:
        async with aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            ws = await http.ws_connect(agent_url(url),
                                       headers={"Authorization": f"Bearer {token}"})
            await ws.close()
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status in (401, 403):
            raise WorkerError(
                f"the LiveKit server at {shown} refused the API key/secret (HTTP {exc.status})",
                hint="check LIVEKIT_API_KEY and LIVEKIT_API_SECRET: they must be a key pair "
                "of this server or LiveKit Cloud project") from None
        raise WorkerError(
            f"{shown} answered HTTP {exc.status} to the LiveKit worker connection: is it a "
            "LiveKit server?", hint=_CHECK) from None
    except asyncio.TimeoutError:
        raise WorkerError(f"cannot reach the LiveKit server at {shown}: no answer within "
                          f"{timeout:g} s", hint=_CHECK) from None
    except aiohttp.ClientConnectorDNSError:
        raise WorkerError(f"cannot reach the LiveKit server at {shown}: host name "
                          f"{urlsplit(url).hostname!r} not found", hint=_CHECK) from None
    except aiohttp.ClientConnectorCertificateError as exc:
        reason = getattr(exc.certificate_error, "verify_message", None) or "not trusted"
        raise WorkerError(f"cannot reach the LiveKit server at {shown}: its TLS certificate "
                          f"was refused ({reason})",
                          hint="check the server's certificate and host name (or use ws:// "
                          "for a server without TLS)") from None
    except aiohttp.ClientSSLError as exc:
        raise WorkerError(f"cannot reach the LiveKit server at {shown}: the TLS handshake "
                          f"failed ({describe(exc.os_error)})",
                          hint="is it a TLS server? use ws:// for a server without TLS"
                          ) from None
    except aiohttp.ClientConnectorError as exc:
        errno = exc.os_error.errno
        reason = os.strerror(errno) if errno else describe(exc.os_error)
        raise WorkerError(f"cannot reach the LiveKit server at {shown}: {reason.lower()} "
                          f"({exc.host}:{exc.port})", hint=_CHECK) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise WorkerError(f"cannot reach the LiveKit server at {shown}: {describe(exc)}",
                          hint=_CHECK) from None


def _ssl_context() -> ssl.SSLContext:
    """The trust LiveKit's worker uses: ``SSL_CERT_FILE``/``SSL_CERT_DIR``, the system
    store, or certifi's bundle when the machine has no store."""
    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"),
                                         capath=os.environ.get("SSL_CERT_DIR"))
    paths = ssl.get_default_verify_paths()
    has_store = ((paths.cafile and os.path.exists(paths.cafile))
                 or (paths.capath and os.path.isdir(paths.capath)))
    if not has_store and not os.environ.get("SSL_CERT_FILE"):
        with contextlib.suppress(ImportError):
            import certifi

            context.load_verify_locations(cafile=certifi.where())
    return context


def run_worker(plan: Plan, *, mode: Mode = "start", room: str | None = None,
               echo: Callable[[str], Any] = print) -> None:
    """Run a LiveKit worker for ``plan`` until stopped (blocking); see the module doc."""
    from .worker import build_server, worker_plan

    lk = plan.config.livekit
    missing = lk.missing()
    if missing:
        raise MissingCredentialsError(
            f"`avatarkit run` needs a LiveKit server: {', '.join(missing)} not set",
            hint="export LIVEKIT_URL=wss://<project>.livekit.cloud LIVEKIT_API_KEY=... "
            "LIVEKIT_API_SECRET=... (or set [livekit] in avatarkit.toml); "
            "with no server, try `avatarkit demo` or `avatarkit playground`",
        )
    assert lk.url is not None and lk.api_key is not None and lk.api_secret is not None
    url = lk.url
    try:
        asyncio.run(check_livekit(url, lk.api_key.get_secret_value(),
                                  lk.api_secret.get_secret_value()))
        server = build_server(worker_plan(plan))
        registered = asyncio.run(_serve(server, mode=mode, room=room, echo=echo,
                                        url=redact_url(url)))
    except KeyboardInterrupt:
        registered = False
    if not registered:
        raise WorkerError(f"interrupted before the worker registered with {redact_url(url)}",
                          hint="nothing was served; run it again when the server is ready")
    echo("avatarkit run: stopped")


async def _serve(server: AgentServer, *, mode: Mode, room: str | None,
                 echo: Callable[[str], Any], url: str) -> bool:
    """Run ``server`` until a signal; ``True`` if it registered (or joined ``room``)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    registered = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            echo("avatarkit run: second signal: exiting now")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    @server.on("worker_registered")
    def _registered(worker_id: str, *_: Any) -> None:
        registered.set()
        name = server._agent_name  # noqa: SLF001 - for the one line that says who we are
        echo(f"avatarkit run: worker {worker_id} registered with {url}"
             + (f" as agent '{name}'" if name else "") + "; waiting for jobs (Ctrl-C to stop)")

    started = asyncio.Event()
    server.once("worker_started", lambda *_: started.set())
    run = asyncio.create_task(server.run(devmode=mode != "start",
                                         unregistered=mode == "connect"))
    stopped = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Task[Any]] = {run, stopped}
    if mode == "connect":
        waiting.add(asyncio.create_task(_join_room(server, room or "avatarkit", started)))
    try:
        while True:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if stopped in done:
                break
            if run in done:
                raise WorkerError(f"the LiveKit worker stopped: {describe(run.exception())}",
                                  hint=_CHECK) from None
            joined = done.pop()
            waiting.discard(joined)
            if joined.exception() is not None:
                raise WorkerError(f"could not join room {room!r} on {url}: "
                                  f"{describe(joined.exception())}", hint=_CHECK) from None
            registered.set()
            echo(f"avatarkit run: joined room {room!r} on {url} (Ctrl-C to stop)")
        if mode == "start" and registered.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await server.drain()
        return registered.is_set()
    finally:
        for task in waiting - {run}:
            task.cancel()
        await server.aclose()
        with contextlib.suppress(BaseException):
            await run


async def _join_room(server: AgentServer, room: str, started: asyncio.Event) -> None:
    """``--room``: once the worker runs, create the room if needed and run one job in it
    (like LiveKit's ``connect`` command)."""
    from livekit import api
    from livekit.agents.utils import shortuuid

    await started.wait()
    async with api.LiveKitAPI() as lk_api:
        found = await lk_api.room.list_rooms(api.ListRoomsRequest(names=[room]))
        info = found.rooms[0] if found.rooms else await lk_api.room.create_room(
            api.CreateRoomRequest(name=room))
    await server.simulate_job(room=room, fake_job=False, room_info=info,
                              agent_identity=shortuuid("agent-"))
