"""The browser playground (``avatarkit playground``): talk to the avatar in a browser tab,
peer-to-peer over WebRTC (aiortc), with no media server.

- :mod:`.server` -- the aiohttp server: the page, ``POST /offer``, one session per tab
- :mod:`.transport` -- ``PlaygroundTransport``: one browser peer as the composer's transport
- :mod:`.controls` -- the page's emotion/background controls, applied to the face
- :mod:`.peer_media` -- media to the browser: the outgoing tracks and their media sink
- :mod:`.mic` -- the browser's microphone as the session's audio input
- :mod:`.timeline` -- when media plays: the playout clock and the audio timeline
- ``static/`` -- ``playground.html`` and its scripts

Importing this package is cheap; aiohttp, aiortc, av and numpy load with its modules.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    """The directory of the playground page and its scripts."""
    return Path(str(resources.files("avatarkit") / "playground" / "static"))
