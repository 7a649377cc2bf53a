"""``avatarkit doctor``: can this brain and face chain run here, and if not, why."""

from __future__ import annotations

import typer

from .shared import (
    BrainArg,
    BrainOptArg,
    ConfigArg,
    FaceArg,
    FaceOptArg,
    FallbackArg,
    load_registry,
    load_settings,
)


def doctor(
    brain: BrainArg = None, face: FaceArg = None, brain_opt: BrainOptArg = [],  # noqa: B006
    face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
    config: ConfigArg = None,
) -> None:
    """Check packages, credentials and reachability for a brain and face chain.

    Without LiveKit settings, a chain that needs no LiveKit room is ready for `demo` and
    `playground` (exit 0, with a warning that `run` needs LiveKit)."""
    from ..doctor import doctor_for_config

    cfg = load_settings(config, brain, face, brain_opt, face_opt, fallback)
    ok = doctor_for_config(cfg, load_registry(), echo=typer.echo, needs_livekit=None)
    raise typer.Exit(0 if ok else 1)
