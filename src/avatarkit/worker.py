"""LiveKit worker wiring: ``AgentServer``, per-process prewarm, a load function.

Job processes are separate interpreters, so everything they run is a module-level function
and the validated configuration travels in the ``AVATARKIT_RUN_CONFIG`` environment variable
(LiveKit credentials travel in the standard ``LIVEKIT_*`` variables, never in that JSON).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Literal

from .config import AvatarkitConfig
from .errors import MissingCredentialsError
from .worker_load import CpuLoad, SessionGate, session_load

if TYPE_CHECKING:
    from livekit.agents import AgentServer, JobContext, JobProcess

    from .composer import Composer

CONFIG_ENV = "AVATARKIT_RUN_CONFIG"
log = logging.getLogger("avatarkit.worker")
_composer: Composer | None = None


def export_config(config: AvatarkitConfig) -> None:
    """Put ``config`` where job processes find it (environment, inherited by children)."""
    data = json.loads(config.model_dump_json(exclude={"livekit"}))
    os.environ[CONFIG_ENV] = json.dumps(data)
    lk = config.livekit
    for var, value in (("LIVEKIT_URL", lk.url), ("LIVEKIT_API_KEY", lk.api_key),
                       ("LIVEKIT_API_SECRET", lk.api_secret)):
        if value is not None:
            os.environ[var] = value if isinstance(value, str) else value.get_secret_value()


def composer() -> Composer:
    """The process's composer, built once from ``AVATARKIT_RUN_CONFIG``."""
    global _composer
    if _composer is None:
        from .composer import Composer, make_plan

        config = AvatarkitConfig.model_validate_json(os.environ.get(CONFIG_ENV, "{}"))
        _composer = Composer(make_plan(config))
    return _composer


def prewarm(proc: JobProcess) -> None:
    """Per-process setup: load the brain's models before the first job arrives."""
    composer().prewarm()


async def entrypoint(ctx: JobContext) -> None:
    """One LiveKit job: connect, then run the composer over the room."""
    from .transports.room import RoomTransport

    await ctx.connect()
    log.info("session started in room %s", ctx.room.name)
    report = await composer().run(RoomTransport(ctx))
    log.info("session ended in room %s: face=%s fallbacks=%s turns=%d", ctx.room.name,
             report.face, report.fallbacks_used, len(report.turns))
    # The conversation is over: free this worker's slot now rather than when the room closes.
    ctx.shutdown(reason="session ended")


def build_server(config: AvatarkitConfig) -> AgentServer:
    """An ``AgentServer`` for ``config`` whose load reflects face rendering cost.

    The load is LiveKit's public CPU monitor (unless ``worker.measure_cpu`` is off) against
    the declared cost of the sessions held; a :class:`~avatarkit.worker_load.SessionGate`
    answers job requests so ``worker.max_sessions`` holds under concurrent dispatch.
    """
    from livekit.agents import AgentServer

    from .composer import make_plan

    plan = make_plan(config)
    per_session = plan.brain_cls.load_cost + plan.faces[0].cls.load_cost
    worker = config.worker
    cpu = CpuLoad() if worker.measure_cpu else None
    server: AgentServer | None = None

    def active_ids() -> list[str]:
        return [job.job.id for job in server.active_jobs] if server is not None else []

    gate = SessionGate(worker.max_sessions, active_ids)

    def load() -> float:
        return session_load(
            active_sessions=gate.count(), per_session_cost=per_session,
            cpu_load=cpu.value() if cpu is not None else 0.0, max_sessions=worker.max_sessions,
        )

    server = AgentServer(
        load_threshold=worker.load_threshold,
        port=worker.port,
        setup_fnc=prewarm,
        load_fnc=load,
        # LiveKit's 10 s default is too short for the local brain's models on 2 busy cores
        # (the same value as issue 7's fix; keep one when merging).
        initialize_process_timeout=60.0,
    )
    server.rtc_session(entrypoint, agent_name=worker.agent_name, on_request=gate.on_request)
    return server


def run_worker(
    config: AvatarkitConfig, *, mode: Literal["start", "dev", "connect"] = "start",
    room: str | None = None, log_level: str | None = None,
) -> None:
    """Run a LiveKit worker until interrupted (blocking). Needs LiveKit settings.

    ``start``: production (idle processes prewarmed, sessions drained on stop); ``dev``:
    no idle processes, stops at once; ``connect``: one session in ``room``, no dispatch.
    """
    missing = config.livekit.missing()
    if missing:
        raise MissingCredentialsError(
            f"`avatarkit run` needs a LiveKit server: {', '.join(missing)} not set",
            hint="export LIVEKIT_URL=wss://<project>.livekit.cloud LIVEKIT_API_KEY=... "
            "LIVEKIT_API_SECRET=... (or set [livekit] in avatarkit.toml); "
            "with no server, try `avatarkit demo` or `avatarkit playground`",
        )
    export_config(config)
    if log_level:
        logging.getLogger("livekit.agents").setLevel(log_level.upper())
    from .worker_run import serve

    server = build_server(config)
    serve(server, config, devmode=mode != "start",
          room=(room or "avatarkit") if mode == "connect" else None)


__all__ = ["build_server", "run_worker", "session_load", "export_config"]
