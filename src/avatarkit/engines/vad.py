"""Silero VAD (bundled ONNX model), loaded once per process and per setting.

Shared by every brain that runs a local VAD (pipeline, local, realtime with local_vad).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from ..progress import loading

if TYPE_CHECKING:
    from livekit.agents import vad

_lock = threading.Lock()


def load_vad(min_silence: float = 0.55) -> vad.VAD:
    """``silero.VAD.load(min_silence_duration=min_silence)``, cached per ``min_silence``.

    One VAD object serves every session in the process (each session opens its own stream);
    concurrent first calls load it once.
    """
    with _lock:
        return _load(round(min_silence, 3))


@functools.cache
def _load(min_silence: float) -> vad.VAD:
    with loading("silero VAD"):
        from livekit.plugins import silero

        return silero.VAD.load(min_silence_duration=min_silence)
