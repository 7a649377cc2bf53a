"""Offline speech-to-text: faster-whisper with the packaged ``tiny.en`` model.

:class:`WhisperSTT` without a VAD is a non-streaming ``stt.STT``: ``AgentSession`` wraps it
with the session's VAD (``stt.StreamAdapter``), so each VAD-detected utterance is
transcribed once its silence window has passed. Given a VAD, it streams
(:class:`~avatarkit.engines.early_stt.EarlyTranscribeStream`): whisper starts on the
utterance at the first silence, so the transcript is (nearly) ready when the VAD ends the
turn. ``window`` below 30 s transcribes short turns on a shorter encoder window
(:mod:`~avatarkit.engines.whisper_window`: about twice as fast).
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from livekit import rtc
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from ..progress import loading
from . import assets

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from livekit.agents.vad import VAD

SAMPLE_RATE = 16000
_models_lock = threading.Lock()


def load_whisper_model(path: str | Path | None = None, *, cpu_threads: int = 2) -> WhisperModel:
    """The faster-whisper model at ``path`` (default: packaged tiny.en), loaded once per process.

    CPU, int8. Thread-safe: concurrent first calls load it once.
    """
    model_path = str(Path(path) if path is not None else assets.whisper_model_path())
    with _models_lock:
        return _load_model(model_path, cpu_threads, packaged=path is None)


# CTranslate2's OpenMP threads busy-wait for work between parallel regions before they
# sleep (libgomp's default spin count). On 2 cores shared with the renderer, the VAD and
# Piper, that spinning takes the cores the others need: "passive" makes an idle thread
# sleep at once. Measured: whisper on a 2.4 s question 0.528 -> 0.467 s with one other busy
# core, 0.403 -> 0.372 s on idle cores; in the demo, see docs/performance.md. libgomp reads
# it once, when CTranslate2 is first imported; a value the user set is kept.
OPENMP_WAIT_POLICY = "PASSIVE"


@functools.cache
def _load_model(model_path: str, cpu_threads: int, *, packaged: bool) -> WhisperModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)
    with loading("whisper tiny.en" if packaged else f"whisper {model_path}"):
        from faster_whisper import WhisperModel

        model = WhisperModel(model_path, device="cpu", compute_type="int8",
                             cpu_threads=cpu_threads)
        # the first transcription pays one-off costs: pay them now, not on the
        # user's first turn (measured: 0.86 s cold vs 0.39 s warm, 1.9 s of speech)
        list(model.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32),
                              beam_size=1, without_timestamps=True)[0])
    return model


def _to_mono_16k(buffer: utils.AudioBuffer) -> np.ndarray:
    """Merge frames and return float32 mono samples at 16 kHz in [-1, 1]."""
    frame = rtc.combine_audio_frames(buffer) if isinstance(buffer, list) else buffer
    if frame.samples_per_channel == 0:
        return np.zeros(0, dtype=np.float32)
    if frame.sample_rate != SAMPLE_RATE:
        resampler = rtc.AudioResampler(frame.sample_rate, SAMPLE_RATE,
                                       num_channels=frame.num_channels)
        frames = resampler.push(frame) + resampler.flush()
        if not frames:
            return np.zeros(0, dtype=np.float32)
        frame = rtc.combine_audio_frames(frames)
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
    if frame.num_channels > 1:
        samples = samples.reshape(-1, frame.num_channels).mean(axis=1)
    return samples


class WhisperSTT(stt.STT):
    """faster-whisper speech-to-text (non-streaming; the session adds VAD segmentation).

    ``language`` is passed to multilingual models; English-only models (``*.en``, the
    packaged one) always transcribe English. ``beam_size=1`` (greedy) is the fastest;
    beam search (5) hears tiny.en's hard cases (fast or robotic speech) much better
    (``benchmarks/stt_window_accuracy.py``). ``window`` below 30 s: see the module doc.
    """

    def __init__(
        self,
        *,
        language: str = "en",
        model_path: str | Path | None = None,
        cpu_threads: int = 2,
        beam_size: int = 1,
        vad: VAD | None = None,
        window: float = 30.0,
    ) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=vad is not None,
                                                          interim_results=False))
        self._language = language
        self._model_path = model_path
        self._cpu_threads = cpu_threads
        self._beam_size = beam_size
        self._vad = vad
        self._window = window
        self.last_stream: stt.RecognizeStream | None = None  # for tests and benchmarks

    @property
    def model(self) -> str:
        return Path(str(self._model_path)).name if self._model_path else "whisper-tiny.en"

    @property
    def provider(self) -> str:
        return "faster-whisper"

    @property
    def window(self) -> float:
        """Encoder window in seconds for turns that fit in it (30: whisper's own)."""
        return self._window

    @property
    def beam_size(self) -> int:
        """Beam search width (1: greedy)."""
        return self._beam_size

    def prewarm(self) -> None:
        """Load the model now (blocking) instead of on the first utterance."""
        load_whisper_model(self._model_path, cpu_threads=self._cpu_threads)

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        """With a VAD: a stream that transcribes each utterance from its first silence."""
        if self._vad is None:
            return super().stream(language=language, conn_options=conn_options)
        from .early_stt import EarlyTranscribeStream

        self.last_stream = EarlyTranscribeStream(self, vad=self._vad, language=language,
                                                 conn_options=conn_options)
        return self.last_stream

    def _transcribe(self, audio: np.ndarray, language: str) -> tuple[str, float, str]:
        model = load_whisper_model(self._model_path, cpu_threads=self._cpu_threads)
        if self._window < 30.0:
            from .whisper_window import transcribe_short

            short = transcribe_short(model, audio, language, window=self._window,
                                     beam_size=self._beam_size)
            if short is not None:
                return short
        multilingual = bool(model.model.is_multilingual)
        segments, info = model.transcribe(
            audio,
            language=language if multilingual else "en",
            beam_size=self._beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        texts: list[str] = []
        logprobs: list[float] = []
        for seg in segments:
            # whisper's own rule for "this segment is silence, not words"
            if seg.no_speech_prob > 0.6 and seg.avg_logprob < -1.0:
                continue
            texts.append(seg.text.strip())
            logprobs.append(seg.avg_logprob)
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        return " ".join(t for t in texts if t), min(confidence, 1.0), str(info.language)

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        lang = language if utils.is_given(language) else self._language
        audio = _to_mono_16k(buffer)
        duration = len(audio) / SAMPLE_RATE
        text, confidence, detected = "", 0.0, lang
        if len(audio):
            text, confidence, detected = await asyncio.to_thread(self._transcribe, audio, lang)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=utils.shortuuid(),
            alternatives=[
                stt.SpeechData(language=LanguageCode(detected or lang), text=text, start_time=0.0,
                               end_time=duration, confidence=confidence)
            ],
        )
