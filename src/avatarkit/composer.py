"""(brain, face chain, config) -> a running session, over any transport.

The composer validates every part before anything connects, builds the ``AgentSession``
from the brain, starts the face chain with a join timeout per face (closing a face that
fails and trying the next; audio-only ``none`` is always last), greets, waits for the
transport to finish, and closes every started face exactly once on every exit path.
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
from .config import AvatarkitConfig
from .errors import FaceStartError, describe
from .face import Face
from .registry import Registry
from .report import FaceAttempt, SessionReport, TurnCollector

if TYPE_CHECKING:
    from .transports.base import Transport

log = logging.getLogger("avatarkit.composer")
FACE_WATCH_INTERVAL = 0.25  # seconds between checks that the running face still works


@dataclass(frozen=True)
class FaceSpec:
    """A validated face of the chain: its class and parsed options."""

    cls: type[Face]
    options: Any

    def create(self) -> Face:
        return self.cls(self.options)


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
    face_classes = [registry.face(name) for name in config.face.chain()]
    brain_options = brain_cls.parse_options(config.brain.selected_options())
    face_options = [cls.parse_options(config.face.options_for(cls.name)) for cls in face_classes]
    if check_usable:
        brain_cls.check_usable(brain_options, environ)
        for cls, options in zip(face_classes, face_options):
            cls.check_usable(options, environ)
    faces = [FaceSpec(cls, options) for cls, options in zip(face_classes, face_options)]
    return Plan(config, brain_cls, brain_options, tuple(faces))


class Composer:
    """Runs sessions for one :class:`Plan`; safe to share between concurrent sessions.

    ``brain`` is the process's instance (for ``prewarm``: models load once per process);
    each session gets its own brain instance, so closing one session's parts never touches
    another's.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.brain = plan.brain_cls(plan.brain_options)

    @classmethod
    def from_config(cls, config: AvatarkitConfig, registry: Registry | None = None) -> Composer:
        return cls(make_plan(config, registry))

    def prewarm(self) -> None:
        """Load everything the first turn needs, once per process (blocking): the brain's
        models (and its LLM server, warmed with the agent's instructions when the brain can)
        and the first face's renderer. A thread may run it after :meth:`import_plugins`."""
        self.brain.prewarm()
        warm_prompt = getattr(self.brain, "warm_prompt", None)
        if callable(warm_prompt):
            warm_prompt(self.brain.instructions(self.plan.config.agent.instructions))
        if self.plan.faces:
            first = self.plan.faces[0]
            first.cls.prewarm(first.options)

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
        from livekit.agents import Agent, AgentSession

        config = self.plan.config
        brain = self.plan.brain_cls(self.plan.brain_options)
        report = SessionReport(brain=brain.name)
        parts = brain.build()
        session: AgentSession[Any] = AgentSession(**parts.session_kwargs())
        started: list[Face] = []
        collector: TurnCollector | None = None
        try:
            audio_in = transport.audio_input()
            if audio_in is not None:
                session.input.audio = audio_in
            transport.attach(session)
            face = await self._start_face_chain(session, transport, started, report)
            collector = TurnCollector(report, face)
            collector.attach(session)
            agent = Agent(instructions=brain.instructions(config.agent.instructions))
            await session.start(agent, **transport.start_kwargs(session))
            if on_started is not None:
                result = on_started(session, face)
                if asyncio.iscoroutine(result):
                    await result
            if config.agent.greeting:
                session.say(config.agent.greeting)
            watch = asyncio.create_task(self._watch_face(session, transport, started, report))
            try:
                await transport.wait_done(session)
            finally:
                watch.cancel()
        finally:
            await _close_quietly("session", session.aclose())
            if collector is not None:
                collector.close()
            for face in reversed(started):
                await _close_quietly(f"face '{face.name}'", face.aclose())
            await _close_quietly("brain", brain.aclose())
            await _close_quietly("transport", transport.aclose())
            report.ended_at = time.time()
        return report

    async def _watch_face(self, session: Any, transport: Transport, started: list[Face],
                          report: SessionReport) -> None:
        """Poll the running face; if it dies, close it and go on with audio only."""
        if not started:
            return
        face = started[-1]
        while (error := face.failure()) is None:
            await asyncio.sleep(FACE_WATCH_INTERVAL)
        log.warning("face '%s' died mid-session (%s); continuing with audio only",
                    face.name, describe(error))
        report.attempts.append(FaceAttempt(face.name, False, 0.0,
                                           f"died mid-session: {describe(error)}"))
        report.face = "none"
        started.remove(face)
        try:
            output = await transport.fallback_audio_output()
        except Exception:  # noqa: BLE001 - the conversation goes on even without audio
            log.warning("no audio-only fallback on the %s transport", transport.name,
                        exc_info=True)
            output = None
        set_audio_tail(session, output, face.name)
        await _close_quietly(f"face '{face.name}'", face.aclose())

    async def _start_face_chain(
        self, session: Any, transport: Transport, started: list[Face], report: SessionReport
    ) -> Face:
        timeout = self.plan.config.face.join_timeout
        loop = asyncio.get_running_loop()
        for spec in self.plan.faces:
            face = spec.create()
            previous_output = audio_tail(session)
            t0 = time.perf_counter()
            face.join_deadline = loop.time() + timeout
            started.append(face)
            try:
                await asyncio.wait_for(face.start(session, transport), timeout)
            except Exception as exc:  # noqa: BLE001 - any face failure falls through
                error = (f"did not attach within {timeout:g} s"
                         if isinstance(exc, asyncio.TimeoutError) else describe(exc))
                report.attempts.append(FaceAttempt(face.name, False,
                                                   time.perf_counter() - t0, error))
                log.warning("face '%s' failed (%s); trying the next face", face.name, error)
                started.remove(face)
                await _close_quietly(f"face '{face.name}'", face.aclose())
                set_audio_tail(session, previous_output, face.name)
                continue
            report.attempts.append(FaceAttempt(face.name, True, time.perf_counter() - t0))
            report.face = face.name
            return face
        raise FaceStartError(
            "no face of the chain could start, not even audio-only",
            hint="check the warnings above; `avatarkit doctor` checks each part",
        )


