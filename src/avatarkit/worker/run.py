"""``avatarkit run``: check the LiveKit server, start what job processes share, serve.

LiveKit Agents 1.8 deprecated its built-in Python CLI (``cli.run_app``); this runs the
``AgentServer`` through its public API (``run``/``aclose``, ``simulate_job`` for ``--room``;
the drain is ``lk_private.drain_server``, as ``drain()`` can spin in 1.8.9):

1. :func:`~avatarkit.worker.livekit_check.check_livekit` asks the server once, with the worker's
   key and secret, before any model loads: each mistake (nothing listening, TLS mismatch,
   unknown key, wrong secret, not a LiveKit server) is one plain line naming the setting,
   exit code 1, within seconds.
2. The brain prepares what every job process shares (the ``local`` brain's llama.cpp server:
   one per worker, whatever the number of job processes or their restarts).
3. The server runs until SIGINT/SIGTERM (drained in production mode; a second signal exits at
   once). Exit 0 after a worker that registered is stopped; exit 1 when it never registered
   (interrupted or failed before) or lost LiveKit for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ..errors import AvatarkitError, MissingCredentialsError, describe
from ..interruptible import run_interruptible
from ..lk_private import drain_server
from ..redact import redact_url
from .livekit_check import LiveKitSetupError, check_livekit

if TYPE_CHECKING:
    from livekit.agents import AgentServer

    from ..composer import Plan
    from ..config import AvatarkitConfig
    from ..web.sessions_api import SessionsControlServer

Mode = Literal["start", "dev", "connect"]
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class WorkerError(AvatarkitError):
    """The worker could not start or lost LiveKit for good (exit code 1)."""


def run_worker(plan: Plan, *, mode: Mode = "start", room: str | None = None,
               echo: Callable[[str], Any] = print) -> None:
    """Run a LiveKit worker for ``plan`` until stopped (blocking); see the module doc."""
    from .server import build_server, worker_plan

    lk = plan.config.livekit
    missing = lk.missing()
    if missing:
        raise MissingCredentialsError(
            f"`avatarkit run` needs a LiveKit server: {', '.join(missing)} not set",
            hint="export LIVEKIT_URL=wss://<project>.livekit.cloud LIVEKIT_API_KEY=... "
            "LIVEKIT_API_SECRET=... (or set [livekit] in avatarkit.toml); "
            "with no server, try `avatarkit demo` or `avatarkit playground`",
        )
    assert lk.url is not None
    url = redact_url(lk.url)
    try:
        run_interruptible(check_livekit(lk))
        control = control_server(plan.config)
        server = build_server(worker_plan(plan), control.link if control else None,
                              dev=mode != "start")
        registered = run_interruptible(_serve(server, plan.config, mode=mode, room=room,
                                              echo=echo, url=url, control=control))
    except KeyboardInterrupt:
        registered = False
    if not registered:
        raise WorkerError(f"interrupted before the worker registered with {url}",
                          hint="nothing was served; run it again when the server is ready")
    echo("avatarkit run: stopped")


def control_server(config: AvatarkitConfig) -> SessionsControlServer | None:
    """The per-session control API ``[worker] control_port`` asks for (not started)."""
    worker = config.worker
    if worker.control_port is None:
        return None
    from ..web.sessions_api import SessionsControlServer

    token = worker.control_token.get_secret_value() if worker.control_token else None
    return SessionsControlServer(host=worker.control_host, port=worker.control_port,
                                 token=token)


async def _serve(server: AgentServer, config: AvatarkitConfig, *, mode: Mode,
                 room: str | None, echo: Callable[[str], Any], url: str,
                 control: SessionsControlServer | None = None) -> bool:
    """Run ``server`` until a signal; ``True`` if it registered (or joined ``room``)."""
    if control is not None:  # before the job processes start: they get its address
        await control.start()
        echo(f"avatarkit run: session control API on {control.url}/avatars")
    try:
        return await _serve_agents(server, config, mode=mode, room=room, echo=echo, url=url)
    finally:
        if control is not None:
            await control.aclose()


async def _serve_agents(server: AgentServer, config: AvatarkitConfig, *, mode: Mode,
                        room: str | None, echo: Callable[[str], Any], url: str) -> bool:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    registered = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            echo("avatarkit run: second signal: exiting now")
            os._exit(1)
        stop.set()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal)

    @server.on("worker_registered")
    def _registered(worker_id: str, *_: Any) -> None:
        registered.set()
        name = config.worker.agent_name
        echo(f"avatarkit run: worker {worker_id} registered with {url}"
             + (f" as agent '{name}'" if name else "")
             + f"; health on port {server.worker_info.http_port}; waiting for jobs "
             "(Ctrl-C to stop)")

    started = asyncio.Event()
    server.once("worker_started", lambda *_: started.set())
    run = asyncio.create_task(server.run(devmode=mode != "start",
                                         unregistered=mode == "connect"),
                              name="avatarkit-agent-server")
    stopped = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Task[Any]] = {run, stopped}
    if mode == "connect":
        waiting.add(asyncio.create_task(_join_room(server, config, room or "avatarkit",
                                                   started)))
    try:
        while True:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if stopped in done:
                break
            if run in done:
                _raise_for(run, config, url)
            joined = done.pop()
            waiting.discard(joined)
            if joined.exception() is not None:
                raise WorkerError(f"could not join room {room!r} on {url}: "
                                  f"{describe(joined.exception())}") from None
            registered.set()
            echo(f"avatarkit run: joined room {room!r} on {url} (Ctrl-C to stop)")
        if mode == "start" and registered.is_set():
            if running := len(server.active_jobs):
                echo(f"avatarkit run: draining: no new sessions; waiting for {running} running "
                     "session(s) to end (a second Ctrl-C exits now)")
            with contextlib.suppress(asyncio.TimeoutError):
                await drain_server(server)  # server.drain() can spin: see lk_private
        return registered.is_set()
    finally:
        for task in waiting - {run}:
            task.cancel()
        await server.aclose()
        if not run.done():
            run.cancel()
        with contextlib.suppress(BaseException):
            await run
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)


async def _join_room(server: AgentServer, config: AvatarkitConfig, room: str,
                     started: asyncio.Event) -> None:
    """``--room``: once the worker runs, create the room if needed and run one session in it
    (like LiveKit's ``connect`` command), no dispatch needed."""
    from livekit import api
    from livekit.agents.utils import shortuuid

    lk = config.livekit
    assert lk.url and lk.api_key and lk.api_secret
    await started.wait()
    async with api.LiveKitAPI(lk.url, lk.api_key.get_secret_value(),
                              lk.api_secret.get_secret_value()) as lkapi:
        found = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
        info = found.rooms[0] if found.rooms else await lkapi.room.create_room(
            api.CreateRoomRequest(name=room))
    await server.simulate_job(room=room, fake_job=False, room_info=info,
                              agent_identity=shortuuid("agent-"))


def _raise_for(run: asyncio.Task[Any], config: AvatarkitConfig, url: str) -> None:
    """``server.run`` ended by itself: say why in one line."""
    exc = run.exception()
    if exc is None:
        raise WorkerError("the LiveKit worker stopped unexpectedly",
                          hint="rerun with --debug to see LiveKit's logs")
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        raise WorkerError(
            f"the worker's health port {config.worker.port} is in use (another worker on "
            "this host?)",
            hint="set AVATARKIT_WORKER_PORT=0 (any free port) or [worker] port") from None
    if isinstance(exc, RuntimeError) and "failed to connect to livekit" in str(exc):
        raise LiveKitSetupError(
            f"lost the connection to LiveKit at {url} (LIVEKIT_URL) and could not get it "
            "back", hint="check that the server is running and reachable") from None
    raise WorkerError(f"the LiveKit worker failed: {describe(exc)}",
                      hint="rerun with --debug for the traceback") from None


__all__ = ["WorkerError", "run_worker"]
