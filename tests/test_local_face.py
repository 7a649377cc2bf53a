"""LocalFace: options, early portrait checks, the off-room and room paths, the control API."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from avatarkit.errors import ConfigError, FaceStartError, UsageError
from avatarkit.face import EMOTIONS
from avatarkit.faces.local import LocalFace
from avatarkit.transports.base import Transport
from local_extra import reason

Image = pytest.importorskip("PIL.Image", reason=reason(["pillow"]))

RATE = 24000


# -- helpers ---------------------------------------------------------------------------

class CollectingSink:
    """A MediaSink that keeps what it gets, with arrival times."""

    def __init__(self) -> None:
        self.video: list[tuple[float, float, rtc.VideoFrame]] = []
        self.audio: list[tuple[float, float, rtc.AudioFrame]] = []

    async def push_video(self, frame: rtc.VideoFrame, timestamp: float) -> None:
        self.video.append((timestamp, time.monotonic(), frame))

    async def push_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None:
        self.audio.append((timestamp, time.monotonic(), frame))


class SinkTransport(Transport):
    name = "test-sink"

    def __init__(self) -> None:
        self.sink = CollectingSink()

    def media_sink(self) -> CollectingSink:
        return self.sink

    async def wait_done(self, session: Any) -> None:
        return None


class BareTransport(Transport):
    name = "bare"

    async def wait_done(self, session: Any) -> None:
        return None


class _Publication:
    async def wait_for_subscription(self) -> None:
        return None


class FakeRoom:
    """Just enough of ``rtc.Room`` for ``AvatarRunner`` (tracks are real, nothing is sent)."""

    def __init__(self) -> None:
        self.published: list[Any] = []
        self.local_participant = SimpleNamespace(publish_track=self._publish)

    async def _publish(self, track: Any, options: Any) -> _Publication:
        self.published.append(track)
        return _Publication()

    def on(self, event: str, callback: Any = None) -> Any:
        return callback

    def off(self, event: str, callback: Any = None) -> None:
        return None

    def isconnected(self) -> bool:
        return True


class RoomTransport(Transport):
    name = "fake-room"

    def __init__(self) -> None:
        self.fake = FakeRoom()

    @property
    def room(self) -> Any:
        return self.fake

    async def wait_done(self, session: Any) -> None:
        return None


def session() -> Any:
    from livekit.agents import AgentSession

    return AgentSession()  # not started: faces install their sink before session.start()


def voice(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return ((np.sin(2 * np.pi * 200 * t) + 0.4 * np.sin(2 * np.pi * 800 * t)) * env * 9000
            ).astype(np.int16)


async def speak(out: Any, samples: np.ndarray, flush: bool = True) -> None:
    """Feed agent audio the way AgentSession does: capture_frame per chunk, then flush."""
    n = RATE // 50  # 20 ms frames
    for i in range(0, len(samples), n):
        chunk = samples[i:i + n]
        await out.capture_frame(rtc.AudioFrame(chunk.tobytes(), RATE, 1, len(chunk)))
    if flush:
        out.flush()


# -- metadata and options --------------------------------------------------------------

def test_metadata() -> None:
    assert LocalFace.name == "local"
    assert LocalFace.env == ()
    assert LocalFace.emotions == EMOTIONS
    assert LocalFace.supports_background
    assert 0 < LocalFace.load_cost <= 1
    assert LocalFace.capabilities() == {
        "emotions": list(EMOTIONS), "background": True, "first_frame_latency": None,
        "backgrounds": ["original", "studio", "office", "sunset", "night"]}


def test_options() -> None:
    o = LocalFace.parse_options({"face_box": "10,20,110,160", "eyes": "40,60,80,60",
                                 "mouth": [60, 120], "emotion": "Happy"})
    assert o.face_box == (10, 20, 110, 160) and o.eyes == (40, 60, 80, 60)
    assert o.mouth == (60, 120) and o.emotion == "happy"
    assert o.control_port is None and o.width == 512 and o.fps == 25
    for bad in ({"emotion": "ecstatic"}, {"width": 511}, {"colour": "red"},
                {"face_box": "1,2,3"}, {"control_port": 70000}):
        with pytest.raises(ConfigError):
            LocalFace.parse_options(bad)


def test_check_usable_rejects_bad_portraits_early(tmp_path: Path) -> None:
    LocalFace.check_usable(LocalFace.parse_options({}), environ={})
    flat = tmp_path / "wall.png"
    Image.new("RGB", (256, 256), (90, 140, 200)).save(flat)
    corrupt = tmp_path / "bad.jpg"
    corrupt.write_bytes(b"not an image at all")
    tiny = tmp_path / "small.png"
    Image.new("RGB", (20, 20), (200, 160, 140)).save(tiny)
    for path in (tmp_path / "missing.png", corrupt, flat, tiny):
        with pytest.raises(UsageError) as err:
            LocalFace.check_usable(LocalFace.parse_options({"portrait": str(path)}), environ={})
        assert path.name in str(err.value)
    with pytest.raises(UsageError) as err:
        LocalFace.check_usable(LocalFace.parse_options({"background": "moonbase"}), environ={})
    assert "sunset" in str(err.value)


def test_import_is_light() -> None:
    code = ("import sys, avatarkit.faces.local as m; "
            "heavy = [n for n in ('livekit', 'numpy', 'PIL', 'av', 'aiohttp') if n in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing avatarkit.faces.local pulled in {out.stdout}"


def test_registers_through_the_hook() -> None:
    from avatarkit.faces import local

    got: list[type] = []
    local.register_faces(got.append)
    assert got == [LocalFace]


# -- running ---------------------------------------------------------------------------

async def test_no_room_and_no_sink_is_a_start_error() -> None:
    face = LocalFace()
    with pytest.raises(FaceStartError):
        await face.start(session(), BareTransport())
    await face.aclose()


async def test_off_room_path_plays_in_real_time() -> None:
    face = LocalFace({"motion": 0})
    transport = SinkTransport()
    sess = session()
    await face.start(sess, transport)
    try:
        out = sess.output.audio
        assert out is not None
        t0 = time.monotonic()
        await speak(out, voice(1.0))
        ev = await asyncio.wait_for(out.wait_for_playout(), 5.0)
        elapsed = time.monotonic() - t0
        assert not ev.interrupted
        assert ev.playback_position == pytest.approx(1.0, abs=0.02)
        assert 0.95 <= elapsed <= 1.5  # paced in real time, not faster
        await asyncio.sleep(0.3)
    finally:
        await face.aclose()
        await face.aclose()  # idempotent
    video = transport.sink.video
    audio = transport.sink.audio
    ts = np.array([v[0] for v in video])
    assert np.allclose(np.diff(ts), 0.04)  # media timestamps on the 25 fps grid
    assert ts[0] == 0.0
    wall = np.array([v[1] for v in video])
    rate = (len(wall) - 1) / (wall[-1] - wall[0])
    assert 22 <= rate <= 28, f"{rate:.1f} fps"
    assert len(audio) == 25  # 1 s of audio in 40 ms chunks, each stamped like its frame
    assert {a[0] for a in audio} <= set(ts.tolist())
    sent = np.concatenate([np.frombuffer(a[2].data, np.int16) for a in audio])
    assert np.array_equal(sent, voice(1.0))
    lat = face.metrics.last_first_frame_latency
    assert lat is not None and lat <= 0.06  # at most one frame interval (+ scheduling)


async def test_off_room_interruption_reports_real_position() -> None:
    face = LocalFace({"motion": 0})
    transport = SinkTransport()
    sess = session()
    await face.start(sess, transport)
    try:
        out = sess.output.audio
        await speak(out, voice(3.0), flush=False)
        t0 = time.monotonic()
        await asyncio.sleep(0.6)
        out.clear_buffer()
        cleared_at = time.monotonic() - t0
        ev = await asyncio.wait_for(out.wait_for_playout(), 2.0)
        assert ev.interrupted
        assert ev.playback_position == pytest.approx(cleared_at, abs=0.1)
        out.flush()
        n_audio = len(transport.sink.audio)
        await asyncio.sleep(0.25)
        assert len(transport.sink.audio) == n_audio  # nothing more is played
        assert len(transport.sink.video) > 0
        # the next reply plays normally
        await speak(out, voice(0.4))
        ev2 = await asyncio.wait_for(out.wait_for_playout(), 3.0)
        assert not ev2.interrupted and ev2.playback_position == pytest.approx(0.4, abs=0.02)
    finally:
        await face.aclose()


async def test_room_path_uses_avatar_runner() -> None:
    face = LocalFace({"motion": 0})
    transport = RoomTransport()
    sess = session()
    await face.start(sess, transport)
    try:
        out = sess.output.audio
        await speak(out, voice(0.6))
        ev = await asyncio.wait_for(out.wait_for_playout(), 5.0)
        assert not ev.interrupted and ev.playback_position == pytest.approx(0.6, abs=0.02)
        kinds = sorted(type(t).__name__ for t in transport.fake.published)
        assert kinds == ["LocalAudioTrack", "LocalVideoTrack"]
        assert face.metrics.last_first_frame_latency is not None
        assert face.error is None
    finally:
        await face.aclose()


async def test_set_emotion_and_background_validate() -> None:
    face = LocalFace()
    await face.set_emotion("sad", 0.5)
    assert face.control_state()["emotion"] == {"name": "sad", "intensity": 0.5}
    with pytest.raises(UsageError) as err:
        await face.set_emotion("grumpy")
    assert "neutral" in str(err.value)
    with pytest.raises(UsageError) as err:
        await face.set_background("moonbase")
    assert "studio" in str(err.value)
    await face.set_background("night")
    assert face.control_state()["background"] == "night"


# -- control API -----------------------------------------------------------------------

async def test_control_api() -> None:
    import aiohttp

    face = LocalFace({"control_port": 0, "control_token": "s3cret-token", "motion": 0})
    await face.start(session(), SinkTransport())
    try:
        ctl = face.control
        assert ctl.port and ctl.url.startswith("http://127.0.0.1:")
        addresses = ctl.addresses
        assert addresses and all(addr[0] == "127.0.0.1" for addr in addresses)
        good = {"Authorization": "Bearer s3cret-token"}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{ctl.url}/state") as r:
                assert r.status == 401
                assert "bearer" in (await r.json())["error"]
            async with http.get(f"{ctl.url}/state",
                                headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            async with http.post(f"{ctl.url}/emotion", json={"name": "happy"}) as r:
                assert r.status == 401
            async with http.get(f"{ctl.url}/state", headers=good) as r:
                assert r.status == 200
                state = await r.json()
                assert state["emotion"]["name"] == "neutral"
                assert state["capabilities"]["background"] is True
            async with http.post(f"{ctl.url}/emotion", headers=good,
                                 json={"name": "happy", "intensity": 0.7}) as r:
                assert r.status == 200
                assert (await r.json())["emotion"] == {"name": "happy", "intensity": 0.7}
            assert face._renderer.emotion == ("happy", 0.7)
            async with http.post(f"{ctl.url}/emotion", headers=good,
                                 json={"name": "ecstatic"}) as r:
                assert r.status == 400
                body = await r.json()
                assert "ecstatic" in body["error"] and "surprised" in body["hint"]
            async with http.post(f"{ctl.url}/emotion", headers=good,
                                 json={"name": "sad", "intensity": "lots"}) as r:
                assert r.status == 400
            async with http.post(f"{ctl.url}/emotion", headers=good, data=b"{nope") as r:
                assert r.status == 400 and "JSON" in (await r.json())["error"]
            async with http.post(f"{ctl.url}/background", headers=good,
                                 json={"background": "sunset"}) as r:
                assert r.status == 200 and (await r.json())["background"] == "sunset"
            async with http.post(f"{ctl.url}/background", headers=good,
                                 json={"background": "moonbase"}) as r:
                assert r.status == 400 and "studio" in (await r.json())["hint"]
            async with http.post(f"{ctl.url}/background", headers=good, json={}) as r:
                assert r.status == 400
            async with http.post(f"{ctl.url}/background", headers=good,
                                 json={"background": "/etc/hosts.png"}) as r:
                assert r.status == 400 and "face options" in (await r.json())["hint"]
        port = ctl.port
    finally:
        await face.aclose()
    with pytest.raises(OSError):  # stopped with the face
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_control_api_not_reachable_on_other_interfaces() -> None:
    others = set()
    for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
        if not info[4][0].startswith("127."):
            others.add(info[4][0])
    if not others:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    face = LocalFace({"control_port": 0})
    await face.start(session(), SinkTransport())
    try:
        for host in others:
            with pytest.raises(OSError):
                socket.create_connection((host, face.control.port), timeout=1).close()
    finally:
        await face.aclose()


async def test_control_api_generates_and_logs_a_token(caplog: pytest.LogCaptureFixture) -> None:
    face = LocalFace({"control_port": 0})
    with caplog.at_level("WARNING", logger="avatarkit.control"):
        await face.start(session(), SinkTransport())
    try:
        token = face.control.token
        assert len(token) >= 24
        assert sum(token in rec.getMessage() for rec in caplog.records) == 1
    finally:
        await face.aclose()


def test_control_state_is_json() -> None:
    json.dumps(LocalFace().control_state())


async def test_failing_sink_does_not_leave_the_agent_speaking() -> None:
    class BrokenSink(CollectingSink):
        async def push_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None:
            raise RuntimeError("disk full")

    transport = SinkTransport()
    transport.sink = BrokenSink()
    face = LocalFace({"motion": 0})
    sess = session()
    await face.start(sess, transport)
    try:
        await speak(sess.output.audio, voice(1.0))
        ev = await asyncio.wait_for(sess.output.audio.wait_for_playout(), 2.0)
        assert ev.interrupted
        assert isinstance(face.error, RuntimeError)
    finally:
        await face.aclose()


async def test_pause_and_resume_hold_the_audio() -> None:
    face = LocalFace({"motion": 0})
    transport = SinkTransport()
    sess = session()
    await face.start(sess, transport)
    try:
        out = sess.output.audio
        assert out.can_pause  # AgentSession may pause on a possible interruption
        await speak(out, voice(1.0))
        await asyncio.sleep(0.3)
        out.pause()
        await asyncio.sleep(0.05)
        held_audio, held_video = len(transport.sink.audio), len(transport.sink.video)
        await asyncio.sleep(0.4)
        assert len(transport.sink.audio) == held_audio  # no audio while paused
        assert len(transport.sink.video) >= held_video + 8  # video keeps going
        out.resume()
        ev = await asyncio.wait_for(out.wait_for_playout(), 3.0)
        assert not ev.interrupted and ev.playback_position == pytest.approx(1.0, abs=0.02)
        sent = np.concatenate([np.frombuffer(a[2].data, np.int16) for a in transport.sink.audio])
        assert np.array_equal(sent, voice(1.0))
    finally:
        await face.aclose()
