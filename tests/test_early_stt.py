"""Transcribing while the user is still in the silence window: the same words, sooner.

Real Silero VAD and whisper tiny.en on Piper/espeak-ng speech fed in 10 ms frames, as a
session's microphone would; no timing assertions (the machine is shared), only what is
heard and whether the early transcription was the one used.
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import stt

from avatarkit.engines.say import speak_16k
from avatarkit.engines.tts_select import resolve_tts
from avatarkit.engines.vad import load_vad
from avatarkit.engines.whisper_stt import WhisperSTT
from avatarkit.engines.whisper_window import compression_ratio, transcribe_short
from local_helpers import words

pytestmark = pytest.mark.local_extra

os.environ.setdefault("HF_HUB_OFFLINE", "1")
RATE = 16000
# speak_16k's default seed gives the same rendering of each question in every run. Piper's
# random prosody put some questions on a knife edge for tiny.en ("capital of friends", "this
# guy" for "the sky": 6 of 100 random renderings of five sentences were misheard by greedy
# or beam-5 decoding on the 15 s or 30 s window), and these tests failed now and then.
# The fixed renderings of France and spider are far from the edge (0 of 24 misheard with
# -50 dB of noise added or shifted by a few samples); the sky's is not (3 of 24 greedy), and
# whisper's int8 kernels differ by CPU, so the early == full property is tested on the others.
QUESTIONS = ["What is the capital of France?", "How many legs does a spider have?",
             "What colour is the sky on a clear day?"]
STABLE_QUESTIONS = [q for q in QUESTIONS if "sky" not in q]


def frames_of(samples: np.ndarray) -> list[rtc.AudioFrame]:
    step = RATE // 100
    samples = np.concatenate([samples, np.zeros(-len(samples) % step, dtype=np.int16)])
    return [rtc.AudioFrame(samples[i:i + step].tobytes(), RATE, 1, step)
            for i in range(0, len(samples), step)]


async def stream_events(stt_: WhisperSTT, samples: np.ndarray) -> list[stt.SpeechEvent]:
    """Push ``samples`` (with silence around) in real time; every event until the end."""
    stream = stt_.stream()
    audio = np.concatenate([np.zeros(RATE // 2, dtype=np.int16), samples,
                            np.zeros(RATE * 3 // 2, dtype=np.int16)])
    events: list[stt.SpeechEvent] = []

    async def read() -> None:
        async for ev in stream:
            events.append(ev)

    reader = asyncio.create_task(read())
    for frame in frames_of(audio):
        stream.push_frame(frame)
        await asyncio.sleep(0.01)
    stream.end_input()
    await asyncio.wait_for(reader, 60)
    await stream.aclose()
    return events


def trim(samples: np.ndarray) -> np.ndarray:
    """``samples`` without the quiet before and after the words."""
    level = np.abs(samples.astype(np.int32))
    loud = np.flatnonzero(level > 0.05 * level.max())
    return samples[loud[0]:loud[-1] + 1]


@pytest.fixture(scope="module")
def whisper_model() -> object:
    from avatarkit.engines.whisper_stt import load_whisper_model

    return load_whisper_model()


def test_whisper_with_a_vad_streams_and_without_does_not() -> None:
    assert WhisperSTT(vad=load_vad(0.35)).capabilities.streaming
    assert not WhisperSTT().capabilities.streaming


@pytest.mark.parametrize("question", STABLE_QUESTIONS)
async def test_early_transcript_is_the_full_transcript(question: str) -> None:
    """The streamed final transcript has the question's words, and it was the early one."""
    samples = speak_16k(question)
    stt_ = WhisperSTT(vad=load_vad(0.35))
    events = await stream_events(stt_, samples)
    kinds = [ev.type for ev in events]
    assert kinds == [stt.SpeechEventType.START_OF_SPEECH, stt.SpeechEventType.END_OF_SPEECH,
                     stt.SpeechEventType.FINAL_TRANSCRIPT], kinds
    heard = events[-1].alternatives[0].text
    batch = await WhisperSTT().recognize(frames_of(samples))
    assert words(heard) == words(batch.alternatives[0].text), (heard, batch)
    # whisper tiny.en mishears ~5% of words (a dropped "a", "colour" for "color"): the
    # property under test is the line above (early == full); this one only checks it is the
    # question, allowing one word of it missed
    said = {w.replace("colour", "color") for w in words(heard)}
    missed = words(question.replace("colour", "color")) - {"the"} - said
    assert len(missed) <= 1, (heard, missed)
    stream = stt_.last_stream
    assert stream is not None and stream.speculations_used == 1  # type: ignore[attr-defined]


async def test_speech_after_a_pause_is_not_lost() -> None:
    """A pause shorter than the silence window, then more words: the early transcript of
    the first half is dropped and the whole utterance is transcribed."""
    first, second = trim(speak_16k("The capital of France")), trim(speak_16k("is a lovely city"))
    gap = np.zeros(int(RATE * 0.2), dtype=np.int16)  # shorter than the 0.35 s window
    stt_ = WhisperSTT(vad=load_vad(0.35))
    events = await stream_events(stt_, np.concatenate([first, gap, second]))
    finals = [ev.alternatives[0].text for ev in events
              if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
    assert len(finals) == 1, finals
    assert {"france", "lovely", "city"} <= words(finals[0]), finals


@pytest.mark.parametrize("beam_size", [1, 5])
def test_short_window_hears_the_question(whisper_model: object, beam_size: int) -> None:
    """The 15 s window, greedy and with the local brain's beam (not bit-identical to the
    30 s window: see whisper_window)."""
    for question, key in (("What is the capital of France?", {"capital", "france"}),
                          ("How many legs does a spider have?", {"legs", "spider"})):
        audio = speak_16k(question).astype(np.float32) / 32768
        short = transcribe_short(whisper_model, audio,  # type: ignore[arg-type]
                                 beam_size=beam_size)
        assert short is not None and key <= words(short[0]), short


async def test_whisper_stt_uses_the_window_it_is_given() -> None:
    samples = speak_16k("What is the capital of France?")
    heard = await WhisperSTT(window=15.0, beam_size=5).recognize(frames_of(samples))
    assert {"capital", "france"} <= words(heard.alternatives[0].text)


def test_short_window_hands_long_or_looping_audio_to_the_full_path(
        whisper_model: object) -> None:
    long_audio = np.zeros(RATE * 11, dtype=np.float32)
    assert transcribe_short(whisper_model, long_audio) is None  # type: ignore[arg-type]
    assert transcribe_short(whisper_model,  # type: ignore[arg-type]
                            np.zeros(RATE, dtype=np.float32)) == ("", 0.0, "en")
    assert compression_ratio(". " * 60) > 2.4 > compression_ratio("What do bees make?")


def test_seeded_speech_is_the_same_every_time_and_unseeded_is_not() -> None:
    first, again = speak_16k("How many legs?"), speak_16k("How many legs?")
    assert np.array_equal(first, again)
    if resolve_tts() != "piper":
        pytest.skip("espeak-ng speaks the same way every time")
    assert not np.array_equal(speak_16k("How many legs?", seed=1), first)
    assert not np.array_equal(speak_16k("How many legs?", seed=None),
                              speak_16k("How many legs?", seed=None))
