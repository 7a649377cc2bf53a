"""Latency the local face adds: first agent audio frame -> first video frame showing it.

    python benchmarks/face_latency.py [--segments 30]

Two consumers of ``PortraitVideoGenerator``, with reply segments starting at random phases
relative to the frame clock:

- ``AvatarRunner``-style: the generator is pulled through a real ``rtc.AVSynchronizer``
  (audio/video sources, no room), exactly as ``AvatarRunner._forward_video`` does;
- off-room: ``SinkAvatarRunner`` delivering to a null sink, fed by a ``QueueAudioOutput``.

The figure is the generator's per-segment ``first_frame_latency``: from the moment the
segment's first audio frame is pushed to the moment the frame rendered from that audio is
yielded (for the off-room runner: delivered to the sink). Target: <= 40 ms (one frame).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics

import numpy as np
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd, QueueAudioOutput

from avatarkit.render.generator import PortraitVideoGenerator
from avatarkit.render.offroom_runner import SinkAvatarRunner
from avatarkit.render.renderer import PortraitRenderer

RATE = 24000
FPS = 25


def reply(seconds: float) -> list[rtc.AudioFrame]:
    t = np.arange(int(seconds * RATE)) / RATE
    x = ((np.sin(2 * np.pi * 190 * t) + 0.5 * np.sin(2 * np.pi * 850 * t)) * 9000).astype(np.int16)
    n = RATE // 100
    return [rtc.AudioFrame(x[i:i + n].tobytes(), RATE, 1, n) for i in range(0, len(x), n)]


def make_generator() -> PortraitVideoGenerator:
    r = PortraitRenderer(fps=FPS, sample_rate=RATE, seed=1)
    r.warm()
    return PortraitVideoGenerator(r)


async def avsync_consumer(segments: int, rng: random.Random) -> list[float]:
    gen = make_generator()
    audio_source = rtc.AudioSource(RATE, 1, queue_size_ms=100)
    video_source = rtc.VideoSource(gen.width, gen.height)
    av_sync = rtc.AVSynchronizer(audio_source=audio_source, video_source=video_source,
                                 video_fps=FPS, video_queue_size_ms=100)

    async def forward() -> None:
        async for item in gen:
            if isinstance(item, AudioSegmentEnd):
                continue
            await av_sync.push(item)

    task = asyncio.create_task(forward())
    await asyncio.sleep(0.5)
    for _ in range(segments):
        await asyncio.sleep(rng.uniform(0.3, 0.6))
        for f in reply(0.3):
            await gen.push_audio(f)
        await gen.push_audio(AudioSegmentEnd())
    await asyncio.sleep(0.6)
    task.cancel()
    await av_sync.aclose()
    await audio_source.aclose()
    await video_source.aclose()
    return gen.metrics.first_frame_latency


class NullSink:
    async def push_video(self, frame: rtc.VideoFrame, timestamp: float) -> None:
        return None

    async def push_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None:
        return None


async def offroom_consumer(segments: int, rng: random.Random) -> list[float]:
    gen = make_generator()
    out = QueueAudioOutput(sample_rate=RATE, wait_playback_start=True)
    runner = SinkAvatarRunner(audio_recv=out, video_gen=gen, sink=NullSink())
    await runner.start()
    await asyncio.sleep(0.5)
    for _ in range(segments):
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        for f in reply(0.3):
            await out.capture_frame(f)
        out.flush()
        await out.wait_for_playout()
    await runner.aclose()
    return gen.metrics.first_frame_latency


def report(name: str, values: list[float]) -> None:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    print(f"  {name:24s} n={len(ms):3d}  median {statistics.median(ms):5.1f} ms  "
          f"p90 {p90:5.1f} ms  max {ms[-1]:5.1f} ms")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--segments", type=int, default=30)
    args = ap.parse_args()
    rng = random.Random(5)
    print(f"first agent audio -> first lip-synced frame ({FPS} fps, frame interval "
          f"{1000 / FPS:.0f} ms)")
    report("AVSynchronizer consumer", await avsync_consumer(args.segments, rng))
    report("off-room SinkAvatarRunner", await offroom_consumer(args.segments, rng))


if __name__ == "__main__":
    asyncio.run(main())