def audio_tail(session: Any) -> Any:
    """The sink at the bottom of ``session``'s audio chain (below transcript sync etc.)."""
    sink = session.output.audio
    while sink is not None and getattr(sink, "next_in_chain", None) is not None:
        sink = sink.next_in_chain
    return sink


def set_audio_tail(session: Any, sink: Any, face_name: str = "") -> None:
    """Route agent audio to ``sink``, keeping the chain's wrappers (transcript sync, recorder).

    ``None`` (no sink: before the session started, or no fallback) only detaches a bare
    sink; a chain with wrappers is left alone rather than dropping them. Whatever a failed
    face ``face_name`` left as the output (a half-built sink, an object that is not a sink at
    all), the chain goes on: an output that cannot be detached is dropped.
    """
    output = session.output
    try:
        if sink is not None:
            output.replace_audio_tail(sink)
        elif output.audio is not None and getattr(output.audio, "next_in_chain", None) is None:
            output.audio = None
        elif output.audio is not None:
            log.warning("no audio sink to route the agent's voice to; keeping the current one")
    except Exception as exc:  # noqa: BLE001 - whatever the face left, the chain goes on
        from .lk_private import forget_audio_output

        log.warning("face '%s' left an audio output that could not be detached (%s); "
                    "dropping it", face_name, describe(exc))
        forget_audio_output(output)
        output.audio = sink


async def _close_quietly(what: str, awaitable: Any) -> None:
    """Await a close; log (never raise) its failure, so every other close still runs."""
    try:
        await awaitable
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001
        log.warning("closing %s failed", what, exc_info=True)

