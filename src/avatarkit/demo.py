"""``avatarkit demo``: real turns through the composer with no server, recorded to mp4."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .composer import Composer, make_plan
from .config import AvatarkitConfig
from .errors import UsageError, clip
from .interruptible import run_interruptible
from .registry import Registry
from .report import TURN_STAGES, SessionReport


@dataclass
class DemoResult:
    """What one demo run produced."""

    report: SessionReport
    output: Path
    video_frames: int
    audio_seconds: float
    measured: list[float | None] = field(default_factory=list)  # speech end -> first output
    # Per input: where its speech started/ended and the reply's first output began, in
    # seconds on the mp4's timeline (None when not reached).
    marks: list[dict[str, float | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "video_frames": self.video_frames,
            "audio_seconds": self.audio_seconds,
            "speech_end_to_first_output": self.measured,
            "marks": self.marks,
            "session": self.report.to_dict(),
        }


MAX_ASK_CHARS = 500


def check_output(path: Path, flag: str, suffixes: Sequence[str] = ()) -> None:
    """Refuse, before any work, an output file that cannot be written: a missing or
    unwritable directory, a directory, a device or other non-regular file, a suffix the
    writer does not know. The check creates nothing that stays behind."""
    path = Path(path)
    hint = f"give {flag} a file path in a directory you can write to"
    if path.is_dir():
        raise UsageError(f"{flag} {clip(str(path))} is a directory", hint=hint)
    if path.exists() and not path.is_file():
        raise UsageError(f"{flag} {clip(str(path))} is not a regular file (a device, pipe "
                         "or socket)", hint=hint)
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(f"{flag} {clip(str(path))}: the file name must end with "
                         + ", ".join(suffixes), hint=f"for example {flag} demo.mp4")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {clip(str(path))}: directory {clip(str(parent))} does not "
                         "exist", hint=f"create it first (mkdir -p {parent}) or {hint}")
    try:
        if path.exists():
            with open(path, "r+b"):  # writable, and left as it is until the run writes it
                pass
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            os.unlink(path)
    except OSError as exc:
        raise UsageError(f"{flag} {clip(str(path))} cannot be written: "
                         f"{(exc.strerror or str(exc)).lower()}", hint=hint) from None


def check_asks(asks: Sequence[str]) -> None:
    """Every ``--ask`` must be a question of 1-:data:`MAX_ASK_CHARS` characters."""
    for text in asks:
        if not text.strip():
            raise UsageError("--ask needs the question's text (got an empty one)",
                             hint='for example --ask "What is the capital of France?"')
        if len(text) > MAX_ASK_CHARS:
            raise UsageError(f"--ask {clip(text)} is longer than {MAX_ASK_CHARS} characters",
                             hint="ask a short, spoken question")
        if not text.isprintable():
            raise UsageError(f"--ask {clip(text)} contains control characters",
                             hint="give the question as one line of plain text")


def bundled_question() -> Path:
    """The spoken question used when none is given ("What is the capital of France?")."""
    return Path(str(resources.files("avatarkit") / "assets" / "question.wav"))


def run_demo(
    config: AvatarkitConfig,
    *,
    inputs: Sequence[Path] = (),
    asks: Sequence[str] = (),
    output: Path = Path("demo.mp4"),
    registry: Registry | None = None,
    interrupt_after: float | None = None,
    composer: Composer | None = None,
) -> DemoResult:
    """Validate, load the inputs, run the turns, write ``output``. Blocking.

    With ``interrupt_after``, the last input is spoken that many seconds into the agent's
    reply to the one before it (a barge-in), instead of after the reply.
    """
    from .transports.audio_files import load_speech
    from .transports.file import FileTransport, Utterance

    check_asks(asks)
    composer = composer or Composer(make_plan(config, registry))
    clips = [load_speech(p) for p in inputs]
    clips += [synthesize_question(text) for text in asks]
    if not clips:
        clips = [load_speech(bundled_question())]
    if interrupt_after is not None and len(clips) < 2:
        raise UsageError("--interrupt-after needs at least two inputs (--input/--ask): "
                         "the last one interrupts the reply to the one before",
                         hint="add a second --ask \"...\"")
    utterances = [Utterance(c) for c in clips]
    if interrupt_after is not None:
        utterances[-1].barge_in_after = interrupt_after
    composer.prewarm()
    transport = FileTransport(utterances, Path(output))
    report = run_interruptible(composer.run(transport))
    return DemoResult(
        report=report,
        output=Path(output),
        video_frames=transport.recorder.video_frames,
        audio_seconds=transport.recorder.audio_seconds,
        measured=[t.speech_end_to_first_frame for t in transport.timings],
        marks=[{"speech_start": transport.media_time(t.speech_start),
                "speech_end": transport.media_time(t.speech_end),
                "first_output": None if t.first_output is None
                else transport.media_time(t.first_output)} for t in transport.timings],
    )


def synthesize_question(text: str) -> Any:
    """Speak ``text`` with the local TTS (Piper, else espeak-ng) as 16 kHz int16 samples."""
    from .engines.say import speak_16k

    samples = speak_16k(text)
    from .transports.audio_files import check_speech

    check_speech(samples, f"--ask {text!r}")
    return samples


def print_demo(result: DemoResult, echo: Callable[[str], None] = print) -> None:
    """Print what was heard, what was answered, and the per-stage latency table."""
    report = result.report
    for attempt in report.attempts:
        if not attempt.ok:
            echo(f"face '{attempt.name}' failed: {attempt.error}; fell back")
    echo(f"brain: {report.brain}   face: {report.face}")
    for number, turn in enumerate(report.turns, 1):
        echo(f"\nturn {number}")
        echo(f"  heard:    {turn.heard or '(nothing)'}")
        echo(f"  answered: {turn.answered or '(nothing)'}"
             + ("  [interrupted]" if turn.interrupted else ""))
    echo("\nlatency (seconds)")
    echo(latency_table(report, result.measured))
    echo(f"\nwrote {result.output}: {result.video_frames} video frames, "
         f"{result.audio_seconds:.1f} s audio")


def latency_table(report: SessionReport, measured: Sequence[float | None] = ()) -> str:
    """Rows: stages in pipeline order; columns: each turn, then the median."""
    from .tables import new_table, render

    turns = report.turns
    rows = [(label, [t.latencies.get(key) for t in turns]) for label, key in TURN_STAGES]
    if measured:
        rows.append(("measured at the output", list(measured)[: len(turns)] or list(measured)))
    columns = max(len(turns), *(len(values) for _, values in rows))
    table = new_table("", *(f"turn {i + 1}" for i in range(columns)), "median")
    for label, values in rows:
        present = [v for v in values if v is not None]
        cells = [_fmt(v) for v in values] + [""] * (columns - len(values))
        table.add_row(label, *cells, _fmt(statistics.median(present)) if present else "-")
    return render(table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
