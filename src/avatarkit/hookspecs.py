"""The pluggy hooks a plugin implements. Project name: ``avatarkit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

Register = Callable[[type[Any]], None]
"""The callback a ``register_*`` hook receives: call it once per part class."""

hookspec = pluggy.HookspecMarker("avatarkit")
hookimpl = pluggy.HookimplMarker("avatarkit")


@hookspec
def register_brains(register: Register) -> None:
    """Call ``register(BrainClass)`` for each Brain this plugin provides."""


@hookspec
def register_faces(register: Register) -> None:
    """Call ``register(FaceClass)`` for each Face this plugin provides."""


@hookspec
def register_stt(register: Register) -> None:
    """Call ``register(ProviderClass)`` for each speech-to-text provider (an
    :class:`avatarkit.speech.STTProvider`) this plugin provides."""


@hookspec
def register_llm(register: Register) -> None:
    """Call ``register(ProviderClass)`` for each LLM provider (an
    :class:`avatarkit.speech.LLMProvider`) this plugin provides."""


@hookspec
def register_tts(register: Register) -> None:
    """Call ``register(ProviderClass)`` for each text-to-speech provider (an
    :class:`avatarkit.speech.TTSProvider`) this plugin provides."""
