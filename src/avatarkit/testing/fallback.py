"""Failure: a face that dies mid-session says so through ``failure()``, and the composer
closes it and goes on with audio only."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .behaviour import KitTransport, _plan
from .contract import ContractError
from .scripted import ScriptedBrain


def break_video(face: Any, transport: KitTransport) -> None:
    """The default way to kill a self-hosted face: its media sink fails from now on."""
    transport.recorder_sink.broken = True


class _DyingTransport(KitTransport):
    def __init__(self, output: Path, kill: Callable[[Any, KitTransport], Any],
                 within: float) -> None:
        super().__init__(output, speak_for=0.5, after=0.0)
        self.kill = kill
        self.within = within
        self.face: Any = None
        self.killed_at: float | None = None
        self.reported_after: float | None = None
        self.spoke_again_at: float | None = None

    async def wait_done(self, session: Any) -> None:
        await self._wait_for("the agent to speak", "speaking", timeout=self.reply_timeout)
        await asyncio.sleep(self.speak_for)
        result = self.kill(self.face, self)
        if asyncio.iscoroutine(result):
            await result
        self.killed_at = time.monotonic()
        while self.face.failure() is None:
            if time.monotonic() - self.killed_at > self.within:
                return
            await asyncio.sleep(0.05)
        self.reported_after = time.monotonic() - self.killed_at
        await asyncio.sleep(0.6)  # the composer polls every 0.25 s, then swaps the output
        session.interrupt(force=True)
        await self._wait_for("the agent to listen", "listening", "idle", timeout=10)
        self.spoke_again_at = time.monotonic()
        session.say("still here")
        await self._wait_for("the agent to speak again", "speaking", timeout=10)
        await asyncio.sleep(0.5)


async def check_face_fallback(
    face_cls: type[Any],
    options: Mapping[str, Any] | None = None,
    *,
    kill: Callable[[Any, KitTransport], Any] = break_video,
    within: float = 3.0,
    join_timeout: float = 20.0,
) -> float:
    """Kill the face mid-sentence with ``kill(face, transport)`` (default: its video output
    fails); ``failure()`` must report it within ``within`` seconds, and the conversation
    goes on with audio only. Returns how long ``failure()`` took to report it."""
    from ..composer import Composer

    with tempfile.TemporaryDirectory(prefix="avatarkit-kit-") as tmp:
        plan = _plan(ScriptedBrain, {"seconds": 4.0}, [(face_cls, options)], Path(tmp),
                     "hello", join_timeout)
        transport = _DyingTransport(Path(tmp) / "kit.mp4", kill, within)

        def on_started(session: Any, face: Any) -> None:
            transport.face = face

        report = await Composer(plan).run(transport, on_started=on_started)
    if report.attempts and report.attempts[0].name == face_cls.name \
            and not report.attempts[0].ok:
        raise ContractError("failure: start", f"the face did not start: {report.summary()}")
    if transport.reported_after is None:
        raise ContractError("failure() reported", f"the face was killed and failure() still "
                            f"returned None after {within:g} s",
                            "return the error from failure() once rendering stopped")
    died = [a for a in report.attempts if a.error and "died mid-session" in a.error]
    if not died or report.face != "none":
        raise ContractError("failure: fallback", "the composer did not fall back to audio "
                            f"only: {report.summary()}")
    again = transport.spoke_again_at
    if again is None or not any(t > again for t in transport.recorder_sink.audio):
        raise ContractError("failure: fallback", "no audio reached the transport after the "
                            "face died", "aclose() must release the session's audio output")
    return transport.reported_after
