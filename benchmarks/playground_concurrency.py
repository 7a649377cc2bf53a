"""Three concurrent playground sessions against one: turn latency and the fps pages get.

Issue 13, goal 4: three concurrent playground sessions on 2 cores, median turn <= 2x the
single-session turn, and no frame starvation (video fps at the browser >= 20). One run,
one in-process playground server (its models loaded once, before any page opens), one
headless Chromium whose fake mic says the bundled question ``--turns`` times, ``--gap`` s
apart, from each page's own Start (Chromium restarts the file for every getUserMedia, see
``pagebench.py``):

1. one page alone: ``--turns`` questions;
2. ``--pages`` (3) pages at once on the same server: all loaded first, then Start pressed
   on page k at ``k * --stagger`` s. The default stagger, 1.5 s, makes every question land
   while the turn before it (another session's) is still being worked on: a turn takes
   about 1-2 s from speech end to the reply's first frame, so with 1.5 s between the
   sessions' questions the second session's speech ends while the first is in its LLM/TTS
   stage and the third's while the first starts replying and the second transcribes.
   ``--stagger 0`` sends all questions at the same instant (the worst case); a stagger of
   about ``--gap / pages`` spreads them so turns rarely overlap (only the other sessions'
   idle video then competes). The speech ends the pages measured are printed, so the real
   offsets are known.

Per page: the median speech end -> first avatar frame shown (page) and -> first reply frame
sent (server), over turns 2.. (each session's first turn is left out: it is goal 2's
business); and the fps the page presented, from its frame callbacks' log
(``stats.frameLog``): mean, lowest over 1 s windows, and lowest over the 1 s windows that
overlap a turn (speech end to 5 s after the reply's first frame); and WebRTC's own freeze
count and total freeze time for the received video (``videoStats()``: Chromium counts them
off the page's main thread, so a busy page script cannot fake a freeze the way a late frame
callback can). Then: the single-session
median, the pooled median of all concurrent sessions' warm turns, their ratio (target
<= 2.0), the lowest per-page fps (target >= 20), load average and core count.

The browser runs on the same 2 cores and decodes every page's 512x512 video: that CPU
(see ``playground_cpu.py``) is not the server's in a real deployment, so the figures here
are a pessimistic bound. A page that fails or stalls is named with what it and the server
reported; the other pages' figures are still printed and the exit code is 1.

``--processes`` runs each page's session in an ``avatarkit playground`` process of its own
(page k of a phase on process k; all share one llama.cpp server), as LiveKit runs each room's
job: to weigh that design against the one process (``playground_processes.py``).

``--browser-per-page`` gives each page a Chromium of its own (its own processes, decoder
and network stack), to tell a limit of one shared browser from one of the server (the
speech-end offsets then stray more from ``--stagger``: each browser starts its fake audio
device at its first getUserMedia).

    python benchmarks/playground_concurrency.py [--turns 5] [--pages 3] [--stagger 1.5]
                                                [--gap 20] [--browser-per-page] [--json F]
                                                [--browser-nice N] [--processes]
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
import cpu_account  # noqa: E402
from pagebench import (  # noqa: E402 - benchmarks/ is not a package
    DOWNLINK,
    PAGE_FRAME,
    SERVER_FRAME,
    SESSION_STAGES,
    UPLINK,
    VAD_END,
    BenchError,
    Browsers,
    Playground,
    buffered,
    close_page,
    fake_mic,
    fmt,
    fmt_ms,
    frame_rates,
    machine_line,
    median,
    mic_seconds,
    page_stats,
    press_start,
    renice_browser,
    turn_rows,
    wait_turns,
)
from playground_processes import PlaygroundProcesses  # noqa: E402

RATIO_TARGET = 2.0
FPS_TARGET = 20.0
SERVER_VIDEO = ("video_sent_per_second", "video_put_per_second", "video_frames_dropped",
                "playout_reanchors")  # the session status's video figures kept in --json


def run_phase(pg: Playground | PlaygroundProcesses, browsers: Browsers,
              args: argparse.Namespace, pages: int, stagger: float) -> list[dict[str, Any]]:
    """``pages`` sessions, Start pressed ``stagger`` s apart; each page's stats and
    session status, or the error that stopped it."""
    opened = [browsers.new_page(pg.url_for(k), f"page {k + 1}/{pages}") for k in range(pages)]
    if args.browser_nice:
        print(f"browser processes reniced to {args.browser_nice}: "
              f"{renice_browser(args.browser_nice)}", file=sys.stderr)
    results: list[dict[str, Any]] = [{"name": p.bench_name, "error": None,
                                      "turns_asked": args.turns} for p in opened]
    cpu0 = cpu_account.snapshot()
    t0 = time.monotonic()
    started: list[float] = []
    for k, page in enumerate(opened):
        time.sleep(max(0.0, t0 + k * stagger - time.monotonic()))
        started.append(press_start(page))
    deadline = started[-1] + mic_seconds(args.turns, args.gap) + 90 + 30 * pages
    for page, result in zip(opened, results):
        try:
            wait_turns(page, args.turns, deadline, pg)
        except BenchError as exc:
            result["error"] = str(exc)
            print(f"playground_concurrency: {exc}", file=sys.stderr)
    cpu = cpu_account.since(cpu0)
    for result in results:  # the phase's, kept on each page's figures
        result["phase_cpu"] = cpu
    time.sleep(1.0)
    statuses = pg.statuses()
    for page, result in zip(opened, results):
        try:
            result["stats"] = page_stats(page)
        except Exception as exc:  # noqa: BLE001 - a crashed page
            result["error"] = result["error"] or f"{page.bench_name}: unreadable: {exc}"
            continue
        result["status"] = statuses.get(result["stats"].get("session"))
        result["rows"] = dict(turn_rows(result["stats"], result["status"], args.turns,
                                        server_clock=time.time() - time.monotonic()))
        result["fps"] = frame_rates(result["stats"])
    for page in opened:
        close_page(page)
    browsers.close_own()
    try:
        pg.wait_idle()
    except BenchError as exc:  # the figures are in; the next phase would share the CPU
        print(f"playground_concurrency: warning: {exc}", file=sys.stderr)
    return results


def warm(results: list[dict[str, Any]], label: str) -> list[float]:
    """Turns 2.. of every page's ``label`` row (all turns when one per page was asked)."""
    out: list[float] = []
    for r in results:
        values = r.get("rows", {}).get(label, [])
        out += [v for v in (values if r["turns_asked"] < 2 else values[1:]) if v is not None]
    return out


