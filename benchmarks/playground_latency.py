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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pagebench import (  # noqa: E402 - benchmarks/ is not a package
    PAGE_FRAME,
    SERVER_FRAME,
    BenchError,
    Playground,
    fake_mic,
    machine_line,
    mic_seconds,
    open_page,
    page_stats,
    press_start,
    turn_rows,
    wait_turns,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--gap", type=float, default=25.0, help="seconds between questions")
    parser.add_argument("--brain", default="local")
    parser.add_argument("--face", default="local")
    parser.add_argument("--face-opt", action="append", default=[])
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from tests.browser.harness import launch

    pg = Playground.start(args.brain, args.face, args.face_opt)
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="avatarkit-bench-"))
    wav = fake_mic(tmp, args.turns, args.gap)
    try:
        with sync_playwright() as pw:
            context = launch(pw, tmp / "profile", wav)
            t_open = time.monotonic()
            page = open_page(context, pg.url, "page")
            shown = page.evaluate("() => !document.getElementById('getting-ready').hidden")
            started = press_start(page, ready_timeout=300)  # enabled once the server is ready
            print(f"page opened -> Start enabled: {started - t_open:.1f} s "
                  f"(\"getting ready\" shown: {shown}; ready now: {pg.server.readiness.ready})")
            wait_turns(page, args.turns, started + mic_seconds(args.turns, args.gap) + 60, pg)
            time.sleep(1.0)
            stats = page_stats(page)
            status = pg.statuses().get(stats.get("session"))
            context.close()
    except BenchError as exc:
        sys.exit(f"playground_latency: {exc}")
    finally:
        pg.stop()
    report(stats, status, load0, os.getloadavg(), args)


def report(stats: dict[str, Any], status: dict[str, Any] | None, load0: Any, load1: Any,
           args: argparse.Namespace) -> None:
    rows = turn_rows(stats, status, args.turns)
    turns = stats["turns"][: args.turns]
    print(f"playground turn latency, brain={args.brain} face={args.face} "
          f"{' '.join(args.face_opt)}; {len(turns)} turns; {machine_line(load0, load1)}")
    width = max(len(label) for label, _ in rows)
    print(" " * width + "".join(f"  turn {i + 1:<4}" for i in range(len(turns))) + "  median")
    for label, values in rows:
        cells = "".join(f"  {'-' if v is None else f'{v:.3f}':<9}" for v in values)
        present = [v for v in values if v is not None]
        median = f"{statistics.median(present):.3f}" if present else "-"
        print(f"{label:<{width}}{cells}  {median}")
    for t in turns:
        print(f"  turn {t['index']}: heard {t['heard']!r} -> answered {t['answered'][:70]!r}")
    for label, values in rows:
        if label not in (PAGE_FRAME, SERVER_FRAME):
            continue
        present = [v for v in values if v is not None]
        if len(present) >= 2 and values[0] is not None:
            warm = statistics.median(present[1:])
            print(f"first turn / warm turns ({label}): {values[0]:.3f} / {warm:.3f} = "
                  f"{values[0] / warm:.2f} (target <= 1.20)")


if __name__ == "__main__":
    main()
