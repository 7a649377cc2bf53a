"""Whisper on a short encoder window: a spoken turn of a few seconds transcribed ~2x faster
(the ``local`` brain's default ``stt_window=15``, with beam search: ``stt_beam=5``).

faster-whisper always pads the log-mel features to whisper's 30 s window, so the encoder
costs the same for a 2 s question as for 30 s of speech (~0.35 s of tiny.en on 2 cores).
CTranslate2's encoder accepts a shorter window: at 15 s a question takes less than half
the time. Whisper was trained on 30 s windows, and greedy decoding on a 15 s window can
mishear more often; with beam search (5) it hears better than greedy on 30 s: word error
rate over 246 utterances in 6 voices 5.2% (15 s, beam 5) against 7.5% (30 s, greedy), in
0.54x the time (``benchmarks/stt_window_accuracy.py``; two smaller runs agreed).
10 s windows change words often, and windows barely longer than the audio make whisper
repeat itself.

:func:`transcribe_short` uses such a window for audio that leaves :data:`MIN_PADDING` s
of it free, and returns ``None`` for longer audio, or when the text repeats itself (whisper's
own compression-ratio rule): the caller then uses faster-whisper's full path, with its
temperature fallback. No timestamps; whisper's own silence rule.
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16000
WINDOW_SECONDS = 15.0  # default short window: 1500 mel frames instead of 3000
MIN_PADDING = 5.0  # seconds of padding kept after the audio, else: the full window
MAX_NEW_TOKENS = 120  # a spoken turn of <= 10 s is far shorter; stops a runaway decode
MAX_COMPRESSION_RATIO = 2.4  # whisper's threshold for "the decoder is looping"


def transcribe_short(model: WhisperModel, audio: np.ndarray, language: str = "en", *,
                     window: float = WINDOW_SECONDS, beam_size: int = 1,
                     ) -> tuple[str, float, str] | None:
    """(text, confidence, language) of ``audio`` (float32, 16 kHz mono) on a ``window``
    seconds encoder window, or ``None`` when the audio is longer than the window less
    :data:`MIN_PADDING` or the decoder looped. ``beam_size`` 1 is greedy."""
    if len(audio) > (window - MIN_PADDING) * SAMPLE_RATE or len(audio) == 0:
        return None
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

    frames = int(window * SAMPLE_RATE) // model.feature_extractor.hop_length
    features = model.feature_extractor(audio)[:, :frames]
    padded = np.zeros((features.shape[0], frames), dtype=np.float32)
    padded[:, : features.shape[1]] = features
    multilingual = bool(model.model.is_multilingual)
    lang = language if multilingual else "en"
    tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe",
                          language=lang if multilingual else None)
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    encoded = model.model.encode(get_ctranslate2_storage(padded[None]), to_cpu=False)
    result = model.model.generate(
        encoded, [prompt], beam_size=beam_size, max_length=MAX_NEW_TOKENS, return_scores=True,
        return_no_speech_prob=True, suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(tokenizer, (-1,)) or ()),
    )[0]
    tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
    avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    # whisper's own rule for "this is silence, not words" (as in WhisperSTT)
    if result.no_speech_prob > 0.6 and avg_logprob < -1.0:
        return "", 0.0, lang
    text = tokenizer.decode(tokens).strip()
    if compression_ratio(text) > MAX_COMPRESSION_RATIO:
        return None
    return text, min(math.exp(avg_logprob), 1.0), lang


def compression_ratio(text: str) -> float:
    """How well ``text`` compresses: above ~2.4 it is a loop, not speech."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0
