"""Pieces of the file transport and demo: --ask speech, the mp4 recorder, the table."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc

from avatarkit.demo import latency_table, synthesize_question
from avatarkit.report import SessionReport, TurnRecord
from avatarkit.transports.mp4_recorder import Mp4Recorder


@pytest.mark.local_extra
def test_ask_text_is_spoken_and_recognised() -> None:
    from avatarkit.engines.whisper_stt import load_whisper_model

    samples = synthesize_question("What is the capital of France?")
    assert len(samples) > 16000
    segments, _ = load_whisper_model().transcribe(samples.astype(np.float32) / 32768.0,
                                                  language="en", beam_size=1)
    assert "capital" in " ".join(s.text for s in segments).lower()


def _frame(value: int) -> rtc.VideoFrame:
    data = np.full((64, 64, 4), value, dtype=np.uint8)
    return rtc.VideoFrame(64, 64, rtc.VideoBufferType.RGBA, data.tobytes())


def test_recorder_places_media_by_timestamp_not_arrival(tmp_path: Path) -> None:
    import av

    path = tmp_path / "t.mp4"

    async def write() -> None:
        rec = Mp4Recorder(path, fps=25)
        for i in range(50):  # 2 s of video
            await rec.push_video(_frame(255 if i >= 25 else 0), i / 25)
        tone = (np.sin(np.arange(4800) / 48000 * 2 * np.pi * 440) * 12000).astype(np.int16)
        # 0.1 s of tone at t=1.0 s, delivered late (after all the video): must sit at 1.0 s.
        await rec.push_audio(rtc.AudioFrame(tone.tobytes(), 48000, 1, 4800), 1.0)
        await rec.aclose()

    asyncio.run(write())
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert abs(float(v.duration * v.time_base) - float(a.duration * a.time_base)) < 0.1
    with av.open(str(path)) as c:
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    rate = 48000
    loud = np.flatnonzero(np.abs(pcm) > 0.1)
    assert abs(loud[0] / rate - 1.0) < 0.05, loud[0] / rate


def test_latency_table_has_stages_turns_and_medians() -> None:
    report = SessionReport(brain="local", turns=[
        TurnRecord("a", "b", latencies={"e2e_latency": 1.0, "face_first_frame": 0.02}),
        TurnRecord("c", "d", latencies={"e2e_latency": 3.0}),
    ])
    table = latency_table(report, [1.1, 2.9])
    lines = table.splitlines()
    assert "turn 1" in lines[0] and "turn 2" in lines[0] and "median" in lines[0]
    e2e = next(line for line in lines if line.startswith("speech end -> agent audio"))
    assert e2e.split()[-3:] == ["1.000", "3.000", "2.000"]
    assert next(line for line in lines if "measured" in line).split()[-1] == "2.000"


async def test_closing_the_audio_output_never_swallows_a_cancellation() -> None:
    """Ctrl-C during the demo's cleanup must still end it as interrupted: a close that waits
    for its playback task may not eat the cancellation of the task closing it."""
    from avatarkit.transports.file import MediaClock, PacedAudioOutput

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)  # still flushing when the closer is cancelled
            raise

    output = PacedAudioOutput(sink=None, clock=MediaClock())  # type: ignore[arg-type]
    output._task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    closer = asyncio.create_task(output.aclose())
    await asyncio.sleep(0.1)
    closer.cancel()
    try:
        await closer
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("aclose() swallowed the cancellation of its caller")
    assert closer.cancelled()
