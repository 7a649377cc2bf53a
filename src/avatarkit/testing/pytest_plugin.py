"""avatarkit's pytest plugin (entry point ``pytest11``): fixtures for the kit.

- ``avatarkit_speech_wav``: a 3 s voice-like mono wav (no model, no download);
- ``avatarkit_kit_env``: a clean environment for a plugin's kit run (no ``AVATARKIT_*``
  settings, no ``LIVEKIT_*``, models offline).

Loaded by every pytest run where avatarkit is installed: it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def avatarkit_speech_wav(tmp_path: Path) -> Path:
    """A voice-like wav the scripted brain speaks (``check_face_behaviour(wav=...)``)."""
    from .scripted import write_speech_wav

    return write_speech_wav(tmp_path / "speech.wav")


@pytest.fixture
def avatarkit_kit_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No avatarkit settings or LiveKit server from the developer's shell; offline models."""
    import os

    for var in list(os.environ):
        if var.startswith(("AVATARKIT_", "LIVEKIT_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield
