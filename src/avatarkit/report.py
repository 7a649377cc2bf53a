"""Per-turn and per-session records the composer emits (latencies, fallbacks).

Value types and the collector that fills them from ``AgentSession`` events; nothing here
imports the rest of avatarkit, so transports and apps may use it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# (label, key) in pipeline order: what the demo's latency table prints.
TURN_STAGES: tuple[tuple[str, str], ...] = (
    ("speech end -> turn end", "end_of_turn_delay"),
    ("speech end -> transcript", "transcription_delay"),
    ("LLM first token", "llm_node_ttft"),
    ("TTS first audio", "tts_node_ttfb"),
    ("speech end -> agent audio", "e2e_latency"),
    ("agent audio -> first avatar frame", "face_first_frame"),
    ("speech end -> first avatar frame", "speech_end_to_first_frame"),
)


@dataclass
class TurnRecord:
    """One exchange: what was heard, what was answered, and how long each stage took."""

    heard: str = ""
    answered: str = ""
    interrupted: bool = False
    latencies: dict[str, float] = field(default_factory=dict)


@dataclass
class FaceAttempt:
    """One face of the chain the composer tried."""

    name: str
    ok: bool
    seconds: float
    error: str | None = None


@dataclass
class SessionReport:
    """What happened in one session."""

    brain: str
    face: str | None = None
    attempts: list[FaceAttempt] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None

    @property
    def fallbacks_used(self) -> list[str]:
        return [a.name for a in self.attempts if not a.ok]

    @property
    def face_join_time(self) -> float | None:
        ok = [a.seconds for a in self.attempts if a.ok]
        return ok[0] if ok else None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def summary(self) -> str:
        """One line: the face, each face attempt (time, error) and the number of turns."""
        attempts = "; ".join(
            f"{a.name} {'ok' if a.ok else 'failed'} in {a.seconds:.2f} s"
            + (f" ({a.error})" if a.error else "") for a in self.attempts)
        return f"face={self.face} turns={len(self.turns)} attempts: {attempts or 'none'}"


class TurnCollector:
    """Builds :class:`TurnRecord` s from ``AgentSession`` events into ``report``.

    ``on_turn(turn)`` is called with each turn as it completes (after it was added to the
    report): a transport that shows turns live (the playground) uses it.
    """

    def __init__(self, report: SessionReport, face: Any = None,
                 on_turn: Callable[[TurnRecord], None] | None = None) -> None:
        self.report = report
        self.face = face
        self.on_turn = on_turn
        self._pending = TurnRecord()

    def attach(self, session: Any) -> None:
        session.on("conversation_item_added", self._on_item)

    def _on_item(self, event: Any) -> None:
        item = event.item
        if getattr(item, "type", None) != "message":
            return
        text = (item.text_content or "").strip()
        metrics = dict(getattr(item, "metrics", None) or {})
        if item.role == "user":
            if self._pending.heard or self._pending.answered:
                self._finish()
            self._pending.heard = text
            for key in ("end_of_turn_delay", "transcription_delay"):
                if key in metrics:
                    self._pending.latencies[key] = float(metrics[key])
        elif item.role == "assistant":
            self._pending.answered = text
            self._pending.interrupted = bool(getattr(item, "interrupted", False))
            for key in ("llm_node_ttft", "tts_node_ttfb", "e2e_latency"):
                if key in metrics:
                    self._pending.latencies[key] = float(metrics[key])
            frame_latency = self._face_latency()
            if frame_latency is not None:
                self._pending.latencies["face_first_frame"] = frame_latency
                if "e2e_latency" in self._pending.latencies:
                    self._pending.latencies["speech_end_to_first_frame"] = (
                        self._pending.latencies["e2e_latency"] + frame_latency
                    )
            self._finish()

    def _face_latency(self) -> float | None:
        metrics = getattr(self.face, "metrics", None)
        value = getattr(metrics, "last_first_frame_latency", None)
        return float(value) if value is not None else None

    def _finish(self) -> None:
        turn, self._pending = self._pending, TurnRecord()
        self.report.turns.append(turn)
        if self.on_turn is not None:
            self.on_turn(turn)

    def close(self) -> None:
        """Record the turn in progress, if any (the session ended)."""
        if self._pending.heard or self._pending.answered:
            self._finish()