def verdict(ok: bool | None, failed: int) -> str:
    """A target's verdict; a failed page fails every target (its figures are partial)."""
    if failed:
        return f"NOT met: {failed} page(s) failed"
    return "-" if ok is None else "met" if ok else "NOT met"


def page_marks_amiss(results: list[dict[str, Any]], slack: float = 0.05) -> list[str]:
    """Pages whose own figure is below the server's (warm medians): impossible, as the page
    hears the question end before the server does and shows the reply after it is sent.
    Seen on an overloaded machine, where a page paired a question with the wrong reply."""
    amiss = []
    for r in results:
        page, server = median(warm([r], PAGE_FRAME)), median(warm([r], SERVER_FRAME))
        if page is not None and server is not None and page < server - slack:
            amiss.append(f"{r['name']} ({page:.3f} s < {server:.3f} s at the server)")
    return amiss


def sent_fps(result: dict[str, Any]) -> float | None:
    """Video frames the server released to the page's WebRTC track per second of session."""
    status = result.get("status") or {}
    age, sent = status.get("age"), status.get("video_frames_sent")
    return sent / age if age and sent is not None else None


def freezes(result: dict[str, Any]) -> str:
    """``N/X.Xs``: WebRTC's freeze count and their total duration for a page (Chromium's
    rule: a frame shown for longer than max(3 frame intervals, 1 interval + 150 ms))."""
    video = result.get("stats", {}).get("video") or {}
    if video.get("freezeCount") is None:
        return "-"
    return f"{video['freezeCount']}/{video.get('totalFreezesDuration') or 0:.1f}s"


