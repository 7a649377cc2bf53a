"""How the bundled SmolLM2 answers at llama.cpp's default sampling, its model card's, and
the model card's with a guard against loops (DRY, as shipped, or a repeat penalty).

Two spoken-style workloads against the real packaged ``llama-server``, through its
OpenAI-compatible API with the agent's default instructions and a 200-token reply cap
(the ``local`` brain's), each conversation kept as LiveKit keeps it (every reply goes back
into the history):

- ``repeat``: the goal-4 playground benchmark's conversation, "What is the capital of
  France?" asked 4 times in a row;
- ``mixed``: 4 of the turn benchmark's 7 questions per conversation, in a shuffled order.

For each sampling it prints the right answers (a keyword per question), reply length in
tokens (median, 90th percentile, max), replies cut off by the cap, and the server's total
time, with the ratio against llama.cpp's defaults run in the same run.

    python benchmarks/llm_sampling.py [--conversations 40] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from offline_turn import QUESTIONS  # noqa: E402 - the turn benchmark's questions

ANSWERS = [("paris",), ("eight", "8"), ("blue",),
           ("banana", "lemon", "pineapple", "mango", "yellow"), ("four", "4"), ("pacific",),
           ("honey",)]
CAP = 200
MODEL = "smollm2"  # the bundled server's alias (engines.llama_server.DEFAULT_ALIAS)
TURNS = 4


def samplings() -> dict[str, dict[str, float]]:
    from avatarkit.engines.llama_server import DEFAULT_ALIAS
    from avatarkit.engines.sampling import RECOMMENDED

    shipped = RECOMMENDED[DEFAULT_ALIAS]
    card = {"temperature": shipped.temperature, "top_p": shipped.top_p}
    return {"llama.cpp defaults (0.8, 0.95)": {},
            "model card (0.2, 0.9)": card,
            "model card + DRY 0.8 (shipped)": {**card, **shipped.extra_body()},
            "model card + repeat pen. 1.1": {**card, "repeat_penalty": 1.1}}


def conversations(workload: str, n: int) -> list[list[int]]:
    """Question indexes of each conversation."""
    if workload == "repeat":
        return [[0] * TURNS for _ in range(n)]
    return [random.Random(c).sample(range(len(QUESTIONS)), TURNS) for c in range(n)]


def ask(base: str, messages: list[dict[str, str]], sampling: dict[str, float]) -> dict[str, Any]:
    body = {"model": MODEL, "messages": messages, "max_tokens": CAP, **sampling}
    req = urllib.request.Request(base + "/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        answer: dict[str, Any] = json.load(resp)
    return answer


def run(base: str, workload: str, n: int, sampling: dict[str, float]) -> dict[str, Any]:
    from avatarkit.config import DEFAULT_INSTRUCTIONS

    right, tokens, seconds, wrong = 0, [], 0.0, []
    for questions in conversations(workload, n):
        messages = [{"role": "system", "content": DEFAULT_INSTRUCTIONS}]
        for q in questions:
            messages.append({"role": "user", "content": QUESTIONS[q]})
            started = time.perf_counter()
            answer = ask(base, messages, sampling)
            seconds += time.perf_counter() - started
            text = answer["choices"][0]["message"]["content"]
            tokens.append(answer["usage"]["completion_tokens"])
            ok = any(k in text.lower() for k in ANSWERS[q])
            right += ok
            if not ok:
                wrong.append(text[:100])
            messages.append({"role": "assistant", "content": text})
    tokens.sort()
    return {"replies": len(tokens), "right": right, "median_tokens": statistics.median(tokens),
            "p90_tokens": tokens[int(0.9 * len(tokens))], "max_tokens": tokens[-1],
            "capped": sum(t >= CAP for t in tokens), "seconds": round(seconds, 2),
            "wrong_examples": wrong[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=40,
                        help="per workload (40: the figures in docs/performance.md)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    from avatarkit.engines.llama_server import ensure_started_sync, shutdown

    base = ensure_started_sync()
    results: dict[str, dict[str, Any]] = {}
    try:
        for workload in ("repeat", "mixed"):
            print(f"\n{workload}: {args.conversations} conversations of {TURNS} turns")
            print(f"  {'sampling':<34}{'right':>9}{'tokens p50/p90/max':>21}{'capped':>8}"
                  f"{'server s':>10}{'ratio':>7}")
            baseline = None
            for name, sampling in samplings().items():
                r = run(base, workload, args.conversations, sampling)
                results[f"{workload}: {name}"] = r
                baseline = baseline or r["seconds"]
                spread = f"{r['median_tokens']:g}/{r['p90_tokens']}/{r['max_tokens']}"
                print(f"  {name:<34}{r['right']:>4}/{r['replies']:<4}{spread:>21}"
                      f"{r['capped']:>8}{r['seconds']:>10.1f}{r['seconds'] / baseline:>7.2f}")
    finally:
        shutdown()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
