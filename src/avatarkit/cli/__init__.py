"""The ``avatarkit`` command line. Thin: parse, load config, call the library.

``main`` is the console script (``avatarkit = avatarkit.cli:main``); ``app`` the Typer app.
One module per command (:mod:`.plugins`, :mod:`.config`, :mod:`.run`, :mod:`.doctor`,
:mod:`.token`, :mod:`.demo`, :mod:`.playground`, :mod:`.serve`), the options they share in
:mod:`.shared`, exit codes and error output in :mod:`.entry`.

Heavy modules (livekit, numpy, av, rich) are imported inside the commands that need them,
so ``avatarkit --help`` and ``avatarkit plugins`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .entry import main

if TYPE_CHECKING:
    from .app import app

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    """``app`` (the Typer app) is built on first use: ``main`` answers some commands
    without it."""
    if name == "app":
        from .app import app

        return app
    raise AttributeError(f"module 'avatarkit.cli' has no attribute {name!r}")
