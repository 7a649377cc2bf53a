"""``avatarkit plugins``: every brain and face, where it comes from, whether it works."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from .shared import load_registry


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Include option schemas.")]
    = False,
    available: Annotated[bool, typer.Option(
        "--available", help="List the provider faces you can install, with the pip line.")]
    = False,
) -> None:
    """List every brain and face: where it comes from, what it needs, whether it works."""
    from ..listing import describe_parts, render_parts

    registry = load_registry(quiet=True)  # problems are part of the listing below
    if available:
        from ..catalog import available as installable

        rows_ = installable(frozenset(registry.faces))
        typer.echo(json.dumps(rows_, indent=2) if as_json else "\n".join(
            f"{r['name']:<12} {r['summary']}\n    {r['install']}" for r in rows_)
            or "every first-party provider face is installed")
        return
    rows = describe_parts(registry, os.environ, verbose=verbose)
    if as_json:
        problems = [{**p.__dict__, "message": p.text()} for p in registry.problems]
        duplicates = [{"kind": kind, "name": name, "distributions": dists}
                      for (kind, name), dists in sorted(registry.duplicates.items())]
        typer.echo(json.dumps({"parts": rows, "problems": problems,
                               "duplicates": duplicates}, indent=2))
    else:
        typer.echo(render_parts(rows, verbose=verbose))
        lines = registry.problem_lines()
        if lines:
            typer.echo(f"\nproblems ({len(lines)}):")
            typer.echo("\n".join(f"  {line}" for line in lines))
