"""LiveKit worker wiring: ``AgentServer``, per-process prewarm, a load function.

Job processes are separate interpreters started by LiveKit (a forkserver on Linux). The
validated :class:`~avatarkit.composer.Plan` reaches them inside :class:`JobSetup`, the
``setup_fnc`` LiveKit pickles over its process-start pipe: never through the environment,
so no credential of the configuration lands in a variable that every child (llama-server,
espeak-ng) inherits. :mod:`avatarkit.worker.run` runs the server for the CLI; the load it
reports comes from :mod:`avatarkit.worker.load`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import TYPE_CHECKING, Any

from .load import CpuLoad, SessionGate, session_load

if TYPE_CHECKING:
    from livekit.agents import AgentServer, JobContext, JobProcess

    from ..composer import Composer, Plan
    from ..web.sessions_api import LinkAddress

log = logging.getLogger("avatarkit.worker")
#: Seconds a job process may take to prewarm. LiveKit's default (10 s) is too short for the
#: ``local`` brain's models when two job processes load them at once on a 2-core machine.
INITIALIZE_TIMEOUT = 60.0
_composer: Composer | None = None
_link: LinkAddress | None = None


class JobSetup:
    """LiveKit's ``setup_fnc``: builds the job process's composer from the pickled plan
    and loads the brain's models (once per process, before its first job). ``link`` is
    where its sessions register with the worker's control API (none: no API)."""

    def __init__(self, plan: Plan, link: LinkAddress | None = None) -> None:
        self.plan = plan
        self.link = link

    def __call__(self, proc: JobProcess | None = None) -> None:
        global _composer, _link
        _link = self.link
        from ..composer import Composer
        from ..progress import set_quiet

        set_quiet(True)  # several processes load at once: their notes would interleave
        began = time.perf_counter()
        _composer = Composer(self.plan)
        _composer.prewarm()
        log.debug("job process %d ready in %.1f s", os.getpid(), time.perf_counter() - began)


def composer() -> Composer:
    """The job process's composer (built by :class:`JobSetup`)."""
    if _composer is None:
        raise RuntimeError("this job process was not set up by avatarkit.worker.server.JobSetup")
    return _composer


async def entrypoint(ctx: JobContext) -> None:
    """One LiveKit job: connect, run the composer over the room, then free the slot."""
    from ..transports.room import RoomTransport

    await ctx.connect()
    log.info("session started in room %s", ctx.room.name)
    links: list[Any] = []

    async def register(session: Any, face: Any) -> None:
        if _link is not None:
            from .session_link import open_link

            link = await open_link(_link, session_id=ctx.job.id, room=ctx.room.name, face=face)
            links.extend([link] if link is not None else [])

    try:
        report = await composer().run(RoomTransport(ctx), on_started=register)
    finally:
        for link in links:
            await link.aclose()
    log.info("session ended in room %s: %s", ctx.room.name, report.summary())
    # The conversation is over: free this worker's slot now rather than when the room closes.
    ctx.shutdown(reason="session ended")


def worker_plan(plan: Plan) -> Plan:
    """``plan`` for the job processes, after the brain started what they share
    (:meth:`~avatarkit.brain.Brain.prepare_worker`; e.g. the ``local`` brain's LLM server)."""
    from dataclasses import replace

    options = plan.brain_cls(plan.brain_options).prepare_worker()
    return plan if options is None else replace(plan, brain_options=options)


def build_server(plan: Plan, link: LinkAddress | None = None, *, dev: bool = False
                 ) -> AgentServer:
    """An ``AgentServer`` for ``plan`` whose load reflects face rendering cost.

    The load is LiveKit's public CPU monitor (unless ``worker.measure_cpu`` is off; unset, it
    is off in ``dev`` mode: livekit-server stops dispatching to a worker whose reported load
    is above its ``agents.target_load``, 0.7, whatever the worker's own threshold) against
    the declared cost of the sessions held; a :class:`~avatarkit.worker.load.SessionGate`
    answers job requests so ``worker.max_sessions`` holds under concurrent dispatch.
    """
    from livekit.agents import AgentServer
    from livekit.agents.worker import ServerEnvOption

    config = plan.config
    worker = config.worker
    per_session = plan.brain_cls.load_cost + plan.faces[0].cls.load_cost
    measure = worker.measure_cpu if worker.measure_cpu is not None else not dev
    cpu = CpuLoad() if measure else None
    lk = config.livekit
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
        # `--dev`: no load limit, as in LiveKit's own dev mode (a busy laptop still gets jobs)
        load_threshold=ServerEnvOption(dev_default=math.inf,
                                       prod_default=worker.load_threshold),
        port=worker.port,
        # Port 0 on all interfaces binds IPv4 and IPv6 to two different free ports, and LiveKit
        # announces the first (often the IPv6 one): bind IPv4 only then, so the health port
        # `avatarkit run` prints is the one that answers on 127.0.0.1.
        host="0.0.0.0" if worker.port == 0 else "",
        setup_fnc=JobSetup(plan, link),
        load_fnc=load,
        initialize_process_timeout=INITIALIZE_TIMEOUT,
        ws_url=lk.url,
        api_key=lk.api_key.get_secret_value() if lk.api_key else None,
        api_secret=lk.api_secret.get_secret_value() if lk.api_secret else None,
    )
    server.rtc_session(entrypoint, agent_name=worker.agent_name, on_request=gate.on_request)
    return server


__all__ = ["INITIALIZE_TIMEOUT", "JobSetup", "build_server", "entrypoint", "session_load",
           "worker_plan"]
