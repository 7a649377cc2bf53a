"""Run a LiveKit ``AgentServer`` in this process until SIGINT/SIGTERM.

LiveKit Agents 1.8 deprecated its built-in Python CLI (``cli.run_app``). This runs the
server through its public API instead (``AgentServer.run``/``drain``/``aclose``,
``simulate_job`` for ``--room``), after checking the LiveKit settings against the server,
and turns failures into one-line :class:`~avatarkit.errors.AvatarkitError`\\ s.

The first signal stops taking jobs and lets running sessions finish (``start`` mode: up to
the drain timeout; ``dev`` mode: at once); a second signal exits immediately.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
from typing import TYPE_CHECKING, Any

from .errors import AvatarkitError
from .livekit_check import LiveKitSetupError, check_livekit

if TYPE_CHECKING:
    from livekit.agents import AgentServer

    from .config import AvatarkitConfig

log = logging.getLogger("avatarkit.worker")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class WorkerError(AvatarkitError):
    """The worker could not start or lost LiveKit for good (exit code 1)."""


def serve(server: AgentServer, config: AvatarkitConfig, *, devmode: bool = False,
          room: str | None = None) -> None:
    """Check the settings, run ``server`` until a signal (blocking), shut it down cleanly."""
    asyncio.run(_serve(server, config, devmode=devmode, room=room))


async def _serve(server: AgentServer, config: AvatarkitConfig, *, devmode: bool,
                 room: str | None) -> None:
    url = config.livekit.url
    await check_livekit(config.livekit)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", sig.name)
            os._exit(1)
        log.info("%s: stopping the worker (again to exit at once)", sig.name)
        stop.set()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    def on_registered(worker_id: str, _info: Any) -> None:
        name = config.worker.agent_name
        log.info("worker %s registered with LiveKit at %s%s; health on port %d",
                 worker_id, url, f" as agent '{name}'" if name else "",
                 server.worker_info.http_port)

    server.on("worker_registered", on_registered)
    joins: list[asyncio.Task[None]] = []
    if room is not None:
        server.once("worker_started", lambda: joins.append(
            asyncio.create_task(_join_room(server, config, room))))
    run = asyncio.create_task(server.run(devmode=devmode, unregistered=room is not None),
                              name="avatarkit-agent-server")
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            _raise_for(run, config)
        elif not devmode:
            try:
                await server.drain()
            except asyncio.TimeoutError:
                log.warning("sessions still running after the drain timeout; closing them")
    finally:
        for task in (stopped, *joins):
            task.cancel()
        await server.aclose()
        if not run.done():
            run.cancel()
        with contextlib.suppress(BaseException):
            await run
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)


async def _join_room(server: AgentServer, config: AvatarkitConfig, room: str) -> None:
    """``--room``: run one session in ``room`` now (creating it), no dispatch needed."""
    from livekit import api
    from livekit.agents.utils import shortuuid

    lk = config.livekit
    assert lk.url and lk.api_key and lk.api_secret
    async with api.LiveKitAPI(lk.url, lk.api_key.get_secret_value(),
                              lk.api_secret.get_secret_value()) as lkapi:
        rooms = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
        info = rooms.rooms[0] if rooms.rooms else await lkapi.room.create_room(
            api.CreateRoomRequest(name=room))
    await server.simulate_job(room=room, room_info=info, agent_identity=shortuuid("agent-"))
    log.info("joined room %s", room)


def _raise_for(run: asyncio.Task[Any], config: AvatarkitConfig) -> None:
    """``server.run`` ended by itself: say why in one line."""
    exc = run.exception()
    if exc is None:
        raise WorkerError("the LiveKit worker stopped unexpectedly",
                          hint="rerun with --debug to see LiveKit's logs")
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        raise WorkerError(
            f"the worker's health port {config.worker.port} is in use (another worker on "
            "this host?)",
            hint="set AVATARKIT_WORKER_PORT=0 (any free port) or [worker] port") from exc
    if isinstance(exc, RuntimeError) and "failed to connect to livekit" in str(exc):
        raise LiveKitSetupError(
            f"lost the connection to LiveKit at {config.livekit.url} (LIVEKIT_URL) and "
            "could not get it back", hint="check that the server is running and reachable"
        ) from exc
    raise WorkerError(f"the LiveKit worker failed: {type(exc).__name__}: {exc}",
                      hint="rerun with --debug for the traceback") from exc


__all__ = ["WorkerError", "serve"]
