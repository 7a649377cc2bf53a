"""Session rotation for :class:`~avatarkit.faces.avatar_session.AvatarSessionFace`: a fresh
provider session before the cap, its audio sink held back, swapped in with
``replace_audio_tail()`` while the agent is idle, the old session ended."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import FaceStartError, describe
from ..face import audio_tail

log = logging.getLogger("avatarkit.faces.avatar_session")

IDLE_POLL = 0.02  # seconds between checks that the agent is idle (a swap waits for it)
SWAP_MARGIN = 2.0  # seconds before the cap when a swap no longer waits for a pause
RETRY_ROTATION = 5.0  # seconds before another try when a fresh session failed to start


class _HeldOutput:
    """``session.output`` as a rotating plugin sees it: the sink it installs is held back."""

    def __init__(self, output: Any) -> None:
        self._output = output
        self.sink: Any = None

    def replace_audio_tail(self, sink: Any) -> None:
        self.sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._output, name)


class _SessionView:
    """The ``AgentSession`` as a rotating plugin sees it (everything but the audio tail)."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.output = _HeldOutput(session.output)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@dataclass
class _Live:
    """One provider session: the plugin's ``AvatarSession`` and the task that started it."""

    avatar: Any
    task: asyncio.Task[Any] | None = None
    view: _SessionView | None = None
    began: float = field(default_factory=time.monotonic)
    sink: Any = None  # the audio sink its plugin installed (held back in a view)
    session: Any = None  # the AgentSession it was started in
    before: Any = None  # the session's audio tail before its start (None in a view)
    cut: bool = False  # its start was cut off and went on (it may install its sink later)


def installed_sink(live: _Live) -> Any:
    """The sink ``live``'s plugin installed (held in its view, or the chain's new tail),
    else None."""
    if live.view is not None:
        return live.view.output.sink
    sink = None if live.session is None else audio_tail(live.session)
    return None if sink is live.before else sink


def agent_idle(session: Any) -> bool:
    """Whether no reply is playing: nothing captured by the audio chain is left unplayed.

    (``_pending_playback_count`` is livekit-agents' own count of segments a sink accepted
    and has not reported finished; the agent state alone lags the first frame.)
    """
    if getattr(session, "agent_state", None) == "speaking":
        return False
    top = session.output.audio
    return top is None or int(getattr(top, "_pending_playback_count", 0)) == 0


class Rotation:
    """Mixin of :class:`AvatarSessionFace`: the rotation loop (``_rotate``) and ending an
    old session in a task of its own (``_end_soon``)."""

    name: ClassVar[str]
    provider: ClassVar[str]
    options: Any
    rotations: list[dict[str, float]]
    _live: _Live | None
    _pending: _Live | None
    _ending: set[asyncio.Task[None]]
    _close_task: asyncio.Task[None] | None

    def _build(self, identity: str | None) -> Any:
        raise NotImplementedError

    async def _start_live(self, live: _Live, session: Any, room: Any, timeout: float) -> None:
        raise NotImplementedError

    async def _end_live(self, live: _Live) -> None:
        raise NotImplementedError


    async def _rotate(self, session: Any, room: Any, cap: float) -> None:
        """Before each session's cap: start a fresh one, swap it in while idle, end the old."""
        lead = min(self.options.rotate_lead_s, cap / 2)
        assert self._live is not None
        base = self.options.avatar_identity or str(self._live.avatar.avatar_identity)
        generation = 1
        while self._close_task is None:
            current = self._live
            assert current is not None
            due = current.began + cap - lead - time.monotonic()
            if due > 0:
                await asyncio.sleep(due)
            generation += 1
            t0 = time.monotonic()
            fresh = self._pending = _Live(self._build(f"{base}-{generation}"),
                                          view=_SessionView(session))
            try:
                await self._start_live(fresh, fresh.view, room, self.options.join_timeout)
                if fresh.view is None or fresh.view.output.sink is None:
                    raise FaceStartError("the plugin routed no audio to the fresh avatar")
            except Exception as exc:  # noqa: BLE001 - the running session goes on meanwhile
                log.warning("%s: a fresh %s session did not start (%s); retrying in %g s",
                            self.name, self.provider, describe(exc), RETRY_ROTATION)
                await self._end_soon(fresh)
                await asyncio.sleep(RETRY_ROTATION)
                continue
            joined = time.monotonic()
            deadline = current.began + cap - SWAP_MARGIN
            while not agent_idle(session) and time.monotonic() < deadline:
                await asyncio.sleep(IDLE_POLL)
            if not agent_idle(session):
                log.warning("%s: the agent never paused before the %s cap; swapping mid-reply",
                            self.name, self.provider)
            session.output.replace_audio_tail(fresh.view.output.sink)
            fresh.began = time.monotonic()
            self._live, self._pending = fresh, None
            record = {"join_s": joined - t0, "idle_wait_s": fresh.began - joined,
                      "at_s": fresh.began - current.began}
            self.rotations.append(record)
            log.info("%s: rotated the %s session after %.1f s (fresh one joined in %.1f s, "
                     "swapped %.2f s later while the agent was idle)", self.name,
                     self.provider, record["at_s"], record["join_s"], record["idle_wait_s"])
            await self._end_soon(current)

    async def _end_soon(self, live: _Live) -> None:
        """End ``live`` in a task of its own: a cancelled rotation still ends it (``_close``
        waits for these)."""
        if self._pending is live:
            self._pending = None
        task = asyncio.ensure_future(self._end_live(live))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)
        await asyncio.shield(task)
