"""Turn latency in a real LiveKit room, beside `avatarkit demo`'s, in the same run.

    python benchmarks/room_turn.py [--turns 5]

Room: a livekit-server on 127.0.0.1 (the tests' pinned binary), a real
``avatarkit run --dev --brain local --face local`` worker (512x512 at 25 fps; idle blinks and
head motion off, so the first frame whose mouth moves is the first frame of the answer), and
a user participant (the ``livekit`` rtc SDK) saying N questions into its microphone in real
time, one after the other's answer. Per turn, measured at the user: speech end -> first
avatar frame whose mouth moved, and -> first agent audio.

Demo: the same questions through ``avatarkit demo``'s code path (file transport, no server),
its own "speech end -> first avatar frame" figure (composer metrics) and the one measured at
its output. Both run one after the other on the same machine.

The room's first turn is also set against the median of its later (warm) turns: the job
process loads every model before the agent joins, so the first answer should be no slower
(issue 13's target: within 20%).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from offline_turn import QUESTIONS  # noqa: E402

MOUTH_MOVED = 1.0  # mean grey change of the mouth patch between frames (idle: ~0.1)
FACE = ["--face-opt", "motion=0", "--face-opt", "blink=false"]


async def room_turns(server: object, worker_agent: str, turns: int
                     ) -> tuple[list[float | None], list[float | None]]:
    from avatarkit.engines.say import speak_16k
    from room_user import RoomUser

    user = RoomUser(server, "bench-turns", agent_name=worker_agent)  # type: ignore[arg-type]
    await user.join()
    frames: list[float | None] = []
    audio: list[float | None] = []
    try:
        await user.wait_for_agent(300)
        await user.wait_for_media(120)
        await asyncio.sleep(2.0)
        for i in range(turns):
            samples = speak_16k(QUESTIONS[i % len(QUESTIONS)])
            end = await user.say(samples) - 0.2  # speak_16k pads 0.2 s of silence
            deadline = time.monotonic() + 120
            while not user.agent_text(end) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # the answer's last words play out
            first_frame = user.first_mouth_move(end, MOUTH_MOVED)
            first_audio = user.loud_since(end, 0.02)
            frames.append(None if first_frame is None else first_frame - end)
            audio.append(None if first_audio is None else first_audio - end)
            print(f"  room turn {i + 1}: frame {fmt(frames[-1])}  audio {fmt(audio[-1])}  "
                  f"answer: {user.agent_text(end)[:60]!r}", flush=True)
    finally:
        await user.leave()
    return frames, audio


def demo_turns(turns: int) -> tuple[list[float | None], list[float | None]]:
    from avatarkit.config import load_config
    from avatarkit.demo import run_demo

    asks = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(load_config(brain="local", face="local"), asks=asks,
                          output=Path(tmp) / "bench.mp4")
    metric = [t.latencies.get("speech_end_to_first_frame") for t in result.report.turns]
    return metric, list(result.measured)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def median(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    return fmt(statistics.median(present)) if present else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from livekit_server import find_binary, start_livekit_server
    from room_worker import WorkerProcess

    binary = find_binary()
    if binary is None:
        sys.exit("no livekit-server: bash scripts/install_livekit_server.sh")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_livekit_server(binary, Path(tmp) / "livekit")
        worker = WorkerProcess(server, ["--dev", "--brain", "local", "--face", "local", *FACE],
                               Path(tmp) / "worker.log", env={"AVATARKIT_AGENT_NAME": "bench"})
        try:
            worker.start()
            print(f"room: {args.turns} turns (worker {worker.worker_id})", flush=True)
            room_frame, room_audio = asyncio.run(room_turns(server, "bench", args.turns))
        finally:
            worker.stop()
            server.stop()
    print(f"demo: {args.turns} turns", flush=True)
    demo_metric, demo_measured = demo_turns(args.turns)
    rows = [
        ("room: speech end -> first avatar frame (user)", room_frame),
        ("room: speech end -> first agent audio (user)", room_audio),
        ("demo: speech end -> first avatar frame", demo_metric),
        ("demo: measured at the output", demo_measured),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"\n{os.cpu_count()} cores; seconds per turn, then the median")
    for label, values in rows:
        cells = "  ".join(f"{fmt(v):>6}" for v in values)
        print(f"{label:<{width}}  {cells}  | median {median(values)}")
    for label, values in rows[:2]:
        warm = [v for v in values[1:] if v is not None]
        if values[0] is not None and warm:
            print(f"first turn / warm turns ({label}): {values[0]:.3f} / "
                  f"{statistics.median(warm):.3f} = {values[0] / statistics.median(warm):.2f} "
                  "(target <= 1.20)")


if __name__ == "__main__":
    main()
