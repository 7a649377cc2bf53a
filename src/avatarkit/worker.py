"""LiveKit worker wiring: ``AgentServer``, per-process prewarm, a load function.

Job processes are separate interpreters started by LiveKit (a forkserver on Linux). The
validated :class:`~avatarkit.composer.Plan` reaches them inside :class:`JobSetup`, the
``setup_fnc`` LiveKit pickles over its process-start pipe: never through the environment,
so no credential of the configuration lands in a variable that every child (llama-server,
espeak-ng) inherits. LiveKit's own settings travel as the standard ``LIVEKIT_*`` variables,
which LiveKit sets itself. :mod:`avatarkit.worker_runner` runs the server for the CLI.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livekit.agents import AgentServer, JobContext, JobProcess

    from .composer import Composer, Plan

log = logging.getLogger("avatarkit.worker")
#: Seconds a job process may take to prewarm. LiveKit's default (10 s) is too short for the
#: ``local`` brain's models when two job processes load them at once on a 2-core machine.
INITIALIZE_TIMEOUT = 60.0
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


class JobSetup:
    """LiveKit's ``setup_fnc``: builds the job process's composer from the pickled plan
    and loads the brain's models (once per process, before its first job)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def __call__(self, proc: JobProcess | None = None) -> None:
        global _composer
        from .composer import Composer
        from .local.progress import set_quiet

        set_quiet(True)  # several processes load at once: their notes would interleave
        began = time.perf_counter()
        _composer = Composer(self.plan)
        _composer.prewarm()
        log.debug("job process %d ready in %.1f s", os.getpid(), time.perf_counter() - began)


def composer() -> Composer:
    """The job process's composer (built by :class:`JobSetup`)."""
    if _composer is None:
        raise RuntimeError("this job process was not set up by avatarkit.worker.JobSetup")
    return _composer


async def entrypoint(ctx: JobContext) -> None:
    """One LiveKit job: connect, then run the composer over the room."""
    from .transports.room import RoomTransport

    await ctx.connect()
    report = await composer().run(RoomTransport(ctx))
    log.info("session ended: face=%s fallbacks=%s turns=%d", report.face,
             report.fallbacks_used, len(report.turns))


def worker_plan(plan: Plan) -> Plan:
    """``plan`` for the job processes, after the brain started what they share
    (:meth:`~avatarkit.brain.Brain.prepare_worker`; e.g. the ``local`` brain's LLM server)."""
    from dataclasses import replace

    options = plan.brain_cls(plan.brain_options).prepare_worker()
    return plan if options is None else replace(plan, brain_options=options)


def build_server(plan: Plan) -> AgentServer:
    """An ``AgentServer`` for ``plan`` whose load reflects face rendering cost."""
    from livekit.agents import AgentServer
    from livekit.agents.worker import ServerEnvOption

    config = plan.config
    per_session = plan.brain_cls.load_cost + plan.faces[0].cls.load_cost
    max_sessions = config.worker.max_sessions
    lk = config.livekit

    def load(server: AgentServer) -> float:
        from livekit.agents.worker import _DefaultLoadCalc

        return session_load(
            active_sessions=len(server.active_jobs), per_session_cost=per_session,
            cpu_load=_DefaultLoadCalc.get_load(server), max_sessions=max_sessions,
        )

    server = AgentServer(
        # `--dev`: no load limit, as in LiveKit's own dev mode (a busy laptop still gets jobs)
        load_threshold=ServerEnvOption(dev_default=math.inf,
                                       prod_default=config.worker.load_threshold),
        port=config.worker.port,
        setup_fnc=JobSetup(plan),
        load_fnc=load,
        initialize_process_timeout=INITIALIZE_TIMEOUT,
        ws_url=lk.url,
        api_key=lk.api_key.get_secret_value() if lk.api_key else None,
        api_secret=lk.api_secret.get_secret_value() if lk.api_secret else None,
    )
    server.rtc_session(entrypoint, agent_name=config.worker.agent_name)
    return server


__all__ = ["INITIALIZE_TIMEOUT", "JobSetup", "build_server", "entrypoint", "session_load",
           "worker_plan"]
