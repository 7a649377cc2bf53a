"""``avatarkit demo``: questions in, an mp4 out, no server and no account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .shared import PartFlags, load_registry, picks_parts


@picks_parts
def demo(
    parts: PartFlags,
    input_: Annotated[list[Path], typer.Option(
        "--input", "-i", help="Spoken question(s) to play (repeatable; wav/mp3/...).")]
    = [],  # noqa: B006
    ask: Annotated[list[str], typer.Option(
        "--ask", help="Question text, spoken by the local TTS (repeatable).")] = [],  # noqa: B006
    output: Annotated[Path, typer.Option("--output", "-o", help="The mp4 to write.")]
    = Path("demo.mp4"),
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Also write the session report as JSON.")] = None,
    interrupt_after: Annotated[float | None, typer.Option(
        "--interrupt-after", help="Say the last question this many seconds into the reply "
        "to the one before (a barge-in).", min=0.0)] = None,
) -> None:
    """Talk to the avatar with no server and no account: questions in, an mp4 out."""
    from ..demo import check_asks, check_output, print_demo, run_demo

    # cheap checks first: nothing loads, and no turn runs, for an output that cannot be written
    check_output(output, "--output", suffixes=(".mp4", ".m4v", ".mov", ".mkv"))
    if report_json is not None:
        check_output(report_json, "--report-json")
    check_asks(ask)
    result = run_demo(parts.settings(), inputs=input_, asks=ask, output=output,
                      registry=load_registry(), interrupt_after=interrupt_after)
    print_demo(result, echo=typer.echo)
    if report_json is not None:
        report_json.write_text(json.dumps(result.to_dict(), indent=2))
