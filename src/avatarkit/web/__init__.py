"""Browser-facing servers: the aiortc playground and the LiveKit token endpoint.

This package imports nothing heavy at top level; aiohttp, aiortc, av, numpy and livekit
are imported by the modules that need them (``playground_server``, ``tracks``,
``token_server``), which the CLI imports lazily.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    """The directory of the shipped pages, scripts and the vendored LiveKit JS client."""
    return Path(str(resources.files("avatarkit") / "web" / "static"))
