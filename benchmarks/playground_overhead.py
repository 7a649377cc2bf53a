"""Playground overhead over ``avatarkit demo``: the same spoken question, the same run.

Issue 13, goal 3: the playground adds <= 0.15 s over the same turn in ``demo``. One run:

1. ``demo`` (before): ``run_demo(config, inputs=[question.wav] * N)``, ``avatarkit demo``'s
   code path (file transport: each question is played in real time once the reply to the
   previous one has ended);
2. the playground: one headless Chromium page whose fake mic says the same question.wav
   N times (``--gap`` s apart), through WebRTC to the in-process server;
3. ``demo`` (after): as 1.

Why demo before *and* after: the machine is shared, so its load drifts over minutes; with
the playground bracketed by the two demo halves, a drift hits both sides about equally, and
the two halves' medians are printed so a drift shows. All three run in one process: the
server loads the models first (whisper, llama-server, Piper, the face's renderer are
process-wide) and the demo uses the same loaded ones; the idle server (no page) takes no
CPU while the demo runs, and the browser is only open for the playground part.

Each session's first turn is reported on its own and left out of the warm medians (a
demo's first turn may still be cold; the playground's first turn is goal 2's business).

Figures compared (seconds, warm medians):
- demo: speech end -> first output, measured at the output (the demo's "measured at the
  output" row: the first agent audio or frame written after the question's last voiced 10 ms);
- playground, server: speech end in the mic audio received -> first reply frame sent to
  aiortc (the same point in the pipeline as the demo's figure);
- playground, page: speech end at the page's mic (WebAudio level) -> first avatar frame
  presented with the reply's audio audible (what a person sees; includes WebRTC both ways,
  jitter buffers, decoding);
- both sides' session stages (end of turn, STT, LLM, TTS, face), side by side.
Overhead = playground median - demo median (page figure and server figure); target <= 0.15 s.

    python benchmarks/playground_overhead.py [--turns 5] [--gap 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pagebench import (  # noqa: E402 - benchmarks/ is not a package
    PAGE_FRAME,
    SERVER_FRAME,
    SESSION_STAGES,
    BenchError,
    Playground,
    close_page,
    fake_mic,
    fmt,
    machine_line,
    median,
    mic_seconds,
    open_page,
    page_stats,
    press_start,
    print_turn_table,
    renice_browser,
    turn_rows,
    wait_turns,
)

TARGET = 0.15
DEMO_FRAME = "demo: speech end -> first output (measured at the output)"


def run_demo_half(args: argparse.Namespace) -> dict[str, Any]:
    """One demo session of ``--turns`` times the bundled question: per-turn values."""
    from avatarkit.config import load_config
    from avatarkit.demo import bundled_question, run_demo

    config = load_config(brain=args.brain, face=args.face, face_opts=args.face_opt)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(config, inputs=[bundled_question()] * args.turns,
                          output=Path(tmp) / "overhead.mp4")
    turns = result.report.turns
    return {
        "measured": list(result.measured),
        "stages": {key: [t.latencies.get(key) for t in turns] for _, key in SESSION_STAGES},
        "heard": [t.heard for t in turns],
    }


def run_playground(pg: Playground, args: argparse.Namespace) -> dict[str, Any]:
    """One page, ``--turns`` questions: the page's stats and its session's status."""
    from playwright.sync_api import sync_playwright
    from tests.browser.harness import launch

    tmp = Path(tempfile.mkdtemp(prefix="avatarkit-overhead-"))
    wav = fake_mic(tmp, args.turns, args.gap)
    with sync_playwright() as pw:
        context = launch(pw, tmp / "profile", wav)
        try:
            page = open_page(context, pg.url, "playground page")
            if args.browser_nice:
                print(f"browser processes reniced to {args.browser_nice}: "
                      f"{renice_browser(args.browser_nice)}", file=sys.stderr)
            started = press_start(page)
            wait_turns(page, args.turns, started + mic_seconds(args.turns, args.gap) + 90, pg)
            time.sleep(1.0)
            stats = page_stats(page)
            close_page(page)
        finally:
            context.close()
    pg.wait_idle()
    return {"stats": stats, "status": pg.statuses().get(stats.get("session"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=5, help="questions per session")
    parser.add_argument("--gap", type=float, default=20.0,
                        help="seconds between the page's questions")
    parser.add_argument("--brain", default="local")
    parser.add_argument("--face", default="local")
    parser.add_argument("--face-opt", action="append", default=[])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="run Chromium at this niceness (e.g. 10): how much of the "
                        "overhead is the browser's own CPU on the same cores")
    args = parser.parse_args()
    if args.turns < 1 or args.gap < 5:
        parser.error("--turns must be >= 1 and --gap >= 5 (s; the reply must end before "
                     "the next question)")

    load0 = os.getloadavg()
    pg = Playground.start(args.brain, args.face, args.face_opt)
    try:
        ready = pg.wait_ready()
        print(f"models loaded in {ready:.1f} s; demo (before)...", file=sys.stderr)
        before = run_demo_half(args)
        print("playground page...", file=sys.stderr)
        playground = run_playground(pg, args)
        print("demo (after)...", file=sys.stderr)
        after = run_demo_half(args)
    except BenchError as exc:
        sys.exit(f"playground_overhead: {exc}")
    finally:
        pg.stop()
    figures = report(before, playground, after, args, load0, os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
        print(f"wrote {args.json}")


def report(before: dict[str, Any], playground: dict[str, Any], after: dict[str, Any],
           args: argparse.Namespace, load0: Any, load1: Any) -> dict[str, Any]:
    rows = dict(turn_rows(playground["stats"], playground["status"], args.turns))
    demo_warm = before["measured"][1:] + after["measured"][1:]
    print(f"\nplayground overhead over demo, brain={args.brain} face={args.face} "
          f"{' '.join(args.face_opt)}; the bundled question x {args.turns} per session; "
          f"{machine_line(load0, load1)}")
    print_turn_table("\nplayground, per turn (s):", list(rows.items()))
    print("\ndemo, speech end -> first output per turn (s): before "
          + " ".join(fmt(v) for v in before["measured"]) + "; after "
          + " ".join(fmt(v) for v in after["measured"])
          + f"; warm medians before {fmt(median(before['measured'][1:]))}, after "
          f"{fmt(median(after['measured'][1:]))}")

    print(f"\n{'warm medians (s), turns 2.. of each session':<52}{'demo':>9}{'playground':>12}"
          f"{'pg - demo':>11}")
    side: list[tuple[str, float | None, float | None]] = []
    for label, key in SESSION_STAGES:
        demo = median(before["stages"][key][1:] + after["stages"][key][1:])
        side.append((f"session: {label}", demo, median(rows[f"session: {label}"][1:])))
    side.append(("end to end: demo at the output | server frame sent", median(demo_warm),
                 median(rows[SERVER_FRAME][1:])))
    side.append(("end to end: demo at the output | page frame shown", median(demo_warm),
                 median(rows[PAGE_FRAME][1:])))
    for label, demo, pgv in side:
        diff = None if demo is None or pgv is None else pgv - demo
        print(f"{label:<52}{fmt(demo):>9}{fmt(pgv):>12}{fmt(diff):>11}")
    print(f"(end to end: the {DEMO_FRAME!r} row against {SERVER_FRAME!r} and {PAGE_FRAME!r})")

    first = {"demo before": before["measured"][0] if before["measured"] else None,
             "demo after": after["measured"][0] if after["measured"] else None,
             "playground server": (rows[SERVER_FRAME] or [None])[0],
             "playground page": (rows[PAGE_FRAME] or [None])[0]}
    print("first turns (not in the medians): "
          + ", ".join(f"{k} {fmt(v)}" for k, v in first.items()))
    overhead = {}
    for name, label in (("page", PAGE_FRAME), ("server", SERVER_FRAME)):
        pg_median, demo_median = median(rows[label][1:]), median(demo_warm)
        value = None if pg_median is None or demo_median is None else pg_median - demo_median
        overhead[name] = value
        verdict = "-" if value is None else ("met" if value <= TARGET else "NOT met")
        print(f"overhead ({name}): {fmt(pg_median)} - {fmt(demo_median)} = {fmt(value)} s "
              f"(target <= {TARGET} s: {verdict})")
    if args.turns < 2:
        print("(1 turn per session: no warm turns; run with --turns 5 for the figures)")
    heard = {h for h in before["heard"] + after["heard"]}
    pg_heard = {t["heard"] for t in playground["stats"]["turns"]}
    print(f"demo heard: {sorted(heard)}; playground heard: {sorted(pg_heard)}")
    return {"turns": args.turns, "overhead": overhead, "first_turns": first,
            "side_by_side": side, "demo": {"before": before, "after": after},
            "playground": {k: v for k, v in rows.items()},
            "load": [list(load0), list(load1)], "cores": os.cpu_count(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


if __name__ == "__main__":
    main()
