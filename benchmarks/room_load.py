"""CPU and memory per session of a real worker, at 1 and 3 concurrent rooms.

    python benchmarks/room_load.py [--rooms 1,3] [--window 20]

A livekit-server on 127.0.0.1 and one ``avatarkit run --dev --brain local --face local``
worker (the face at its defaults: 512x512, 25 fps). For each count N: N users join N rooms
one after the other (explicit dispatch), and once every avatar is on screen each user asks
the bundled question;
over the next ``--window`` seconds the worker's whole process tree (worker, job processes,
their llama.cpp servers) is measured: CPU (cores: CPU seconds / wall seconds) and memory
(USS: pages that are the processes' own, so the forkserver's shared pages count once).
Per session = (measured - the idle worker's) / N. The users leave and the worker settles
before the next count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

AGENT = "bench-load"


def tree(pid: int) -> list[Any]:
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of every process of the tree, by pid."""
    import psutil

    out = {}
    for proc in tree(pid):
        try:
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return out


def uss_mb(pid: int) -> float:
    import psutil

    total = 0
    for proc in tree(pid):
        try:
            total += proc.memory_full_info().uss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


async def measure(pid: int, window: float) -> tuple[float, float]:
    """(cores, USS MB) of the tree over ``window`` seconds."""
    start, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    end, elapsed = cpu_seconds(pid), time.monotonic() - t0
    used = sum(end[p] - start.get(p, 0.0) for p in end)
    return used / elapsed, uss_mb(pid)


async def sessions(server: Any, worker: Any, count: int, window: float) -> tuple[float, float]:
    from room_user import RoomUser, load_wav_16k

    users = [RoomUser(server, f"load-{count}-{i}", agent_name=AGENT) for i in range(count)]
    try:
        for user in users:
            # One room at a time, the next once the last avatar is on screen and the worker
            # has told the server (status every 2.5 s): while a job process starts, LiveKit's
            # worker counts it as a whole idle-process slot and declines other rooms.
            await user.join()
            await user.wait_for_agent(600)
            await user.wait_for_media(300)
            await asyncio.sleep(3.0)
        question = load_wav_16k()
        asks = [asyncio.create_task(u.say(question)) for u in users]
        result = await measure(worker.pid, window)
        await asyncio.gather(*asks)
        answered = sum(bool(u.agent_text()) for u in users)
        print(f"  {count} room(s): {answered} answered within the window", flush=True)
        return result
    finally:
        await asyncio.gather(*(u.leave() for u in users), return_exceptions=True)


async def settle(worker: Any) -> None:
    while worker.status()["active_jobs"]:
        await asyncio.sleep(0.5)
    await asyncio.sleep(5.0)


async def run(server: Any, worker: Any, counts: list[int], window: float) -> None:
    await asyncio.sleep(5.0)
    idle_cores, idle_mb = await measure(worker.pid, window / 2)
    rows = [("idle worker", 0, idle_cores, idle_mb)]
    for count in counts:
        cores, mb = await sessions(server, worker, count, window)
        rows.append((f"{count} concurrent", count, cores, mb))
        await settle(worker)
    print(f"\n{os.cpu_count()} cores; window {window:g} s from the questions; worker tree")
    print(f"{'':<14}  {'cores':>6}  {'USS MB':>7}  {'cores/session':>13}  {'MB/session':>10}")
    for label, count, cores, mb in rows:
        per = (f"{(cores - idle_cores) / count:>13.2f}  {(mb - idle_mb) / count:>10.0f}"
               if count else f"{'':>13}  {'':>10}")
        print(f"{label:<14}  {cores:>6.2f}  {mb:>7.0f}  {per}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", default="1,3")
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from livekit_server import find_binary, start_livekit_server
    from room_worker import WorkerProcess

    binary = find_binary()
    if binary is None:
        sys.exit("no livekit-server: bash scripts/install_livekit_server.sh")
    counts = [int(n) for n in args.rooms.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        server = start_livekit_server(binary, Path(tmp) / "livekit")
        worker = WorkerProcess(server, ["--dev", "--brain", "local", "--face", "local"],
                               Path(tmp) / "worker.log",
                               env={"AVATARKIT_AGENT_NAME": AGENT,
                                    "AVATARKIT_MAX_SESSIONS": str(max(counts))})
        try:
            worker.start()
            asyncio.run(run(server, worker, counts, args.window))
        finally:
            worker.stop()
            server.stop()


if __name__ == "__main__":
    main()
