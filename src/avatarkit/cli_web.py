"""CLI commands that serve browsers: ``avatarkit playground`` and ``avatarkit serve``."""

from __future__ import annotations

import typer


def register_web_commands(app: typer.Typer) -> None:
    """Add the browser-facing commands to ``app`` (kept apart from the core CLI)."""
