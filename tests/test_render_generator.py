"""PortraitVideoGenerator: A/V chunking, segment ends, idle frames, interruption."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd

from avatarkit.render.generator import PortraitVideoGenerator
from avatarkit.render.renderer import PortraitRenderer

pytestmark = pytest.mark.local_extra  # the offline engines / the renderer

RATE = 24000


def voice(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 900 * t)
    return (x * 8000).astype(np.int16)


def frames(samples: np.ndarray, rate: int = RATE, ms: int = 10) -> list[rtc.AudioFrame]:
    n = rate * ms // 1000
    return [rtc.AudioFrame(samples[i:i + n].tobytes(), rate, 1, len(samples[i:i + n]))
            for i in range(0, len(samples), n)]


def make(**kw: object) -> PortraitVideoGenerator:
    r = PortraitRenderer(seed=1, blink=False, motion=0.0)
    return PortraitVideoGenerator(r, **kw)  # type: ignore[arg-type]


def mouth(frame: rtc.VideoFrame, gen: PortraitVideoGenerator) -> np.ndarray:
    arr = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 4)
    (mx, my), mw = gen.renderer.portrait.layout.mouth, gen.renderer.portrait.layout.mouth_width
    return arr[int(my - 0.6 * mw):int(my + mw), int(mx - mw):int(mx + mw), :3].copy()


async def take(gen: PortraitVideoGenerator, n: int) -> list[object]:
    it = gen.__aiter__()
    return [await it.__anext__() for _ in range(n)]


async def test_audio_is_rechunked_one_chunk_per_video_frame() -> None:
    gen = make(idle_wait=0.0)
    for f in frames(voice(1.0)):
        await gen.push_audio(f)
    await gen.push_audio(AudioSegmentEnd())
    items = await take(gen, 51)
    videos = [i for i in items if isinstance(i, rtc.VideoFrame)]
    audios = [i for i in items if isinstance(i, rtc.AudioFrame)]
    assert len(videos) == len(audios) == 25
    for k in range(25):  # strictly video, then the 40 ms that plays with it
        assert isinstance(items[2 * k], rtc.VideoFrame)
        assert isinstance(items[2 * k + 1], rtc.AudioFrame)
        assert items[2 * k + 1].samples_per_channel == 960  # type: ignore[attr-defined]
    assert isinstance(items[50], AudioSegmentEnd)
    assert videos[0].width == 512 and videos[0].type == rtc.VideoBufferType.RGBA
    sent = np.concatenate([np.frombuffer(a.data, np.int16) for a in audios])
    assert np.array_equal(sent, voice(1.0))  # bit-exact, nothing lost or duplicated
    assert gen.metrics.last_first_frame_latency is not None
    assert gen.metrics.segments[-1].played == pytest.approx(1.0)


async def test_partial_last_chunk_is_padded_and_timed() -> None:
    gen = make(idle_wait=0.0)
    for f in frames(voice(0.1)):  # 100 ms = 2.5 frames
        await gen.push_audio(f)
    await gen.push_audio(AudioSegmentEnd())
    items = await take(gen, 7)
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["VideoFrame", "AudioFrame"] * 3 + ["AudioSegmentEnd"]
    assert gen.metrics.segments[-1].played == pytest.approx(0.1)


async def test_other_sample_rates_are_resampled() -> None:
    gen = make(idle_wait=0.0)
    src = voice(1.0, 22050)
    for f in frames(src, 22050):
        await gen.push_audio(f)
    await gen.push_audio(AudioSegmentEnd())
    items = await take(gen, 60)
    audio = [i for i in items if isinstance(i, rtc.AudioFrame)]
    assert all(a.sample_rate == RATE for a in audio)
    assert abs(len(audio) - 25) <= 1
    assert any(isinstance(i, AudioSegmentEnd) for i in items)


async def test_idle_frames_without_audio() -> None:
    gen = make()  # waits up to half a frame for audio, then draws an idle frame
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    items = await take(gen, 5)
    assert all(isinstance(i, rtc.VideoFrame) for i in items)
    assert loop.time() - t0 >= 4 * 0.5 / 25 * 0.9


async def test_audio_wakes_an_idle_wait_at_once() -> None:
    gen = make(idle_wait=5.0)
    it = gen.__aiter__()
    task = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.05)
    assert not task.done()
    for f in frames(voice(0.04)):
        await gen.push_audio(f)
    item = await asyncio.wait_for(task, 1.0)
    assert isinstance(item, rtc.VideoFrame)
    assert isinstance(await it.__anext__(), rtc.AudioFrame)
    lat = gen.metrics.last_first_frame_latency
    assert lat is not None and lat < 0.5


async def test_clear_buffer_closes_mouth_on_next_frame() -> None:
    gen = make(idle_wait=0.0)
    rest = mouth((await take(gen, 1))[0], gen)  # type: ignore[arg-type]
    for f in frames(voice(2.0)):
        await gen.push_audio(f)
    items = await take(gen, 20)  # 10 frames + their audio
    last_video = [i for i in items if isinstance(i, rtc.VideoFrame)][-1]
    assert np.abs(mouth(last_video, gen).astype(int) - rest).mean() > 3  # talking
    assert gen.playback_position == pytest.approx(0.4)
    # the runner reads the position it counted, then clears
    gen.clear_buffer()
    nxt = await take(gen, 3)
    assert all(isinstance(i, rtc.VideoFrame) for i in nxt)  # no stale audio follows
    assert np.array_equal(mouth(nxt[0], gen), rest)  # closed within one frame
    assert gen.playback_position == 0.0
    assert gen.metrics.segments[-1].interrupted


async def test_clear_between_video_and_its_audio_drops_that_audio() -> None:
    gen = make(idle_wait=0.0)
    for f in frames(voice(1.0)):
        await gen.push_audio(f)
    first = await take(gen, 1)
    assert isinstance(first[0], rtc.VideoFrame)
    gen.clear_buffer()
    assert isinstance((await take(gen, 1))[0], rtc.VideoFrame)


async def test_new_segment_after_interruption() -> None:
    gen = make(idle_wait=0.0)
    for f in frames(voice(1.0)):
        await gen.push_audio(f)
    await take(gen, 6)
    gen.clear_buffer()
    await gen.push_audio(AudioSegmentEnd())  # the interrupted segment's late flush
    for f in frames(voice(0.2)):
        await gen.push_audio(f)
    await gen.push_audio(AudioSegmentEnd())
    items = await take(gen, 12)
    kinds = [type(i).__name__ for i in items]
    assert kinds[0] == "AudioSegmentEnd"  # stale end, ignored by runners (not playing)
    assert kinds[1:] == ["VideoFrame", "AudioFrame"] * 5 + ["AudioSegmentEnd"]
    assert len(gen.metrics.first_frame_latency) == 2


async def test_aclose_stops_iteration() -> None:
    gen = make()
    await gen.aclose()
    with pytest.raises(StopAsyncIteration):
        await gen.__aiter__().__anext__()


async def test_set_background_and_emotion_while_running() -> None:
    gen = make(idle_wait=0.0)
    before = (await take(gen, 1))[0]
    await gen.set_background("#ff0000")
    gen.set_emotion("surprised")
    after = [await gen.__aiter__().__anext__() for _ in range(15)][-1]
    a = np.frombuffer(after.data, np.uint8)  # type: ignore[attr-defined]
    b = np.frombuffer(before.data, np.uint8)  # type: ignore[attr-defined]
    assert tuple(a[:3]) == (255, 0, 0) and tuple(b[:3]) != (255, 0, 0)


async def test_empty_segment_still_ends() -> None:
    gen = make(idle_wait=0.0)
    await gen.push_audio(rtc.AudioFrame(b"", RATE, 1, 0))
    await gen.push_audio(AudioSegmentEnd())
    items = await take(gen, 3)
    assert any(isinstance(i, AudioSegmentEnd) for i in items)
    assert not any(isinstance(i, rtc.AudioFrame) for i in items)


async def test_pause_holds_audio_until_resume() -> None:
    gen = make(idle_wait=0.0)
    for f in frames(voice(0.2)):
        await gen.push_audio(f)
    await gen.push_audio(AudioSegmentEnd())
    gen.pause()
    held = await take(gen, 5)
    assert all(isinstance(i, rtc.VideoFrame) for i in held)
    gen.resume()
    items = await take(gen, 11)
    assert [type(i).__name__ for i in items] == ["VideoFrame", "AudioFrame"] * 5 + [
        "AudioSegmentEnd"]
