"""Playground turn latency: end of speech at the browser's mic -> first avatar frame shown.

Runs the playground in process (same code as ``avatarkit playground``), drives headless
Debian Chromium (Playwright) whose fake mic says the bundled question N times, and prints
per turn:

- page: speech end at the page's mic (WebAudio level) -> first video frame presented
  (``requestVideoFrameCallback``) once the agent's voice is audible; and -> agent audio;
- server: speech end in the received mic audio -> first video frame released to aiortc
  with the reply's audio;
- the session's own turn records (end of turn, STT, LLM first token, TTS first audio,
  speech end -> agent audio, face first frame);
- the first turn against the median of the later (warm) ones: the page is opened while the
  server is still getting ready (models load in the background, as ``avatarkit
  playground`` does), and Start is pressed as soon as the page enables it.

    python benchmarks/playground_latency.py [--turns 3] [--gap 25] [--face-opt KEY=VALUE]

Figures, not assertions: on a busy 2-core machine they vary a lot (load is printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.browser.harness: Chromium flags, fake mic, loop thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--gap", type=float, default=25.0, help="seconds between questions")
    parser.add_argument("--brain", default="local")
    parser.add_argument("--face", default="local")
    parser.add_argument("--face-opt", action="append", default=[])
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from playwright.sync_api import sync_playwright
    from tests.browser.harness import LoopThread, launch, make_fake_mic

    from avatarkit.composer import Composer, make_plan
    from avatarkit.config import load_config
    from avatarkit.playground.server import PlaygroundServer

    plan = make_plan(load_config(brain=args.brain, face=args.face, face_opts=args.face_opt))
    server = PlaygroundServer(plan, port=0)
    Composer(plan).import_plugins()  # on the main thread (LiveKit's rule), as the CLI does
    loop = LoopThread()
    url = loop.run(server.start())
    getting_ready = loop.call(server.prewarm_in_background)
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="avatarkit-bench-"))
    wav = make_fake_mic(tmp / "mic.wav", lead=3.0, repeat=args.turns, gap=args.gap, tail=30)
    timeout = 3.0 + args.turns * (args.gap + 3) + 60
    with sync_playwright() as pw:
        context = launch(pw, tmp / "profile", wav)
        page = context.new_page()
        t_open = time.monotonic()
        page.goto(url)
        shown = page.evaluate("() => !document.getElementById('getting-ready').hidden")
        page.click("#start", timeout=300_000)  # enabled once the server is ready
        print(f"page opened -> Start enabled: {time.monotonic() - t_open:.1f} s "
              f"(\"getting ready\" shown: {shown}; prewarm done: {getting_ready.done()})")
        page.wait_for_function(f"() => window.avatarkit.stats.turns.length >= {args.turns}",
                               timeout=timeout * 1000)
        time.sleep(1.0)
        stats = page.evaluate("window.avatarkit.stats")
        status = loop.call(lambda: [p.transport.status() for p in server.peers.values()])[0]
        context.close()
    loop.run(server.stop())
    loop.close()
    report(stats, status, load0, os.getloadavg(), args)


def report(stats: dict[str, Any], status: dict[str, Any], load0: Any, load1: Any,
           args: argparse.Namespace) -> None:
    turns = stats["turns"][: args.turns]
    replies = [r for r in stats["replies"] if r.get("frameAt")][: args.turns]
    timings = [t for t in status["timings"] if t.get("first_frame")][: args.turns]
    rows: list[tuple[str, list[float | None]]] = [
        ("page: speech end -> first avatar frame shown",
         [(r["frameAt"] - r["speechEnd"]) / 1000 for r in replies]),
        ("page: speech end -> agent audio heard",
         [(r["audioAt"] - r["speechEnd"]) / 1000 for r in replies]),
        ("server: speech end -> first reply frame sent",
         [t["speech_end_to_first_frame"] for t in timings]),
    ]
    for label, key in (("session: speech end -> turn end", "end_of_turn_delay"),
                       ("session: speech end -> transcript", "transcription_delay"),
                       ("session: LLM first token", "llm_node_ttft"),
                       ("session: TTS first audio", "tts_node_ttfb"),
                       ("session: speech end -> agent audio", "e2e_latency"),
                       ("session: agent audio -> first avatar frame", "face_first_frame")):
        rows.append((label, [t["latencies"].get(key) for t in turns]))
    print(f"playground turn latency, brain={args.brain} face={args.face} "
          f"{' '.join(args.face_opt)}; {len(turns)} turns; load avg {load0[0]:.2f} -> "
          f"{load1[0]:.2f} on {os.cpu_count()} cores")
    width = max(len(label) for label, _ in rows)
    print(" " * width + "".join(f"  turn {i + 1:<4}" for i in range(len(turns))) + "  median")
    for label, values in rows:
        cells = "".join(f"  {'-' if v is None else f'{v:.3f}':<9}" for v in values)
        present = [v for v in values if v is not None]
        median = f"{statistics.median(present):.3f}" if present else "-"
        print(f"{label:<{width}}{cells}  {median}")
    for t in turns:
        print(f"  turn {t['index']}: heard {t['heard']!r} -> answered {t['answered'][:70]!r}")
    for label, values in rows[:3]:
        present = [v for v in values if v is not None]
        if len(present) >= 2 and values[0] is not None:
            warm = statistics.median(present[1:])
            print(f"first turn / warm turns ({label}): {values[0]:.3f} / {warm:.3f} = "
                  f"{values[0] / warm:.2f} (target <= 1.20)")


if __name__ == "__main__":
    main()
