"""How well and how fast whisper hears, per encoder window and beam size, in one run.

41 sentences (the turn benchmark's 7 questions and 34 more) in 6 voices: Piper at length
scales 1.0 (twice: Piper samples its prosody), 1.2 and 0.85, and espeak-ng at 175 and 210
words per minute. Each utterance (with 0.2 s of silence either side) is transcribed in one
batch by every configuration, one after the other, so all see the same machine. Prints the
word error rate per configuration and voice, and the median time, against the first
configuration (the baseline: whisper's own 30 s window, greedy).

A configuration is ``WINDOWbBEAM``: ``30b1`` is faster-whisper's path (30 s window,
greedy); ``15b5`` a 15 s window with beam search of 5 (the ``local`` brain's default).

    python benchmarks/stt_window_accuracy.py [--configs 30b1,15b1,15b5,30b5] [--show]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from offline_turn import QUESTIONS  # noqa: E402 - the turn benchmark's questions
from stt_accuracy import errors, words  # noqa: E402 - the same word error count

MORE = [
    "Can you tell me a joke about computers?", "I would like to book a table for two tonight.",
    "What time does the train to London leave?", "My name is Sarah and I live in Boston.",
    "How do I reset my password?", "Please turn off the lights in the kitchen.",
    "Why is the ocean salty?", "Tell me something interesting about elephants.",
    "What should I cook for dinner tomorrow?", "How far away is the moon from the earth?",
    "Could you speak a little more slowly, please?",
    "I think the meeting was moved to Thursday afternoon.",
    "What is the weather going to be like this weekend?",
    "Who wrote the novel Pride and Prejudice?", "Remind me to call my mother at six o'clock.",
    "How many minutes are there in a day?", "Is it safe to swim after eating?",
    "What's the difference between a virus and bacteria?",
    "Recommend a good book for a long flight.", "Thanks, that was really helpful.",
    "Where is the nearest pharmacy?", "Can you spell the word necessary?",
    "What year did the first person walk on the moon?", "Turn the volume up a little.",
    "How long should I boil an egg?", "What does a carpenter do?",
    "Play some relaxing music for me.", "Is there a bus to the airport this evening?",
    "How many players are on a football team?", "Explain how a rainbow forms.",
    "Set a timer for ten minutes.", "Which planet is closest to the sun?",
    "What is the opposite of generous?", "Goodbye, talk to you tomorrow.",
]
RATE = 16000


def to_16k(pcm: np.ndarray, rate: int) -> np.ndarray:
    """int16 PCM at ``rate`` -> float32 16 kHz with 0.2 s of silence either side."""
    n = int(len(pcm) * RATE / rate)
    x = np.interp(np.arange(n) / RATE, np.arange(len(pcm)) / rate, pcm.astype(np.float32))
    pad = np.zeros(RATE // 5, np.float32)
    return np.concatenate([pad, (x / 32768).astype(np.float32), pad])


def piper(length_scale: float) -> Callable[[str], np.ndarray]:
    from piper import SynthesisConfig

    from avatarkit.engines.piper_tts import load_piper_voice

    def speak(text: str) -> np.ndarray:
        chunks = list(load_piper_voice().synthesize(
            text, syn_config=SynthesisConfig(length_scale=length_scale)))
        pcm = np.concatenate([c.audio_int16_array for c in chunks])
        return to_16k(pcm, chunks[0].sample_rate)
    return speak


def espeak(wpm: int) -> Callable[[str], np.ndarray]:
    from avatarkit.engines import assets

    def speak(text: str) -> np.ndarray:
        wav = subprocess.run([str(assets.espeak_binary()), "-s", str(wpm), "--stdout", text],
                             check=True, capture_output=True).stdout
        return to_16k(np.frombuffer(wav[44:], dtype=np.int16), 22050)
    return speak


VOICES = {"piper": piper(1.0), "piper-again": piper(1.0), "piper-slow": piper(1.2),
          "piper-fast": piper(0.85), "espeak": espeak(175), "espeak-fast": espeak(210)}


def transcriber(config: str) -> Callable[[np.ndarray], str]:
    """``WINDOWbBEAM`` -> audio -> text, through :class:`WhisperSTT` (the brain's path)."""
    from avatarkit.engines.whisper_stt import WhisperSTT

    window, _, beam = config.partition("b")
    stt = WhisperSTT(window=float(window), beam_size=int(beam or 1))
    return lambda audio: stt._transcribe(audio, "en")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="30b1,15b1,15b5,30b5",
                        help="comma-separated WINDOWbBEAM; the first is the baseline")
    parser.add_argument("--show", action="store_true", help="print every misheard utterance")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from avatarkit.engines.whisper_stt import load_whisper_model

    configs = args.configs.split(",")
    run = {c: transcriber(c) for c in configs}
    load_whisper_model()
    sentences = [*QUESTIONS, *MORE]
    errs = {(c, v): 0 for c in configs for v in VOICES}
    times: dict[str, list[float]] = {c: [] for c in configs}
    total_words = 0
    load0 = os.getloadavg()
    for voice, speak in VOICES.items():
        for sentence in sentences:
            audio = speak(sentence)
            total_words += len(words(sentence))
            for config in configs:
                t0 = time.perf_counter()
                heard = run[config](audio)
                times[config].append(time.perf_counter() - t0)
                errs[config, voice] += errors(sentence, heard)
                if args.show and errors(sentence, heard):
                    print(f"  {config} {voice}: {sentence!r} -> {heard!r}")
    base = configs[0]
    print(f"{len(VOICES) * len(sentences)} utterances, {total_words} words; load avg (1 min) "
          f"{load0[0]:.2f} -> {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
    print(f"{'config':8s} {'WER':>7s} {'errors':>7s} {'median s':>9s} {'time/base':>9s}  "
          + " ".join(f"{v:>11s}" for v in VOICES))
    base_time = statistics.median(times[base])
    for config in configs:
        total = sum(errs[config, v] for v in VOICES)
        median = statistics.median(times[config])
        print(f"{config:8s} {total / total_words:7.2%} {total:7d} {median:9.3f} "
              f"{median / base_time:8.2f}x  "
              + " ".join(f"{errs[config, v]:11d}" for v in VOICES))


if __name__ == "__main__":
    main()
