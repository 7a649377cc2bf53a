"""Offline turn latency: the demo's per-stage table, before/after, in one run.

Runs `avatarkit demo`'s code path in process (local brain, local face, file transport)
with N spoken questions per session. By default it runs two configurations of the same
code in alternating rounds, so both see the same machine load:

- ``before``: ``fast_turns=false`` and whisper's own 30 s window, greedy (LiveKit's
  defaults: whisper runs after the VAD's silence window, 0.5 s endpointing delay, no
  preemptive TTS);
- ``after-30s``: fast turns (whisper from the first silence, no extra endpointing wait,
  preemptive TTS, a short first TTS chunk: see docs/performance.md) with whisper's 30 s
  window, greedy (the defaults until the 15 s window with beam search);
- ``after``: the defaults (fast turns; whisper on a 15 s window with a beam of 5).

It prints each stage's median per configuration and their ratio, the load average, and
writes ``benchmarks/results/offline_turn-<label>.json``; ``--chart`` draws the per-stage
medians of every results file given (PNG, matplotlib).
Target: speech end -> first avatar frame <= 1.0 s (median) on a 2-core machine.

    python benchmarks/offline_turn.py [--turns 5] [--rounds 2] [--only after] [--label NAME]
                                      [--chart docs/images/turn-latency.png RESULT.json...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What colour is the sky on a clear day?",
    "Name a fruit that is yellow.",
    "What is two plus two?",
    "Which ocean is the largest?",
    "What do bees make?",
]
GREEDY_30S = ["stt_window=30", "stt_beam=1"]
CONFIGS = {"before": ["fast_turns=false", *GREEDY_30S], "after-30s": GREEDY_30S, "after": []}
RESULTS = Path(__file__).resolve().parent / "results"
MEASURED = "measured at the output"


def run_config(name: str, opts: list[str], turns: int, brain: str, face: str) -> dict[str, Any]:
    """One demo session of ``turns`` questions; per-stage values per turn."""
    from avatarkit.config import load_config
    from avatarkit.demo import run_demo
    from avatarkit.report import TURN_STAGES

    asks = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(load_config(brain=brain, face=face, brain_opts=opts), asks=asks,
                          output=Path(tmp) / "bench.mp4")
    stages: dict[str, list[float | None]] = {
        label: [t.latencies.get(key) for t in result.report.turns] for label, key in TURN_STAGES}
    stages[MEASURED] = list(result.measured)
    heard = [t.heard for t in result.report.turns]
    return {"config": name, "options": opts, "stages": stages, "heard": heard, "asked": asks,
            "load": [load0, os.getloadavg()[0]]}


def merge(runs: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Every turn's value of each stage over ``runs``, Nones dropped."""
    out: dict[str, list[float]] = {}
    for run in runs:
        for label, values in run["stages"].items():
            out.setdefault(label, []).extend(v for v in values if v is not None)
    return out


def medians(stages: dict[str, list[float]]) -> dict[str, float | None]:
    return {k: (statistics.median(v) if v else None) for k, v in stages.items()}


def print_side_by_side(results: dict[str, dict[str, Any]]) -> None:
    names = list(results)
    labels = list(next(iter(results.values()))["median"])
    header = f"{'stage (median s)':<36}" + "".join(f"{n:>10}" for n in names)
    ratios = [n for n in names[1:]] if names[0] == "before" else []
    header += "".join(f"{n + '/before':>18}" for n in ratios)
    print(header)
    for label in labels:
        values = [results[n]["median"].get(label) for n in names]
        row = f"{label:<36}" + "".join(f"{'-' if v is None else f'{v:.3f}':>10}" for v in values)
        for v in values[1:] if ratios else ():
            row += f"{v / values[0]:>17.2f}x" if values[0] and v is not None else f"{'-':>18}"
        print(row)
    for n in names:
        print(f"{n}: {results[n]['turns']} turns, load avg {results[n]['load']}, heard: "
              + "; ".join(dict.fromkeys(results[n]["heard"])))


def chart(path: Path, files: list[Path]) -> None:
    """Grouped bars: per-stage median of each results file (its label in the legend)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chart import bar_chart

    data = [json.loads(f.read_text()) for f in files]
    stages = [k for k in data[0]["median"] if k != MEASURED]
    used = bar_chart(path, "avatarkit demo: per-stage turn latency, local brain + local face, "
                     "2 shared cores (dotted: the 1.0 s target)", stages,
                     {d["label"]: [d["median"].get(k) or 0.0 for k in stages] for d in data},
                     line=1.0)
    print(f"wrote {path} ({used})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=5, help="questions per session")
    parser.add_argument("--rounds", type=int, default=1, help="sessions per configuration")
    parser.add_argument("--only", choices=list(CONFIGS), action="append",
                        help="run only these configurations (default: all)")
    parser.add_argument("--label", default=None, help="results file suffix (default: config)")
    parser.add_argument("--brain", default="local")
    parser.add_argument("--face", default="local")
    parser.add_argument("--chart", type=Path, help="draw this PNG from the results files given")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    if args.chart:
        chart(args.chart, args.files)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    names = args.only or list(CONFIGS)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for name in names:
            runs[name].append(run_config(name, CONFIGS[name], args.turns, args.brain, args.face))
    RESULTS.mkdir(exist_ok=True)
    results = {}
    for name in names:
        stages = merge(runs[name])
        label = (args.label if len(names) == 1 else f"{args.label}-{name}") if args.label else name
        results[name] = {
            "label": label, "turns": len(stages.get(MEASURED, [])), "median": medians(stages),
            "values": stages, "heard": [h for r in runs[name] for h in r["heard"]],
            "load": [round(x, 2) for r in runs[name] for x in r["load"]],
            "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        (RESULTS / f"offline_turn-{label}.json").write_text(json.dumps(results[name], indent=1))
    print(f"offline turn, brain={args.brain} face={args.face}, {os.cpu_count()} cores")
    print_side_by_side(results)
    print("target: speech end -> first avatar frame <= 1.0 s (median)")


def machine() -> dict[str, Any]:
    """CPU model, core count, Python: what the figures ran on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": sys.version.split()[0]}


if __name__ == "__main__":
    main()
