"""What ``avatarkit plugins`` prints, with no typer: the Typer command and the fast path of
:func:`avatarkit.cli.entry.main` both print this text, so the two cannot differ."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping


def plugins_text(*, as_json: bool, verbose: bool, available: bool, blocked: Iterable[str],
                 environ: Mapping[str, str]) -> str:
    """The output of ``avatarkit plugins`` with these flags (``blocked``: ``--no-plugin``),
    from the cached listing (:mod:`avatarkit.listing_cache`)."""
    from ..listing_cache import plugin_listing

    listing = plugin_listing(blocked, verbose=verbose and not available, environ=environ)
    if available:
        from ..catalog import available as installable

        rows = installable(frozenset(listing["faces"]))
        return json.dumps(rows, indent=2) if as_json else "\n".join(
            f"{r['name']:<12} {r['summary']}\n    {r['install']}" for r in rows) \
            or "every first-party provider face is installed"
    if as_json:
        return json.dumps({key: listing[key] for key in ("parts", "problems", "duplicates")},
                          indent=2)
    from ..listing import render_parts

    text = render_parts(listing["parts"], verbose=verbose)
    lines = listing["problem_lines"]
    if lines:
        text += f"\n\nproblems ({len(lines)}):\n" + "\n".join(f"  {line}" for line in lines)
    return text
