"""What the ``avatarkit`` commands share: the options that pick parts, the state of the
root options, and loading the registry and the configuration from the flags.

Nothing heavy is imported here; the library modules load inside the helpers.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import UsageError
from .state import STATE, CliState

if TYPE_CHECKING:
    from ..config import AvatarkitConfig
    from ..registry import Registry

__all__ = ["STATE", "CliState", "PartFlags", "check_port", "load_registry", "picks_parts"]

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
AgentArg = Annotated[str | None, typer.Option(
    "--agent", help="Your own LiveKit Agent: package.module:Name (an Agent subclass or a "
    "function returning one).", metavar="MODULE:NAME")]
FaceToolsArg = Annotated[bool | None, typer.Option(
    "--face-tools/--no-face-tools", help="Give the agent set_emotion/set_background tools "
    "when the face supports them (default: on).", show_default=False)]
ConfigArg = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Path to avatarkit.toml (default: ./avatarkit.toml if present).")]
HostArg = Annotated[str, typer.Option(
    "--host", help="Interface to listen on (the mic needs http://127.0.0.1 or https).")]


def load_registry(quiet: bool = False) -> Registry:
    """Every brain and face, without the plugins ``--no-plugin`` blocks."""
    from ..registry import Registry

    return Registry.load(blocked=STATE.blocked,
                         warn=(lambda _message: None) if quiet else None)


@dataclass(frozen=True)
class PartFlags:
    """The flags that pick the parts and their options, as given (see :func:`picks_parts`)."""

    brain: str | None = None
    face: str | None = None
    brain_opt: tuple[str, ...] = ()
    face_opt: tuple[str, ...] = ()
    fallback: tuple[str, ...] | None = None
    agent: str | None = None
    face_tools: bool | None = None
    config: Path | None = None

    def settings(self) -> AvatarkitConfig:
        """The configuration merged from these flags, the environment and the TOML file."""
        from ..config import load_config

        return load_config(path=self.config, brain=self.brain, face=self.face,
                           fallback=self.fallback, brain_opts=self.brain_opt,
                           face_opts=self.face_opt, agent=self.agent,
                           face_tools=self.face_tools)


_PART_FLAGS = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=annotation)
               for name, annotation, default in (
                   ("brain", BrainArg, None), ("face", FaceArg, None),
                   ("brain_opt", BrainOptArg, []), ("face_opt", FaceOptArg, []),
                   ("fallback", FallbackArg, None), ("agent", AgentArg, None),
                   ("face_tools", FaceToolsArg, None), ("config", ConfigArg, None))]


def picks_parts(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the flags that pick the parts (``--brain``, ``--face``,
    ``--brain-opt``, ``--face-opt``, ``--fallback``, ``--agent``, ``--face-tools``,
    ``--config``; first in its help): it is
    called with them as ``parts``, a :class:`PartFlags`."""
    own = inspect.signature(command, eval_str=True)
    rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in own.parameters.values() if p.name != "parts"]

    @functools.wraps(command)
    def with_parts(**values: Any) -> None:
        flags: dict[str, Any] = {}
        for param in _PART_FLAGS:
            value = values.pop(param.name)
            flags[param.name] = tuple(value) if isinstance(value, list) else value
        command(PartFlags(**flags), **values)

    with_parts.__signature__ = own.replace(parameters=[*_PART_FLAGS, *rest])  # type: ignore[attr-defined]
    return with_parts


def check_port(port: int) -> None:
    """``--port`` must be 0-65535 (0 picks a free one)."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0-65535 (got {port})", hint="0 picks a free port")
