"""Web servers that need no session: the LiveKit token endpoint with its room page
(``avatarkit serve``), a running face's control API, and what every avatarkit server
shares (:mod:`.serving`: listening, middlewares, request models; :mod:`.origins`).

This package imports nothing heavy at top level; aiohttp and livekit are imported by the
modules that need them, which the CLI imports lazily. The browser playground's server
lives with the rest of the playground (:mod:`avatarkit.playground`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    """The directory of the room page, its script, the shared style sheet and the vendored
    LiveKit JS client."""
    return Path(str(resources.files("avatarkit") / "web" / "static"))