def sent_low(result: dict[str, Any], skip: int = 2) -> int | None:
    """The fewest frames the server sent in a whole second of the session, from ``skip`` s
    after its first frame to the last whole second (the page's lowest 1 s window, at the
    server: both low means the server sent too few, only the page's means the browser
    showed too few)."""
    counts = (result.get("status") or {}).get("video_sent_per_second") or []
    whole = counts[skip:-1]
    return min(whole) if whole else None


def jitter_buffers(result: dict[str, Any]) -> str:
    """``A/V``: mean ms the page's audio and video waited in Chromium's jitter buffers."""
    stats = result.get("stats", {})
    audio, video = buffered(stats.get("audio")), buffered(stats.get("video"))
    return f"{fmt_ms(audio)}/{fmt_ms(video)}"


def phase_marks(results: list[dict[str, Any]]) -> list[tuple[float | None, float | None]]:
    """Per page: when it connected and where its lowest 1 s fps window began, in s after the
    phase's first connection (the pages' clocks joined through their time origins)."""
    def epoch(r: dict[str, Any], ms: float | None) -> float | None:
        return None if ms is None or not r.get("stats") else r["stats"]["timeOrigin"] + ms

    connected = [epoch(r, r.get("stats", {}).get("connectedAt")) for r in results]
    lowest = [epoch(r, r.get("fps", {}).get("min_1s_at")) for r in results]
    base = min((c for c in connected if c is not None), default=None)
    if base is None:
        return [(None, None)] * len(results)
    return [(None if c is None else (c - base) / 1000, None if w is None else (w - base) / 1000)
            for c, w in zip(connected, lowest)]


def speech_offsets(results: list[dict[str, Any]]) -> list[float | None]:
    """When each page's first speech end was, relative to the first page's (s)."""
    ends = [r["stats"]["timeOrigin"] + r["stats"]["speechEnds"][0]
            if r.get("stats") and r["stats"]["speechEnds"] else None for r in results]
    base = ends[0]
    return [None if e is None or base is None else (e - base) / 1000 for e in ends]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=5, help="questions per page")
    parser.add_argument("--pages", type=int, default=3, help="concurrent pages")
    parser.add_argument("--stagger", type=float, default=1.5,
                        help="seconds between the concurrent pages' Start (0: all at once)")
    parser.add_argument("--gap", type=float, default=20.0, help="seconds between questions")
    parser.add_argument("--brain", default="local")
    parser.add_argument("--face", default="local")
    parser.add_argument("--face-opt", action="append", default=[])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--browser-per-page", action="store_true",
                        help="a Chromium of its own for each page (default: one for all)")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="run Chromium at this niceness (e.g. 10): the server's own "
                        "capacity, as with browsers on other machines")
    parser.add_argument("--processes", action="store_true",
                        help="each page's session in a playground process of its own, "
                        "sharing one llama.cpp server (default: one process for all)")
    args = parser.parse_args()
    if args.turns < 1 or args.pages < 2 or args.stagger < 0 or args.gap < 5:
        parser.error("need --turns >= 1, --pages >= 2, --stagger >= 0, --gap >= 5")

    from playwright.sync_api import sync_playwright

    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="avatarkit-concurrency-"))
    pg: Playground | PlaygroundProcesses
    if args.processes:
        pg = PlaygroundProcesses(args.pages, tmp, args.brain, args.face, args.face_opt)
    else:
        pg = Playground.start(args.brain, args.face, args.face_opt, max_sessions=args.pages + 1)
    wav = fake_mic(tmp, args.turns, args.gap)
    try:
        print(f"models loaded in {pg.wait_ready():.1f} s; 1 page...", file=sys.stderr)
        with sync_playwright() as pw:
            browsers = Browsers(pw, tmp, wav, per_page=args.browser_per_page)
            try:
                single = run_phase(pg, browsers, args, 1, 0.0)
                load_mid = os.getloadavg()
                print(f"{args.pages} pages...", file=sys.stderr)
                many = run_phase(pg, browsers, args, args.pages, args.stagger)
            finally:
                browsers.close()
    except BenchError as exc:
        sys.exit(f"playground_concurrency: {exc}")
    finally:
        pg.stop()
    figures = report(single, many, args, load0, load_mid, os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))
        print(f"wrote {args.json}")
    failed = [r["error"] for r in single + many if r["error"]]
    if failed:
        sys.exit("playground_concurrency: failed: " + "; ".join(failed))


