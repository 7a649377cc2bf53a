"""LiveKit worker wiring: ``AgentServer``, per-process prewarm, a load function.

Job processes are separate interpreters, so everything they run is a module-level function
and the validated configuration travels in the ``AVATARKIT_RUN_CONFIG`` environment variable
(LiveKit credentials travel in the standard ``LIVEKIT_*`` variables, never in that JSON).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import warnings
from typing import TYPE_CHECKING, Literal

from .config import AvatarkitConfig
from .errors import MissingCredentialsError

if TYPE_CHECKING:
    from livekit.agents import AgentServer, JobContext, JobProcess

    from .composer import Composer

CONFIG_ENV = "AVATARKIT_RUN_CONFIG"
PREWARM_TIMEOUT = 60.0  # seconds a job process may take to prewarm
log = logging.getLogger("avatarkit.worker")
_composer: Composer | None = None


def session_load(
    *, active_sessions: int, per_session_cost: float, cpu_load: float,
    max_sessions: int | None = None,
) -> float:
    """The worker load LiveKit's dispatcher sees (0-1).

    The larger of measured CPU and the declared cost of the sessions already running (face
    rendering plus on-worker models), so a worker that renders faces stops taking jobs
    before its CPU graph catches up; ``max_sessions`` is a hard cap.
    """
    if max_sessions is not None and active_sessions >= max_sessions:
        return 1.0
    return min(1.0, max(cpu_load, active_sessions * per_session_cost))


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
    report = await composer().run(RoomTransport(ctx))
    log.info("session ended: %s", report.summary())


def build_server(config: AvatarkitConfig) -> AgentServer:
    """An ``AgentServer`` for ``config`` whose load reflects face rendering cost."""
    from livekit.agents import AgentServer
    from livekit.agents.worker import ServerEnvOption

    from .composer import make_plan

    plan = make_plan(config)
    per_session = plan.brain_cls.load_cost + plan.faces[0].cls.load_cost
    max_sessions = config.worker.max_sessions

    def load(server: AgentServer) -> float:
        from livekit.agents.worker import _DefaultLoadCalc

        return session_load(
            active_sessions=len(server.active_jobs), per_session_cost=per_session,
            cpu_load=_DefaultLoadCalc.get_load(server), max_sessions=max_sessions,
        )

    server = AgentServer(
        # dev mode never reports "full" (LiveKit's own dev default): a busy laptop still
        # gets its test rooms; production uses the configured threshold
        load_threshold=ServerEnvOption(dev_default=math.inf,
                                       prod_default=config.worker.load_threshold),
        port=config.worker.port,
        setup_fnc=prewarm,
        # prewarm loads the brain's models (local: VAD, whisper, Piper: 5-7 s on a busy 2-core
        # machine, measured); LiveKit's 10 s default killed job processes mid-load
        initialize_process_timeout=PREWARM_TIMEOUT,
        load_fnc=load,
    )
    server.rtc_session(entrypoint, agent_name=config.worker.agent_name)
    server.on("worker_registered", lambda worker_id, _info: log.info(
        "worker %s registered (agent_name=%r)", worker_id, config.worker.agent_name))
    return server


def run_worker(
    config: AvatarkitConfig, *, mode: Literal["start", "dev", "connect"] = "start",
    room: str | None = None, log_level: str | None = None,
) -> None:
    """Run a LiveKit worker until interrupted (blocking). Needs LiveKit settings."""
    missing = config.livekit.missing()
    if missing:
        raise MissingCredentialsError(
            f"`avatarkit run` needs a LiveKit server: {', '.join(missing)} not set",
            hint="export LIVEKIT_URL=wss://<project>.livekit.cloud LIVEKIT_API_KEY=... "
            "LIVEKIT_API_SECRET=... (or set [livekit] in avatarkit.toml); "
            "with no server, try `avatarkit demo` or `avatarkit playground`",
        )
    export_config(config)
    server = build_server(config)
    from livekit.agents import cli

    argv = ["avatarkit run", mode]
    if mode == "connect":
        argv += ["--room", room or "avatarkit"]
    if log_level:
        argv += ["--log-level", log_level]
    saved, sys.argv = sys.argv, argv
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cli.run_app(server)
    finally:
        sys.argv = saved


__all__ = ["build_server", "run_worker", "session_load", "export_config"]
