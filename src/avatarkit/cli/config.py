"""``avatarkit config show``: the merged configuration, secrets masked."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .shared import PartFlags, load_registry, picks_parts

config_app = typer.Typer(help="Inspect the merged configuration.", no_args_is_help=True)


@config_app.command("show")
@picks_parts
def config_show(
    parts: PartFlags,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of TOML.")] = False,
) -> None:
    """Print the merged configuration (flags > env > file > defaults), secrets masked."""
    from ..composer import make_plan
    from ..listing import secret_fields, to_toml

    cfg = parts.settings()
    registry = load_registry()
    make_plan(cfg, registry, check_usable=False)  # names and options, as `run` checks them
    data = cfg.masked(secret_fields(registry))
    typer.echo(json.dumps(data, indent=2) if as_json else to_toml(data))