QUESTION = "what is the capital of france"


def misheard(results: list[dict[str, Any]]) -> list[str]:
    """Each turn whose transcript is not the bundled question (case and punctuation aside),
    as "page k/n turn t: 'text'". The pages' mics must not hear each other's avatars (the
    harness turns Chromium's browser-wide echo canceller off: ``test_browser_harness.py``);
    a clipped question here means the audio the server got was clipped."""
    out = []
    for r in results:
        for t, turn in enumerate(r.get("stats", {}).get("turns", []), 1):
            words = "".join(c for c in str(turn["heard"]).lower() if c.isalnum() or c == " ")
            if " ".join(words.split()) != QUESTION:
                out.append(f"{r['name']} turn {t}: {turn['heard']!r}")
    return out


def report(single: list[dict[str, Any]], many: list[dict[str, Any]], args: argparse.Namespace,
           load0: Any, load_mid: Any, load1: Any) -> dict[str, Any]:
    print(f"\nplayground concurrency, brain={args.brain} face={args.face} "
          f"{' '.join(args.face_opt)}; {args.turns} turns per page, {args.gap:g} s apart; "
          f"{args.pages} pages {args.stagger:g} s apart (speech ends measured: "
          + ", ".join(f"{fmt(o, 2)} s" for o in speech_offsets(many)) + ")")
    print(f"load: 1 page {machine_line(load0, load_mid)}; {args.pages} pages "
          f"{machine_line(load_mid, load1)}")
    for phase, results in (("1 page", single), (f"{args.pages} pages", many)):
        if results and "phase_cpu" in results[0]:
            print(f"cpu, {phase}: {cpu_account.describe(results[0]['phase_cpu'])}")
    head = (f"{'':<22}{'turns':>6}{'page s':>9}{'server s':>10}{'fps sent':>10}"
            f"{'fps mean':>10}{'min 1 s':>9}{'sent min':>9}{'min in turns':>14}"
            f"{'connected':>11}"
            f"{'lowest at':>11}{'freezes':>12}{'held ms':>9}{'buffer a/v ms':>15}")
    print("\nper page (warm medians: turns 2..; fps sent: by the server, over the session; "
          "fps mean/min: presented by the page (its frame callbacks); sent min: the fewest "
          "frames the server sent in a whole second; connected, lowest at: "
          "s after the phase's first page connected; freezes: WebRTC's count and total "
          f"seconds, kept by Chromium off the page's main thread; held: median ms from a "
          f"frame's arrival to its display; buffer a/v: mean ms the audio and video waited in "
          f"Chromium's jitter buffers over the session, WebRTC's own figure)\n{head}")
    for phase, results in (("1 session", single), (f"{args.pages} sessions", many)):
        marks = phase_marks(results)
        for r, (connected, lowest_at) in zip(results, marks):
            rows, fps = r.get("rows", {}), r.get("fps", {})
            print(f"{phase + ' ' + r['name'].split()[1]:<22}"
                  f"{len(r.get('stats', {}).get('turns', [])):>6}"
                  f"{fmt(median(warm([r], PAGE_FRAME))):>9}"
                  f"{fmt(median(warm([r], SERVER_FRAME))):>10}{fmt(sent_fps(r), 1):>10}"
                  f"{fmt(fps.get('mean'), 1):>10}{fmt(fps.get('min_1s'), 1):>9}"
                  f"{fmt(sent_low(r), 0):>9}"
                  f"{fmt(fps.get('min_1s_turns'), 1):>14}{fmt(connected, 1):>11}"
                  f"{fmt(lowest_at, 1):>11}{freezes(r):>12}"
                  f"{fmt_ms(fps.get('held')):>9}"
                  f"{jitter_buffers(r):>15}"
                  + ("  FAILED" if r["error"] else "") + ("" if rows else "  (no figures)"))

    print(f"\nsession stages, warm medians (s){'1 session':>14}{f'{args.pages} sessions':>14}"
          f"{'ratio':>8}")
    for label in [VAD_END] + [f"session: {s}" for s, _ in SESSION_STAGES] + [
            SERVER_FRAME, UPLINK, DOWNLINK, PAGE_FRAME]:
        one, all_ = median(warm(single, label)), median(warm(many, label))
        ratio = None if one is None or all_ is None or one < 0.05 else all_ / one
        print(f"  {label:<46}{fmt(one):>9}{fmt(all_):>14}{fmt(ratio, 2):>8}")

    failed = sum(1 for r in single + many if r["error"])
    verdicts: dict[str, Any] = {"failed_pages": failed}
    amiss = page_marks_amiss(single + many)
    verdicts["page_marks_amiss"] = amiss
    for name, label in (("page", PAGE_FRAME), ("server", SERVER_FRAME)):
        one, all_ = median(warm(single, label)), median(warm(many, label))
        ratio = None if one is None or all_ is None else all_ / one
        verdicts[f"ratio_{name}"] = ratio
        said = verdict(None if ratio is None else ratio <= RATIO_TARGET, failed)
        if name == "page" and amiss and not failed:
            said = f"not judged: the page's marks went wrong on {', '.join(amiss)}"
        print(f"median turn ({name}): 1 session {fmt(one)} s, {args.pages} sessions "
              f"{fmt(all_)} s, ratio {fmt(ratio, 2)} (target <= {RATIO_TARGET:g}: {said})")
    lows = [r["fps"]["min_1s"] for r in many if r.get("fps", {}).get("min_1s") is not None]
    means = [r["fps"]["mean"] for r in many if r.get("fps", {}).get("mean") is not None]
    low = min(lows, default=None)
    verdicts["min_fps_1s"], verdicts["min_fps_mean"] = low, min(means, default=None)
    sent = [n for n in (sent_low(r) for r in many) if n is not None]
    verdicts["min_fps_1s_sent"] = min(sent, default=None)
    print(f"fps at the browser, {args.pages} sessions: lowest mean "
          f"{fmt(verdicts['min_fps_mean'], 1)}"
          f", lowest 1 s window {fmt(low, 1)} (target >= {FPS_TARGET:g}: "
          f"{verdict(None if low is None else low >= FPS_TARGET, failed)}); the server sent "
          f"at least {fmt(verdicts['min_fps_1s_sent'], 0)} frames in every second")
    stalls = [r.get("stats", {}).get("video") or {} for r in many]
    verdicts["freeze_seconds"] = [v.get("totalFreezesDuration") for v in stalls]
    print(f"video freezes (WebRTC), {args.pages} sessions: "
          + ", ".join(freezes(r) for r in many))
    verdicts["misheard"] = misheard(single + many)
    print("questions heard (the bundled question, as whisper transcribed it): "
          + ("; ".join(verdicts["misheard"]) if verdicts["misheard"] else "all as said"))
    if args.turns < 2:
        print("(1 turn per page: the medians are first turns; run with --turns 5)")
    return {"args": vars(args) | {"json": str(args.json)}, "verdicts": verdicts,
            "pages": [{"phase": phase, "name": r["name"], "error": r["error"],
                       "rows": r.get("rows"), "fps": r.get("fps"),
                       "video": r.get("stats", {}).get("video"),
                       "server_video": {k: (r.get("status") or {}).get(k) for k in SERVER_VIDEO},
                       "heard": [t["heard"] for t in r.get("stats", {}).get("turns", [])],
                       "answered": [t["answered"] for t in r.get("stats", {}).get("turns", [])]}
                      for phase, results in (("single", single), ("concurrent", many))
                      for r in results],
            "load": [list(load0), list(load_mid), list(load1)], "cores": os.cpu_count(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


if __name__ == "__main__":
    main()
