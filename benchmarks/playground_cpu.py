"""CPU per playground session at 512x512, 25 fps (the built-in face's defaults).

Starts ``avatarkit playground --brain local --face local`` as a subprocess, connects 0, 1,
then 2 headless Chromium pages, each in a window of its own (silent fake mic: the sessions
stream the idle avatar, no turns), and samples the server process (plus its children:
llama.cpp) with psutil over ``--seconds`` each time. Prints % of one core for the server,
the increase per page, and the browser's own CPU for reference.

    python benchmarks/playground_cpu.py [--seconds 20] [--pages 2]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.browser.harness: Chromium flags


def cpu_seconds(procs: list[Any]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - process gone
            pass
    return total


def measure(procs: list[Any], seconds: float) -> float:
    """% of one core used by ``procs`` over ``seconds``."""
    c0, t0 = cpu_seconds(procs), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(procs) - c0) / (time.monotonic() - t0)


def main() -> None:
    import psutil
    from playwright.sync_api import sync_playwright
    from tests.browser.harness import browser_processes, launch_browser

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--face-opt", action="append", default=[])
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="avatarkit-cpu-"))
    silent = tmp / "silent.wav"
    with wave.open(str(silent), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(b"\0\0" * 48000 * 2)
    cmd = [sys.executable, "-m", "avatarkit", "playground", "--brain", "local", "--face",
           "local", "--port", "0"] + [f"--face-opt={o}" for o in args.face_opt]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=ROOT)
    url = None
    assert server.stdout is not None
    for line in server.stdout:
        match = re.search(r"open (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        sys.exit("the playground did not start")
    proc = psutil.Process(server.pid)
    tree = [proc, *proc.children(recursive=True)]
    results: list[tuple[int, float, float]] = []
    try:
        with sync_playwright() as pw:
            # each page in a window of its own, as each user's tab is the front one (a
            # background tab's video is handled differently: tests/browser/harness.py)
            chromium = launch_browser(pw, silent, loop=True)

            time.sleep(3)
            results.append((0, measure(tree, args.seconds), 0.0))
            pages = []
            for n in range(1, args.pages + 1):
                page = chromium.new_context().new_page()
                page.goto(url)
                page.click("#start")
                page.wait_for_function("() => window.avatarkit.stats.frames > 50",
                                       timeout=60_000)
                pages.append(page)
                time.sleep(3)
                browser = browser_processes()
                c_b0 = cpu_seconds(browser)
                t0 = time.monotonic()
                server_cpu = measure(tree, args.seconds)
                browser_cpu = 100.0 * (cpu_seconds(browser) - c_b0) / (
                    time.monotonic() - t0)
                fps = [p.evaluate("window.avatarkit.stats.frames") for p in pages]
                results.append((n, server_cpu, browser_cpu))
                print(f"  {n} page(s): frames shown so far {fps}", file=sys.stderr)
            chromium.close()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    base = results[0][1]
    print(f"playground CPU, local brain + local face 512x512 @ 25 fps, {args.seconds:g} s "
          f"samples, {os.cpu_count()} cores, load avg now {os.getloadavg()[0]:.2f}")
    print("pages  server %core  per page (server)  browser %core")
    for n, cpu, browser in results:
        per = "-" if n == 0 else f"{(cpu - base) / n:.1f}"
        print(f"{n:<5}  {cpu:>11.1f}  {per:>17}  {browser if n else float('nan'):>13.1f}")


if __name__ == "__main__":
    main()
