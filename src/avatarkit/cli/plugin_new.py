"""``avatarkit plugin new NAME --kind face|brain``: scaffold a plugin package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

plugin_app = typer.Typer(help="Write your own brain or face.", no_args_is_help=True)


@plugin_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="The part's name (lower-case, hyphens).")],
    kind: Annotated[str, typer.Option("--kind", help="face or brain.")] = "face",
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Where to write it (default: ./avatarkit-NAME).")] = None,
) -> None:
    """Scaffold a plugin package: pyproject (entry point), module, README, kit tests."""
    from ..scaffold import scaffold

    target = scaffold(name, kind, directory)
    typer.echo(f"wrote {kind} plugin '{name}' in {target}\n"
               f"next: pip install -e '{target}[test]' && avatarkit plugins && "
               f"pytest {target}")
