"""Offline turn latency: the demo's per-stage table over N turns (default 5).

Runs `avatarkit demo`'s code path in process (local brain, local face, file transport)
with N spoken questions in one session, and prints each stage's per-turn value and median.
Target: speech end -> first avatar frame under 1.5 s on a 2-core machine.

    python benchmarks/offline_turn.py [--turns 5] [--brain local] [--face local]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What colour is the sky on a clear day?",
    "Name a fruit that is yellow.",
    "What is two plus two?",
    "Which ocean is the largest?",
    "What do bees make?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--brain", default="local")
    parser.add_argument("--face", default="local")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from avatarkit.config import load_config
    from avatarkit.demo import latency_table, run_demo

    asks = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.turns)]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(load_config(brain=args.brain, face=args.face), asks=asks,
                          output=Path(tmp) / "bench.mp4")
    print(f"{len(result.report.turns)} turns, brain={args.brain}, face={result.report.face}, "
          f"{os.cpu_count()} cores")
    print(latency_table(result.report, result.measured))
    print("target: speech end -> first avatar frame (and measured at the output) < 1.5 s")


if __name__ == "__main__":
    main()
