"""Does transcribing from the first silence hear as well as transcribing after the turn?

For each question, Piper speaks it (a new synthesis each time: Piper samples its prosody),
the audio is fed in real time through whisper's early-transcribing stream (the ``local``
brain's way) and the same audio is transcribed in one batch (what LiveKit's STT adapter
does after the VAD's silence window), both on whisper's 30 s window, greedy, plus the
``local`` brain's default: a 15 s window with a beam of 5 (``stt_window_accuracy.py``
compares windows and beams over more voices). Prints the word error rate of each against
the question's text, and how often the early transcript differs from the batch one.

    python benchmarks/stt_accuracy.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from offline_turn import QUESTIONS  # noqa: E402 - the same questions as the turn benchmark

SAME = {"colour": "color", "two": "2", "six": "6", "ten": "10"}  # whisper writes numbers as digits


def words(text: str) -> list[str]:
    return [SAME.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower())]


def errors(ref: str, hyp: str) -> int:
    """Word-level edit distance."""
    r, h = words(ref), words(hyp)
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, row = row, [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return row[len(h)]


async def main_async(repeats: int) -> None:
    from avatarkit.engines.say import speak_16k
    from avatarkit.engines.vad import load_vad
    from avatarkit.engines.whisper_stt import WhisperSTT, load_whisper_model
    from test_early_stt import frames_of, stream_events

    load_whisper_model()
    vad = load_vad(0.35)
    totals = {"early (30 s window)": 0, "batch (30 s window)": 0, "batch (15 s, beam 5)": 0}
    ref_words = differ = used = 0
    for question in QUESTIONS:
        for _ in range(repeats):
            samples = speak_16k(question, seed=None)  # a new rendering each repeat
            early_stt = WhisperSTT(vad=vad)
            events = await stream_events(early_stt, samples)
            early = " ".join(e.alternatives[0].text for e in events if e.alternatives)
            used += early_stt.last_stream.speculations_used  # type: ignore[union-attr]
            batch = (await WhisperSTT().recognize(frames_of(samples))).alternatives[0].text
            short = (await WhisperSTT(window=15.0, beam_size=5).recognize(
                frames_of(samples))).alternatives[0].text
            for name, text in zip(totals, (early, batch, short)):
                totals[name] += errors(question, text)
            ref_words += len(words(question))
            differ += words(early) != words(batch)
            if words(early) != words(batch):
                print(f"  differ: early {early!r} / batch {batch!r}")
    n = len(QUESTIONS) * repeats
    print(f"{n} spoken questions ({ref_words} words); load avg {os.getloadavg()[0]:.2f}")
    for name, errs in totals.items():
        print(f"  {name:<22} word error rate {errs / ref_words:6.1%} ({errs} errors)")
    print(f"  early transcript used (no re-run at the end): {used} of {n}; "
          f"early != batch: {differ} of {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    asyncio.run(main_async(args.repeats))


if __name__ == "__main__":
    main()
