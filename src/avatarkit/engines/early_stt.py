"""Transcribe the user's turn while the VAD is still waiting for it to end.

LiveKit's ``stt.StreamAdapter`` runs a non-streaming STT on each VAD segment only after
the VAD's end of speech, i.e. after the whole silence window (0.35 s here) has passed:
the transcript then comes silence window + whisper time after the user stopped.
:class:`EarlyTranscribeStream` is the same VAD segmentation, but starts whisper on the
speech so far as soon as the first ~60 ms of silence are seen. If nothing voiced follows
before the VAD ends the segment, that transcript is the segment's final transcript (it
covers every voiced sample); if the user goes on speaking (the VAD hears speech again, or
the audio after the cut is louder than a tenth of the segment's peak: a soft consonant the
VAD took for silence), it is dropped and the segment is transcribed again at its end,
exactly as the adapter would. Only the whisper time that is
left after the silence window delays the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from livekit import rtc
from livekit.agents import stt, utils
from livekit.agents.stt.stream_adapter import DEFAULT_STREAM_ADAPTER_API_CONNECT_OPTIONS
from livekit.agents.types import APIConnectOptions, NotGivenOr
from livekit.agents.vad import VAD, VADEventType

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

EARLY_AFTER = 0.06  # seconds of quiet before a speculative transcription starts
QUIET_PROBABILITY = 0.35  # Silero's default deactivation threshold (activation 0.5 - 0.15)
VOICED_SHARE = 0.1  # a window louder than this share of the segment's peak is speech


class _Speculation:
    """A transcription of the segment's audio so far; invalid once the user speaks on."""

    def __init__(self, task: asyncio.Task[stt.SpeechEvent]) -> None:
        self.task = task
        self.valid = True


class EarlyTranscribeStream(stt.RecognizeStream):
    """VAD-segmented recognition that starts transcribing at the first silence.

    ``recognize`` is the non-streaming STT's ``recognize`` (a coroutine function taking
    ``buffer=`` and ``language=``); events are the adapter's: START_OF_SPEECH,
    END_OF_SPEECH (with ``speech_end_time``), then FINAL_TRANSCRIPT.
    """

    def __init__(self, owner: stt.STT, *, vad: VAD, language: NotGivenOr[str],
                 conn_options: APIConnectOptions, early_after: float = EARLY_AFTER) -> None:
        super().__init__(stt=owner, conn_options=DEFAULT_STREAM_ADAPTER_API_CONNECT_OPTIONS)
        self._owner = owner
        self._vad = vad
        self._language = language
        self._inner_conn = conn_options
        self._early_after = early_after
        self.speculations = 0  # started
        self.speculations_used = 0  # whose transcript became the segment's final

    async def _metrics_monitor_task(self, event_aiter: AsyncIterable[stt.SpeechEvent]) -> None:
        async for _ in event_aiter:  # the wrapped STT's recognize() reports its own metrics
            pass

    async def _recognize(self, frames: list[rtc.AudioFrame]) -> stt.SpeechEvent:
        return await self._owner.recognize(buffer=utils.merge_frames(frames),
                                           language=self._language,
                                           conn_options=self._inner_conn)

    async def _run(self) -> None:
        vad_stream = self._vad.stream()

        async def forward() -> None:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    vad_stream.flush()
                else:
                    vad_stream.push_frame(item)
            vad_stream.end_input()

        tasks = [asyncio.create_task(forward(), name="early-stt-forward"),
                 asyncio.create_task(self._segments(vad_stream), name="early-stt-segments")]
        try:
            await asyncio.gather(*tasks)
        finally:
            await utils.aio.cancel_and_wait(*tasks)
            await vad_stream.aclose()

    async def _segments(self, vad_stream: Any) -> None:
        speech: list[rtc.AudioFrame] = []
        peak = 0.0  # loudest window of the segment (RMS)
        in_speech = False
        quiet = 0.0
        spec: _Speculation | None = None
        try:
            async for ev in vad_stream:
                if ev.type == VADEventType.START_OF_SPEECH:
                    in_speech, quiet, spec = True, 0.0, _drop(spec)
                    speech = list(ev.frames)
                    peak = max((_rms(f) for f in speech), default=0.0)
                    self._event_ch.send_nowait(stt.SpeechEvent(stt.SpeechEventType.START_OF_SPEECH))
                elif ev.type == VADEventType.INFERENCE_DONE and in_speech:
                    speech.extend(ev.frames)
                    level = max((_rms(f) for f in ev.frames), default=0.0)
                    peak = max(peak, level)
                    if ev.probability >= QUIET_PROBABILITY or level > VOICED_SHARE * peak:
                        # still (or again) speaking, or a soft sound the VAD calls silence
                        quiet, spec = 0.0, _drop(spec)
                        continue
                    quiet += sum(f.duration for f in ev.frames)
                    if spec is None and quiet >= self._early_after:
                        self.speculations += 1
                        spec = _Speculation(asyncio.create_task(self._recognize(list(speech))))
                elif ev.type == VADEventType.END_OF_SPEECH:
                    in_speech = False
                    speech_end = time.time() - ev.silence_duration - ev.inference_duration
                    self._event_ch.send_nowait(stt.SpeechEvent(
                        type=stt.SpeechEventType.END_OF_SPEECH, speech_end_time=speech_end))
                    event = await self._final(spec, ev.frames)
                    spec, speech = None, []
                    if event is not None and event.alternatives and event.alternatives[0].text:
                        self._event_ch.send_nowait(stt.SpeechEvent(
                            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                            alternatives=[event.alternatives[0]],
                            speech_end_time=event.speech_end_time or speech_end))
        finally:
            _drop(spec)

    async def _final(self, spec: _Speculation | None,
                     frames: list[rtc.AudioFrame]) -> stt.SpeechEvent | None:
        """The segment's transcript: the speculation's when it still covers every voiced
        sample (it did not fail), else a transcription of the whole segment now."""
        if spec is not None and spec.valid:
            with contextlib.suppress(Exception):
                event = await spec.task
                self.speculations_used += 1
                return event
        return await self._recognize(frames)


def _rms(frame: rtc.AudioFrame) -> float:
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


def _drop(spec: _Speculation | None) -> _Speculation | None:
    """Forget a speculation the user spoke past (its thread finishes on its own)."""
    if spec is not None:
        spec.valid = False
        spec.task.add_done_callback(_consume)
    return None  # the caller's new value for its speculation


def _consume(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a dropped speculation's failure is not an error
