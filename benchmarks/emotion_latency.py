"""Emotion-tool latency: the agent's ``set_emotion`` call -> first video frame that shows it.

    python benchmarks/emotion_latency.py [--changes 20] [--fps 25] [--size 512]

The local face runs off-room through :func:`avatarkit.attach` (a real ``AgentSession``, not
started) into a sink that timestamps every delivered frame. Still and idle (no motion, no
blinks, no speech), consecutive frames are identical, so the first delivered frame whose
pixels differ from the last one before the call is the first frame with the new emotion.
Each change alternates neutral <-> concerned, at a random phase of the frame clock. Printed:
the time to that frame (ms), and which frame after the call it was (1 = the next frame: a
time beyond one frame interval is then the event loop running late, not a missed frame).

Two paths, in the same run: the agent's tool (``set_emotion`` as the LLM calls it: through
``agent.tools``) and, as the baseline, ``face.set_emotion`` directly (the control API's
path). The target is one frame (1000/fps ms) after the call.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import numpy as np

from avatarkit import attach
from avatarkit.transports.base import Transport


class TimedSink:
    """A ``MediaSink`` keeping (delivery time, frame pixels) of every video frame."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, np.ndarray]] = []

    async def push_video(self, frame: Any, timestamp: float) -> None:
        self.frames.append((time.perf_counter(), np.frombuffer(frame.data, np.uint8).copy()))

    async def push_audio(self, frame: Any, timestamp: float) -> None:
        pass


class SinkTransport(Transport):
    name = "benchmark"

    def __init__(self) -> None:
        self.sink = TimedSink()

    def media_sink(self) -> TimedSink:
        return self.sink

    async def wait_done(self, session: Any) -> None:
        pass


async def change_latency(sink: TimedSink, change: Any) -> tuple[float, int]:
    """Seconds from the call to the first delivered frame that differs from the last one
    before it, and which frame after the call that was (1 = the very next frame)."""
    await asyncio.sleep(random.uniform(0.3, 0.5))  # idle, at a random clock phase
    start = len(sink.frames)
    before = sink.frames[-1][1]
    called = time.perf_counter()
    await change()
    while True:
        later = [(at, px) for at, px in sink.frames[start:] if at >= called]
        for number, (at, pixels) in enumerate(later, 1):
            if not np.array_equal(pixels, before):
                return at - called, number
        await asyncio.sleep(0.002)


async def main(changes: int, fps: int, size: int) -> None:
    from livekit.agents import Agent, AgentSession

    session: AgentSession[Any] = AgentSession()
    agent = Agent(instructions="x")
    transport = SinkTransport()
    avatar = await attach(session, transport, face="local", agent=agent, face_options={
        "local": {"width": size, "height": size, "fps": fps, "motion": 0, "blink": False}})
    tool = next(t for t in agent.tools if t.info.name == "set_emotion")
    face = avatar.face
    try:
        while len(transport.sink.frames) < fps:  # a second of idle frames first
            await asyncio.sleep(0.05)
        results: dict[str, list[float]] = {"tool": [], "direct": []}
        nth: dict[str, list[int]] = {"tool": [], "direct": []}
        names = ["concerned", "neutral"]
        for i in range(changes):
            for path in ("tool", "direct"):
                name = names[(i + (path == "direct")) % 2]
                call = (lambda n=name: tool(emotion=n)) if path == "tool" else \
                    (lambda n=name: face.set_emotion(n))
                seconds, number = await change_latency(transport.sink, call)
                results[path].append(seconds)
                nth[path].append(number)
    finally:
        await avatar.aclose()
    frame_ms = 1000 / fps
    print(f"local face {size}x{size} at {fps} fps (one frame = {frame_ms:.0f} ms), "
          f"{changes} changes per path")
    for path, values in results.items():
        ms = sorted(v * 1000 for v in values)
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        print(f"  {path:6s} call -> first frame with the emotion: median "
              f"{statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms "
              f"({ms[-1] / frame_ms:.2f} frame intervals); shown in the next frame "
              f"{nth[path].count(1)}/{len(nth[path])} times, latest in frame "
              f"{max(nth[path])} after the call")
    ratio = statistics.median(results["tool"]) / statistics.median(results["direct"])
    print(f"  tool / direct (median): {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    asyncio.run(main(args.changes, args.fps, args.size))
