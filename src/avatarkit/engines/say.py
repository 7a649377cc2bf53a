"""Speak a sentence offline into 16 kHz samples (``avatarkit demo --ask``)."""

from __future__ import annotations

import subprocess
from typing import Any

from ..redact import child_env
from . import assets
from .tts_select import resolve_tts

RATE = 16000
SEED = 0  # speak_16k's default: the same rendering of a text in every run


def speak_16k(text: str, *, seed: int | None = SEED) -> Any:
    """``text`` spoken by Piper (else espeak-ng), as 16 kHz mono int16 samples with 0.2 s
    of silence either side.

    Piper varies its prosody at random. With a ``seed`` (the default) the same text gives
    the same samples in every run, so a demo, a test or a benchmark hears the same question
    each time; ``seed=None`` keeps the variation (a new rendering on each call).
    """
    import numpy as np

    if resolve_tts() == "piper":
        from .piper_tts import load_piper_voice, seeded_piper_voice

        voice = load_piper_voice() if seed is None else seeded_piper_voice(seed)
        chunks = list(voice.synthesize(text))
        pcm = np.concatenate([c.audio_int16_array for c in chunks]) if chunks else np.zeros(0)
        rate = chunks[0].sample_rate if chunks else RATE
    else:
        binary = assets.espeak_binary()
        wav = subprocess.run([str(binary), "--stdout", text], check=True,
                             capture_output=True, env=child_env()).stdout
        pcm, rate = np.frombuffer(wav[44:], dtype=np.int16), 22050
    n = int(len(pcm) * RATE / rate)
    resampled = np.interp(np.arange(n) / RATE, np.arange(len(pcm)) / rate,
                          pcm.astype(np.float32)).astype(np.int16)
    pad = np.zeros(RATE // 5, dtype=np.int16)
    return np.concatenate([pad, resampled, pad])
