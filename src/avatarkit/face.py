"""The Face interface: what renders the avatar's video."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from .emotions import EMOTIONS
from .errors import CapabilityError
from .part import Part

if TYPE_CHECKING:
    from .transports.base import Transport

__all__ = ["EMOTIONS", "Face", "audio_tail"]


class Face(Part, ABC):
    """A face attaches to an ``AgentSession`` and shows the agent speaking.

    ``start`` either returns with the face attached (the agent's audio now flows to it) or
    raises; the composer then closes it and tries the next face of the chain. ``aclose`` must
    be idempotent and release any paid provider session.

    ``load_cost`` is the share of one worker a session with this face uses (0-1); the worker's
    load function sums it so LiveKit's dispatcher spreads rendering across workers.
    """

    kind: ClassVar[str] = "face"
    load_cost: ClassVar[float] = 0.02
    emotions: ClassVar[tuple[str, ...]] = ()
    """Emotions :meth:`set_emotion` accepts (a subset of :data:`EMOTIONS`); empty: none."""
    supports_background: ClassVar[bool] = False
    """Whether :meth:`set_background` works while running."""
    backgrounds: ClassVar[tuple[str, ...]] = ()
    """Named backdrops ``set_background`` accepts (the agent's tool offers these; with
    ``supports_background``, it may accept more)."""
    first_frame_latency: ClassVar[float | None] = None
    """Typical seconds from ``start`` to the first video frame (``None``: not known)."""
    join_deadline: float | None = None
    """Event-loop time by which ``start`` must have returned (set by the composer)."""

    def join_time_left(self, default: float, *, margin: float = 0.0) -> float:
        """Seconds ``start`` may still wait: ``default``, capped by :attr:`join_deadline`
        less ``margin`` (time kept for the face to report and clean up)."""
        if self.join_deadline is None:
            return default
        import asyncio

        left = self.join_deadline - asyncio.get_running_loop().time() - margin
        return max(0.0, min(default, left))

    @classmethod
    def prewarm(cls, options: Any) -> None:  # noqa: B027 - optional hook
        """Load what every session of this face needs, once per process, before the first
        session (blocking; the composer calls it with the brain's prewarm)."""

    @abstractmethod
    async def start(self, session: Any, transport: Transport) -> None:
        """Attach to ``session`` over ``transport``, or raise."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stop rendering and release provider sessions. Safe to call more than once."""

    def failure(self) -> BaseException | None:
        """Why this face stopped working after it started, or ``None`` while it works.

        The composer polls it: a face that dies mid-session is closed and the agent's
        audio goes on without video, so the conversation does not end.
        """
        return None

    async def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        """Change the avatar's emotion while running (faces that list ``emotions``)."""
        raise CapabilityError(f"face '{self.name}' does not support emotions")

    async def set_background(self, background: str) -> None:
        """Change the backdrop while running (faces with ``supports_background``)."""
        raise CapabilityError(f"face '{self.name}' does not support backgrounds")

    def shown(self) -> dict[str, Any]:
        """What the face shows now, for pages and reports: ``{"emotion": ..., "intensity":
        ..., "background": ...}`` for faces with run-time controls, else ``{}``."""
        return {}

    @classmethod
    def capabilities(cls) -> dict[str, Any]:
        """What the CLI, the control API and the playground can offer for this face."""
        return {"emotions": list(cls.emotions), "background": cls.supports_background,
                "backgrounds": list(cls.backgrounds),
                "first_frame_latency": cls.first_frame_latency}


def audio_tail(session: Any) -> Any:
    """The sink at the bottom of ``session``'s audio chain (below transcript sync etc.):
    where a face installs its own with ``session.output.replace_audio_tail()``."""
    sink = session.output.audio
    while sink is not None and getattr(sink, "next_in_chain", None) is not None:
        sink = sink.next_in_chain
    return sink
