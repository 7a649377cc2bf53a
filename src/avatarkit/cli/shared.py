"""What the ``avatarkit`` commands share: the options that pick parts, the state of the
root options, and loading the registry and the configuration from the flags.

Nothing heavy is imported here; the library modules load inside the helpers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import UsageError

if TYPE_CHECKING:
    from ..config import AvatarkitConfig
    from ..registry import Registry


@dataclass
class CliState:
    """The root options of this invocation (``--debug``, ``--no-plugin`` anywhere)."""

    debug: bool = False
    blocked: list[str] = field(default_factory=list)
    early_blocked: list[str] = field(default_factory=list)


STATE = CliState()

# Options shared by the commands that pick parts (Annotated aliases keep them identical).
BrainArg = Annotated[str | None, typer.Option(
    "--brain", "-b", help="Brain to run (see `avatarkit plugins`).")]
FaceArg = Annotated[str | None, typer.Option(
    "--face", "-f", help="Face to show (see `avatarkit plugins`).")]
BrainOptArg = Annotated[list[str], typer.Option(
    "--brain-opt", help="Brain option KEY=VALUE (repeatable).", metavar="KEY=VALUE")]
FaceOptArg = Annotated[list[str], typer.Option(
    "--face-opt", help="Face option KEY=VALUE, or FACE.KEY=VALUE for a fallback face "
    "(repeatable).", metavar="KEY=VALUE")]
FallbackArg = Annotated[list[str] | None, typer.Option(
    "--fallback", help="Faces to try if the face fails, in order (repeatable or a,b).")]
ConfigArg = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Path to avatarkit.toml (default: ./avatarkit.toml if present).")]
HostArg = Annotated[str, typer.Option(
    "--host", help="Interface to listen on (the mic needs http://127.0.0.1 or https).")]


def load_registry(quiet: bool = False) -> Registry:
    """Every brain and face, without the plugins ``--no-plugin`` blocks."""
    from ..registry import Registry

    return Registry.load(blocked=STATE.blocked,
                         warn=(lambda _message: None) if quiet else None)


def load_settings(
    config: Path | None, brain: str | None = None, face: str | None = None,
    brain_opt: list[str] | None = None, face_opt: list[str] | None = None,
    fallback: list[str] | None = None,
) -> AvatarkitConfig:
    """The configuration merged from the flags, the environment and the TOML file."""
    from ..config import load_config

    return load_config(path=config, brain=brain, face=face, fallback=fallback,
                       brain_opts=brain_opt or (), face_opts=face_opt or ())


def check_port(port: int) -> None:
    """``--port`` must be 0-65535 (0 picks a free one)."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0-65535 (got {port})", hint="0 picks a free port")
