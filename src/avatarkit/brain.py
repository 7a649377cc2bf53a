"""The Brain interface: what listens, thinks and speaks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .part import Part


@dataclass
class BrainParts:
    """LiveKit components a brain hands to ``AgentSession``.

    ``llm`` is an ``llm.LLM`` or an ``llm.RealtimeModel``; ``session_options`` carries extra
    ``AgentSession`` keyword arguments (turn handling and the like).
    """

    llm: Any
    stt: Any = None
    tts: Any = None
    vad: Any = None
    session_options: dict[str, Any] = field(default_factory=dict)

    def session_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AgentSession(...)``, leaving out parts that are not set."""
        kwargs = {k: v for k, v in (("llm", self.llm), ("stt", self.stt),
                                    ("tts", self.tts), ("vad", self.vad)) if v is not None}
        kwargs.update(self.session_options)
        return kwargs


class Brain(Part, ABC):
    """A brain builds the speech/LLM components of an ``AgentSession``.

    ``load_cost`` is the share of one worker a session with this brain uses on the worker
    itself (local models cost far more than a cloud API call).

    Plugin modules import nothing heavy at top level: heavy imports belong in
    :meth:`prewarm` and :meth:`build`.
    """

    kind: ClassVar[str] = "brain"
    load_cost: ClassVar[float] = 0.02

    def instructions(self, default: str) -> str:
        """The agent instructions to use; a brain may override the configured ones."""
        return default

    def prewarm(self) -> None:  # noqa: B027 - optional hook
        """Load models once per worker process (called before the first session)."""

    def prepare_worker(self) -> Any:
        """Start what all job processes of a LiveKit worker share, once, in the worker's
        main process (before any job process starts), and return the options the job
        processes should use instead (``None``: the same options).

        The ``local`` brain starts its llama.cpp server here, so job processes (two or more,
        and any restarted one) share one server instead of each starting its own. Whatever
        is started must stop when this process ends.
        """
        return None

    @abstractmethod
    def build(self) -> BrainParts:
        """Return fresh LiveKit components for one session."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release per-session resources (process-wide ones may outlive the session)."""
