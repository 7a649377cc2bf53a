"""Silero VAD (bundled ONNX model), loaded once per process and per setting.

Shared by every brain that runs a local VAD (pipeline, local, realtime with local_vad).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ..progress import loading

if TYPE_CHECKING:
    from livekit.agents import vad

_vads: dict[float, vad.VAD] = {}
_lock = threading.Lock()


def load_vad(min_silence: float = 0.55) -> vad.VAD:
    """``silero.VAD.load(min_silence_duration=min_silence)``, cached per ``min_silence``.

    One VAD object serves every session in the process (each session opens its own stream).
    """
    key = round(min_silence, 3)
    with _lock:
        model = _vads.get(key)
        if model is None:
            with loading("silero VAD"):
                from livekit.plugins import silero

                model = silero.VAD.load(min_silence_duration=min_silence)
            _vads[key] = model
        return model
