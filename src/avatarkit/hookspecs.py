"""The pluggy hooks a plugin implements. Project name: ``avatarkit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("avatarkit")
hookimpl = pluggy.HookimplMarker("avatarkit")


@hookspec
def register_brains(register: Callable[[type[Any]], None]) -> None:
    """Call ``register(BrainClass)`` for each Brain this plugin provides."""


@hookspec
def register_faces(register: Callable[[type[Any]], None]) -> None:
    """Call ``register(FaceClass)`` for each Face this plugin provides."""


@hookspec
def register_stt(register: Callable[[type[Any]], None]) -> None:
    """Call ``register(ProviderClass)`` for each speech-to-text provider (an
    :class:`avatarkit.speech.STTProvider`) this plugin provides."""


@hookspec
def register_llm(register: Callable[[type[Any]], None]) -> None:
    """Call ``register(ProviderClass)`` for each LLM provider (an
    :class:`avatarkit.speech.LLMProvider`) this plugin provides."""


@hookspec
def register_tts(register: Callable[[type[Any]], None]) -> None:
    """Call ``register(ProviderClass)`` for each text-to-speech provider (an
    :class:`avatarkit.speech.TTSProvider`) this plugin provides."""
