"""``avatarkit doctor``: can this brain and face chain run here, and if not, why."""

from __future__ import annotations

import typer

from .shared import PartFlags, load_registry, picks_parts


@picks_parts
def doctor(
    parts: PartFlags,
) -> None:
    """Check packages, credentials and reachability for a brain and face chain.

    Without LiveKit settings, a chain that needs no LiveKit room is ready for `demo` and
    `playground` (exit 0, with a warning that `run` needs LiveKit)."""
    from ..doctor import doctor_for_config

    ok = doctor_for_config(parts.settings(), load_registry(), echo=typer.echo, needs_livekit=None)
    raise typer.Exit(0 if ok else 1)
