"""(brain, face chain, config) -> a running session, over any transport.

The composer validates every part before anything connects, builds the ``AgentSession``
from the brain, starts the face chain with a join timeout per face (closing a face that
fails and trying the next; audio-only ``none`` is always last), greets, waits for the
transport to finish, and closes every started face exactly once on every exit path.
The face chain itself (:mod:`avatarkit.face_chain`) is shared with :func:`avatarkit.attach`.
The agent is the user's own (``[agent] use``, :mod:`avatarkit.user_agent`) or a plain one
with the configured instructions; the face's emotion/background tools are added to it
(:mod:`avatarkit.face_tools`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .brain import Brain
from .config import AvatarkitConfig, FaceSettings
from .face import Face
from .face_chain import (
    FACE_WATCH_INTERVAL,
    FaceChain,
    FaceSpec,
    audio_tail,
    close_quietly,
    set_audio_tail,
)
from .gc_pauses import freeze_loaded
from .registry import Registry
from .report import SessionReport, TurnCollector

if TYPE_CHECKING:
    from .transports.base import Transport

__all__ = ["FACE_WATCH_INTERVAL", "Composer", "FaceSpec", "Plan", "audio_tail", "face_specs",
           "make_plan", "set_audio_tail"]
log = logging.getLogger("avatarkit.composer")


@dataclass(frozen=True)
class Plan:
    """Everything validated, nothing connected: what a session will run."""

    config: AvatarkitConfig
    brain_cls: type[Brain]
    brain_options: Any
    faces: tuple[FaceSpec, ...]


def make_plan(
    config: AvatarkitConfig,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    check_usable: bool = True,
) -> Plan:
    """Resolve and validate the brain and every face of the chain. No network calls.

    Raises :class:`~avatarkit.errors.UsageError` subclasses (unknown part with a
    suggestion, invalid options, unavailable part, missing credentials).
    ``check_usable=False`` stops after the options (``config show``: no credentials,
    packages or files needed).
    """
    registry = registry or Registry.load()
    registry.activate_speech()  # the pipeline brain resolves its STT/LLM/TTS among these
    environ = os.environ if environ is None else environ
    # Names first, then options, then credentials: the most basic mistake is reported first.
    brain_cls = registry.brain(config.brain.name)
    for name in config.face.chain():
        registry.face(name)
    brain_options = brain_cls.parse_options(config.brain.selected_options())
    faces = face_specs(config.face, registry, environ, check_usable=False)
    if check_usable:
        brain_cls.check_usable(brain_options, environ)
        for spec in faces:
            spec.cls.check_usable(spec.options, environ)
        if config.agent.use:  # the user's Agent: imports, is an agent, its tools' schemas
            from .user_agent import check_agent

            check_agent(config.agent.use)
    return Plan(config, brain_cls, brain_options, faces)


def face_specs(
    settings: FaceSettings,
    registry: Registry,
    environ: Mapping[str, str],
    *,
    check_usable: bool = True,
) -> tuple[FaceSpec, ...]:
    """Resolve and validate every face of ``settings``' chain (names, options, and with
    ``check_usable`` their credentials, packages and files). No network calls."""
    classes = [registry.face(name) for name in settings.chain()]
    options = [cls.parse_options(settings.options_for(cls.name)) for cls in classes]
    if check_usable:
        for cls, opts in zip(classes, options):
            cls.check_usable(opts, environ)
    return tuple(FaceSpec(cls, opts) for cls, opts in zip(classes, options))


class Composer:
    """Runs sessions for one :class:`Plan`; safe to share between concurrent sessions.

    ``brain`` is the process's instance (for ``prewarm``: models load once per process);
    each session gets its own brain instance, so closing one session's parts never touches
    another's.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.brain = plan.brain_cls(plan.brain_options)
        self._agent_factory: Callable[[], Any] | None = None

    @classmethod
    def from_config(cls, config: AvatarkitConfig, registry: Registry | None = None) -> Composer:
        return cls(make_plan(config, registry))

    def prewarm(self) -> None:
        """Load everything the first turn needs, once per process (blocking): the brain's
        models (and its LLM server, warmed with the agent's instructions when the brain can)
        and the first face's renderer; then exempts what was loaded from full garbage
        collections (:mod:`avatarkit.gc_pauses`). A thread may run it after
        :meth:`import_plugins`."""
        self.brain.prewarm()
        warm_prompt = getattr(self.brain, "warm_prompt", None)
        if callable(warm_prompt):
            warm_prompt(self.brain.instructions(self.plan.config.agent.instructions))
        if self.plan.faces:
            first = self.plan.faces[0]
            first.cls.prewarm(first.options)
        freeze_loaded()  # what was loaded stays for good: no full GC pass walks it again

    def import_plugins(self) -> None:
        """Import the LiveKit plugins the parts declare (``required_modules``). LiveKit
        registers plugins on the main thread only: call this there before a thread runs
        :meth:`prewarm`. A missing one is left to fail where it always did (a face that
        cannot start falls back; ``doctor`` names it)."""
        import contextlib
        import importlib

        parts = [(self.plan.brain_cls, self.plan.brain_options),
                 *((f.cls, f.options) for f in self.plan.faces)]
        for cls, options in parts:
            declared = getattr(cls, "required_modules", None)
            for module in declared(options) if callable(declared) else ():
                if module.startswith("livekit.plugins."):
                    with contextlib.suppress(ImportError):
                        importlib.import_module(module)

    async def run(
        self,
        transport: Transport,
        *,
        on_started: Callable[[Any, Face], Any] | None = None,
    ) -> SessionReport:
        """Run one conversation over ``transport`` until it is done.

        ``on_started(session, face)`` is called once the session runs (for control APIs,
        tests and transports that need the live face).
        """
        from livekit.agents import get_job_context
        from livekit.agents.utils import http_context

        if get_job_context(required=False) is not None:
            return await self._run(transport, on_started)
        # Off a worker job (file, playground, tests) plugins still need a shared HTTP session.
        async with http_context.open():
            return await self._run(transport, on_started)

    async def _run(
        self, transport: Transport, on_started: Callable[[Any, Face], Any] | None
    ) -> SessionReport:
        from livekit.agents import AgentSession

        config = self.plan.config
        brain = self.plan.brain_cls(self.plan.brain_options)
        report = SessionReport(brain=brain.name)
        parts = brain.build()
        session: AgentSession[Any] = AgentSession(**parts.session_kwargs())
        chain = FaceChain(self.plan.faces, join_timeout=config.face.join_timeout,
                          report=report)
        collector: TurnCollector | None = None
        try:
            audio_in = transport.audio_input()
            if audio_in is not None:
                session.input.audio = audio_in
            transport.attach(session)
            agent = self.new_agent(brain)  # before any (paid) face starts
            face = await chain.start(session, transport)
            collector = TurnCollector(report, face)
            collector.attach(session)
            if config.agent.face_tools:
                from .face_tools import add_face_tools

                await add_face_tools(agent, face, lambda: chain.current)
            await session.start(agent, **transport.start_kwargs(session))
            if on_started is not None:
                result = on_started(session, face)
                if asyncio.iscoroutine(result):
                    await result
            if config.agent.greeting:
                session.say(config.agent.greeting)
            watch = chain.watch(session, transport)
            try:
                await transport.wait_done(session)
            finally:
                watch.cancel()
        finally:
            await close_quietly("session", session.aclose())
            if collector is not None:
                collector.close()
            await chain.aclose()
            await close_quietly("brain", brain.aclose())
            await close_quietly("transport", transport.aclose())
            report.ended_at = time.time()
        return report

    def new_agent(self, brain: Brain) -> Any:
        """A fresh ``Agent`` for one session: the user's (``[agent] use``) or a plain one
        with the configured (or the brain's) instructions."""
        use = self.plan.config.agent.use
        if use:
            from .user_agent import agent_factory, build_agent

            if self._agent_factory is None:
                self._agent_factory = agent_factory(use)
            return build_agent(self._agent_factory, use)
        from livekit.agents import Agent

        return Agent(instructions=brain.instructions(self.plan.config.agent.instructions))
