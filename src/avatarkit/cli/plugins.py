"""``avatarkit plugins``: every brain and face, where it comes from, whether it works.

:func:`avatarkit.cli.entry.main` answers the plain forms of this command without building
the Typer app (:mod:`.fast`); both print :func:`.plugins_text.plugins_text`.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from .plugins_text import plugins_text
from .state import STATE


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Include option schemas.")]
    = False,
    available: Annotated[bool, typer.Option(
        "--available", help="List the provider faces you can install, with the pip line.")]
    = False,
) -> None:
    """List every brain and face: where it comes from, what it needs, whether it works."""
    # problems are part of the listing, not warnings
    typer.echo(plugins_text(as_json=as_json, verbose=verbose, available=available,
                            blocked=STATE.blocked, environ=os.environ))
