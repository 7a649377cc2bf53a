"""``avatarkit run``: the LiveKit worker."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from .shared import PartFlags, load_registry, picks_parts


@picks_parts
def run(
    parts: PartFlags,
    dev: Annotated[bool, typer.Option("--dev", help="LiveKit dev mode (reload, debug).")]
    = False,
    room: Annotated[str | None, typer.Option(
        "--room", help="Join this one room directly instead of waiting for dispatch.")] = None,
) -> None:
    """Run a LiveKit worker that puts the avatar into rooms (production by default).

    Ctrl-C (or SIGTERM) stops it: exit 0 once it had registered with LiveKit, 1 if it never
    did (an unreachable server is reported within seconds, exit 1)."""
    from ..composer import make_plan
    from ..worker.run import run_worker

    if room is not None:
        from ..tokens import check_room

        check_room(room, "--room")
    # every part valid and credentialed before connecting
    plan = make_plan(parts.settings(), load_registry())
    mode: Literal["start", "dev", "connect"] = "connect" if room else ("dev" if dev else "start")
    run_worker(plan, mode=mode, room=room, echo=typer.echo)
