"""The playground's media plumbing, without a browser: A/V sync of the outgoing tracks,
late media, colour-preserving frame conversion, and the browser-mic input."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

pytest.importorskip("aiortc")

import av  # noqa: E402
from livekit import rtc  # noqa: E402
from tests.browser.peer import ToneMic  # noqa: E402

from avatarkit.playground.mic import BrowserAudioInput  # noqa: E402
from avatarkit.playground.peer_media import PeerMediaSink, PeerTurnTiming, to_av_video  # noqa: E402
from avatarkit.playground.timeline import (  # noqa: E402
    AUDIO_SAMPLES,
    OUT_RATE,
    AudioTimeline,
    Playout,
    rms,
)


def _video(value: int, size: int = 64) -> rtc.VideoFrame:
    img = np.full((size, size, 4), value, np.uint8)
    img[..., 3] = 255
    return rtc.VideoFrame(size, size, rtc.VideoBufferType.RGBA, img.tobytes())


def _audio(loud: bool, rate: int = 24000, seconds: float = 0.04) -> rtc.AudioFrame:
    n = int(rate * seconds)
    t = np.arange(n) / rate
    samples = (np.sin(2 * np.pi * 220 * t) * 12000 * loud).astype(np.int16)
    return rtc.AudioFrame(samples.tobytes(), rate, 1, n)


async def test_audio_and_video_of_one_instant_leave_together() -> None:
    """A face pushes black frames + silence, then white frames + a tone from t=0.6 s: the
    first white frame and the first loud audio are released (and stamped) together."""
    timings = [PeerTurnTiming(speech_end=time.monotonic())]
    sink = PeerMediaSink(Playout(delay=0.06), timings)
    video_out: list[tuple[float, int, float]] = []
    audio_out: list[tuple[float, int, float]] = []

    async def face() -> None:
        t0 = time.monotonic()
        for k in range(35):
            ts = k * 0.04
            await asyncio.sleep(max(0.0, t0 + ts - time.monotonic()))
            await sink.push_video(_video(255 if ts >= 0.6 else 0), ts)
            await sink.push_audio(_audio(ts >= 0.6), ts)

    async def read_video() -> None:
        for _ in range(35):
            frame = await sink.video.recv()
            luma = float(frame.to_ndarray(format="gray").mean())
            video_out.append((time.monotonic(), frame.pts, luma))

    async def read_audio() -> None:
        end = time.monotonic() + 1.6
        while time.monotonic() < end:
            frame = await sink.audio.recv()
            samples = frame.to_ndarray().reshape(-1)
            audio_out.append((time.monotonic(), frame.pts, rms(samples)))

    await asyncio.wait_for(asyncio.gather(face(), read_video(), read_audio()), 10)
    t_v, pts_v, _ = next(v for v in video_out if v[2] > 128)
    t_a, pts_a, _ = next(a for a in audio_out if a[2] > 0.05)
    assert abs(t_v - t_a) < 0.03, (t_v, t_a)
    assert abs(pts_v / 90000 - pts_a / OUT_RATE) < 0.03
    # video paced at 25 fps, audio contiguous 20 ms frames
    gaps = np.diff([v[0] for v in video_out[5:]])
    assert 0.035 < float(np.median(gaps)) < 0.045
    pts = [a[1] for a in audio_out]
    assert all(b - a == AUDIO_SAMPLES for a, b in zip(pts, pts[1:]))
    # the sink noted the turn's first agent audio and the frame shown with it
    assert timings[0].first_audio is not None and timings[0].first_frame is not None
    assert abs(timings[0].first_frame - timings[0].first_audio) < 0.05


def test_late_audio_is_delayed_not_dropped() -> None:
    timeline = AudioTimeline(origin=time.monotonic() - 1.0)  # 1 s already "played"
    timeline.read(10)  # slots 0-10 gone
    loud = np.full(960, 1000, np.int16)
    pos = timeline.write(timeline.origin + 0.1, loud)  # due 0.1 s: long past
    assert pos == 11 * AUDIO_SAMPLES
    assert np.array_equal(timeline.read(11), loud)
    # a write just after the previous one is made contiguous (no click, no gap)
    timeline.write(timeline.origin + 12 * 0.02 + 0.003, loud)
    assert np.array_equal(timeline.read(12), loud)


def test_frames_sent_are_counted_per_second_for_the_fps_history() -> None:
    """``video_sent_per_second`` in the session status: a stall shows as a low second."""
    from avatarkit.playground.peer_media import PerSecond

    sent = PerSecond(keep=3)
    for t in [10.0 + k / 25 for k in range(25)] + [11.0, 11.5] + [13.0 + k / 25 for k in range(5)]:
        sent.count(t)
    assert sent.counts == [2, 0, 5] and sent.first == 10.0  # second 0 (25 frames) dropped
    sent.count(13.9)
    assert sent.counts == [2, 0, 6]
    sent.count(14.0)  # a 5th second: the oldest kept one goes
    assert sent.counts == [0, 6, 1]
    whole = PerSecond()
    for t in [0.0, 0.5, 1.2, 3.9]:
        whole.count(t)
    assert whole.counts == [2, 1, 0, 1]


async def test_late_frames_are_sent_until_the_browser_could_not_show_them() -> None:
    """A stalled sender sends a frame up to ``LATE_VIDEO`` late (the page's jitter buffer,
    as large under load, still shows it in time); one later than that is skipped while a
    newer frame waits."""
    from avatarkit.playground.peer_media import LATE_VIDEO, SinkVideoTrack

    now = time.monotonic()
    track = SinkVideoTrack(origin=now - 1.0)
    track.put(now - LATE_VIDEO - 0.2, _video(0))  # too late: skipped
    track.put(now - LATE_VIDEO + 0.15, _video(120))  # late, but sent
    track.put(now, _video(240))
    sent = [(await track.recv()).to_ndarray(format="gray").mean() for _ in range(2)]
    expected = [to_av_video(_video(v)).to_ndarray(format="gray").mean() for v in (120, 240)]
    assert sent == expected
    assert track.frames_dropped == 1 and track.frames_sent == 2
    track.stop()


def test_playout_reanchors_when_media_falls_behind() -> None:
    playout = Playout(delay=0.05, max_late=0.1)
    first = playout.due(0.0)
    assert 0.04 < first - time.monotonic() <= 0.05
    time.sleep(0.3)  # the face stalled: ts 0.04 arrives 0.26 s late
    due = playout.due(0.04)
    assert playout.reanchors == 1
    assert due >= time.monotonic()
    assert abs(playout.due(0.08) - (due + 0.04)) < 1e-6  # and continues from there


def test_frames_keep_their_colour_through_conversion() -> None:
    img = np.zeros((48, 64, 4), np.uint8)
    img[..., 0], img[..., 1], img[..., 2], img[..., 3] = 200, 40, 40, 255
    frame = rtc.VideoFrame(64, 48, rtc.VideoBufferType.RGBA, img.tobytes())
    out = to_av_video(frame)
    assert (out.width, out.height, out.format.name) == (64, 48, "yuv420p")
    rgb = out.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    assert np.allclose(rgb, (200, 40, 40), atol=8), rgb


async def test_browser_mic_becomes_16k_mono_frames_with_speech_end() -> None:
    ends: list[float] = []
    mic = BrowserAudioInput(on_speech_end=ends.append)
    track = ToneMic(lead=0.2, tone=0.6, level=0.3)
    t0 = time.monotonic()
    mic.start(track)
    frames = []

    async def collect() -> None:
        async for frame in mic:
            frames.append(frame)
            if time.monotonic() - t0 > 1.5:
                break

    await asyncio.wait_for(collect(), 5)
    track.stop()
    await mic.aclose()
    assert all(f.sample_rate == 16000 and f.num_channels == 1
               and f.samples_per_channel == 160 for f in frames)
    assert len(frames) >= 130  # ~1.5 s of 10 ms frames
    assert 0.15 < mic.peak_rms < 0.3  # a 0.3 sine is ~0.21 RMS
    assert len(ends) == 1
    assert abs(ends[0] - (t0 + 0.8)) < 0.15  # the tone ended 0.8 s after the start


class _ArrivedMic:
    """A remote mic as aiortc gives it: 20 ms frames land in the track's queue on time
    (aiortc's decoder thread puts them there), whatever the reader does."""

    kind = "audio"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.sent = 0

    def arrive(self) -> None:
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16",
                                                 layout="mono")
        frame.sample_rate = 48000
        self.queue.put_nowait(frame)
        self.sent += 1

    async def recv(self) -> Any:
        return await self.queue.get()


