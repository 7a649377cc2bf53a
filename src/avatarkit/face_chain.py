"""The face chain of one session: start faces in order, watch the running one, close them all.

One code path for every way avatarkit runs a session: :class:`~avatarkit.composer.Composer`
(``avatarkit run``/``demo``/``playground``) and :func:`avatarkit.attach` (the user's own
``AgentSession``) both drive a :class:`FaceChain`.

- Faces start in order, each under ``join_timeout``. A face that raises or times out is
  closed at once, any audio output it installed is undone, and the next face is tried.
- :meth:`FaceChain.watch` polls the running face; one that dies mid-session is closed and
  the agent's audio goes on through ``transport.fallback_audio_output()``.
- Every face whose ``start`` was called is closed exactly once (:meth:`FaceChain.aclose`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import FaceStartError, describe
from .face import Face, audio_tail
from .report import FaceAttempt, SessionReport

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


class FaceChain:
    """The faces of one session, tried in order; safe to close on any exit path.

    ``current`` is the face showing the agent now: the one that started, or ``None``
    once it died mid-session (audio only from then on).
    """

    def __init__(self, specs: Sequence[FaceSpec], *, join_timeout: float,
                 report: SessionReport | None = None) -> None:
        self.specs = tuple(specs)
        self.join_timeout = join_timeout
        self.report = report or SessionReport(brain="")
        self.current: Face | None = None
        self._started: list[Face] = []
        self._watch: asyncio.Task[None] | None = None

    async def start(self, session: Any, transport: Transport) -> Face:
        """Start the first face that attaches within the timeout; raise if none does."""
        timeout = self.join_timeout
        loop = asyncio.get_running_loop()
        report = self.report
        for spec in self.specs:
            face = spec.create()
            previous_output = audio_tail(session)
            t0 = time.perf_counter()
            face.join_deadline = loop.time() + timeout
            self._started.append(face)
            try:
                await asyncio.wait_for(face.start(session, transport), timeout)
            except Exception as exc:  # noqa: BLE001 - any face failure falls through
                error = (f"did not attach within {timeout:g} s"
                         if isinstance(exc, asyncio.TimeoutError) else describe(exc))
                report.attempts.append(FaceAttempt(face.name, False,
                                                   time.perf_counter() - t0, error))
                log.warning("face '%s' failed (%s); trying the next face", face.name, error)
                self._started.remove(face)
                await close_quietly(f"face '{face.name}'", face.aclose())
                set_audio_tail(session, previous_output, face.name)
                continue
            report.attempts.append(FaceAttempt(face.name, True, time.perf_counter() - t0))
            report.face = face.name
            self.current = face
            return face
        raise FaceStartError(
            "no face of the chain could start, not even audio-only",
            hint="check the warnings above; `avatarkit doctor` checks each part",
        )

    def watch(self, session: Any, transport: Transport) -> asyncio.Task[None]:
        """Start polling the running face (stopped by :meth:`aclose`)."""
        if self._watch is None:
            self._watch = asyncio.create_task(self._watch_face(session, transport),
                                              name="avatarkit-face-watch")
        return self._watch

    async def _watch_face(self, session: Any, transport: Transport) -> None:
        """Poll the running face; if it dies, close it and go on with audio only."""
        face = self.current
        if face is None:
            return
        while (error := face.failure()) is None:
            await asyncio.sleep(FACE_WATCH_INTERVAL)
        log.warning("face '%s' died mid-session (%s); continuing with audio only",
                    face.name, describe(error))
        self.report.attempts.append(FaceAttempt(face.name, False, 0.0,
                                                f"died mid-session: {describe(error)}"))
        self.report.face = "none"
        self.current = None
        try:
            output = await transport.fallback_audio_output()
        except Exception:  # noqa: BLE001 - the conversation goes on even without audio
            log.warning("no audio-only fallback on the %s transport", transport.name,
                        exc_info=True)
            output = None
        set_audio_tail(session, output, face.name)
        await close_quietly(f"face '{face.name}'", face.aclose())
        self._started.remove(face)  # kept until closed: a cancellation here still closes it

    async def aclose(self) -> None:
        """Stop watching and close every started face once, newest first (idempotent)."""
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        self.current = None
        while self._started:
            face = self._started.pop()
            await close_quietly(f"face '{face.name}'", face.aclose())


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


async def close_quietly(what: str, awaitable: Any) -> None:
    """Await a close; log (never raise) its failure, so every other close still runs."""
    try:
        await awaitable
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001
        log.warning("closing %s failed", what, exc_info=True)