async def test_the_mic_keeps_up_with_its_track_on_a_busy_loop() -> None:
    """Three sessions keep the playground's loop busy: each turn of it runs many callbacks.
    The reader must take every frame that has arrived, not one frame per few loop turns
    (with a per-frame ``wait_for`` it fell 1.7-2.7 s behind the packets in a 3-page run;
    here, 0.9-1.4 s in 2 s)."""
    mic = BrowserAudioInput()
    track = _ArrivedMic()
    loop = asyncio.get_running_loop()
    stop = False

    def busy() -> None:  # 2 ms of other sessions' work, again at every loop turn
        if not stop:
            end = time.perf_counter() + 0.002
            while time.perf_counter() < end:
                pass
            loop.call_soon(busy)

    for _ in range(8):  # 16 ms a loop turn
        loop.call_soon(busy)
    start = time.monotonic()

    def arrivals() -> None:  # on time, as the decoder thread delivers them
        while track.sent < (time.monotonic() - start) / 0.02:
            track.arrive()
        if not stop:
            loop.call_later(0.005, arrivals)

    arrivals()
    mic.start(track)  # type: ignore[arg-type]
    await asyncio.sleep(2.0)
    stop = True
    behind = track.sent * 0.02 - mic.frames * 0.01  # seconds arrived but not yet read
    await mic.aclose()
    assert track.sent >= 90
    assert behind < 0.1, f"the mic is {behind:.2f} s behind its track"
