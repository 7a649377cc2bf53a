"""The heygen face against a local stand-in of LiveAvatar's API + WebSocket (127.0.0.1).

The real ``livekit.plugins.liveavatar.AvatarSession`` runs unchanged; only the network peer
(stand-in server) and the LiveKit room (stand-in object: no server exists here) are local.
The point of most tests: every exit path stops the paid session exactly once
(upstream livekit/agents #4193).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from avatarkit.errors import FaceStartError, MissingCredentialsError
from avatarkit.faces.heygen import NO_ROOM, HeyGenFace
from avatarkit.tokens import decode_grants
from standins.liveavatar import LiveAvatarStandin
from standins.room import NoRoomTransport, RoomTransport, StandinRoom

pytestmark = pytest.mark.standin

LK_SECRET = "lk-secret-for-tests-0123456789abcdef"


@pytest.fixture(autouse=True)
def livekit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The plugin mints the avatar's room token from these; nothing connects to the URL.
    monkeypatch.setenv("LIVEKIT_URL", "ws://127.0.0.1:7880")
    monkeypatch.setenv("LIVEKIT_API_KEY", "lk-key")
    monkeypatch.setenv("LIVEKIT_API_SECRET", LK_SECRET)
    monkeypatch.delenv("LIVEAVATAR_API_KEY", raising=False)
    monkeypatch.delenv("LIVEAVATAR_AVATAR_ID", raising=False)


def make_face(la: LiveAvatarStandin, **extra: Any) -> HeyGenFace:
    opts = {"avatar_id": "avatar-123", "api_url": la.api_url, "api_key": la.api_key,
            "join_timeout": 5.0, **extra}
    return HeyGenFace(opts)


def joins_room(room: StandinRoom, delay: float = 0.05) -> Any:
    """What LiveKit does once LiveAvatar's renderer connects with the minted token."""

    async def on_started(config: dict[str, Any]) -> None:
        claims = decode_grants(config["livekit_config"]["livekit_client_token"], LK_SECRET)

        async def later() -> None:
            await asyncio.sleep(delay)
            room.join(claims["sub"], attributes=claims.get("attributes") or {})

        asyncio.get_running_loop().create_task(later())

    return on_started


async def tone(seconds: float, rate: int = 48000, freq: float = 440.0) -> AsyncIterator[Any]:
    from livekit import rtc

    n = rate // 100
    total = int(seconds * 100)
    for i in range(total):
        t = (np.arange(n) + i * n) / rate
        samples = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
        yield rtc.AudioFrame(samples.tobytes(), rate, 1, n)


def dominant_freq(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


async def test_standin_heygen_audio_flows_and_session_stopped_once() -> None:
    from livekit.agents import Agent, AgentSession

    room = StandinRoom()
    async with LiveAvatarStandin(on_started=joins_room(room)) as la:
        face = make_face(la)
        session: AgentSession[Any] = AgentSession()
        await face.start(session, RoomTransport(room))
        await session.start(Agent(instructions="test"))
        try:
            handle = session.say("hello", audio=tone(1.0), add_to_chat_ctx=False)
            await asyncio.wait_for(handle.wait_for_playout(), 15)
            await asyncio.wait_for(la.speak_end_seen.wait(), 5)
        finally:
            # the composer's order: the session first, then the faces
            await session.aclose()
            await face.aclose()

        # the avatar's token: join this room only, as the avatar, on behalf of the agent
        token_call = la.paths("/v1/sessions/token")[0]
        assert token_call.headers["X-API-KEY"] == la.api_key
        body = token_call.json
        assert body["avatar_id"] == "avatar-123" and body["mode"] == "LITE"
        assert body["livekit_config"]["livekit_room"] == "test-room"
        claims = decode_grants(body["livekit_config"]["livekit_client_token"], LK_SECRET)
        assert claims["sub"] == "liveavatar-avatar-agent"
        assert claims["video"] == {"roomJoin": True, "room": "test-room", "canPublish": True,
                                   "canSubscribe": True, "canPublishData": True}
        assert claims["attributes"]["lk.publish_on_behalf"] == "agent-1"

        speaks = la.messages("agent.speak")
        assert speaks, "no agent.speak reached the avatar"
        assert la.messages("agent.speak_end")
        # 1 s of 48 kHz audio arrives as ~1 s of 24 kHz s16le mono, pitch preserved
        assert abs(len(la.speak_audio) - 24000 * 2) <= 24000 * 2 * 0.1
        assert abs(dominant_freq(bytes(la.speak_audio), 24000) - 440.0) < 5.0

        stops = la.stop_calls()
        assert len(stops) == 1
        sid = next(iter(la.sessions))
        assert stops[0].json == {"session_id": sid, "reason": "USER_DISCONNECTED"}
        assert la.sessions[sid]["state"] == "stopped"
        assert room.listener_count() == 0


async def test_standin_heygen_join_timeout_then_aclose_stops_session(monkeypatch) -> None:
    from avatarkit.faces import avatar_session

    # an avatar that never joined is still watched for (and removed) a while after close
    monkeypatch.setattr(avatar_session, "LATE_JOIN_S", 0.2)
    room = StandinRoom()  # nobody ever joins
    async with LiveAvatarStandin() as la:
        face = make_face(la, join_timeout=0.3)
        with pytest.raises(FaceStartError, match="did not join the room within 0.3 s"):
            await face.start(_session(), RoomTransport(room))
        assert la.stop_calls() == []  # start itself leaves cleanup to aclose
        await face.aclose()
        assert len(la.stop_calls()) == 1
        assert [s["state"] for s in la.sessions.values()] == ["stopped"]
        assert room.listener_count() == 1  # the late-join watch
        await asyncio.sleep(0.3)
        assert room.listener_count() == 0


async def test_standin_heygen_start_500_then_aclose_stops_created_session() -> None:
    room = StandinRoom()
    async with LiveAvatarStandin(start_status=500) as la:
        face = make_face(la)
        with pytest.raises(FaceStartError, match="heygen could not start"):
            await face.start(_session(), RoomTransport(room))
        assert len(la.paths("/v1/sessions/start")) >= 1
        assert la.stop_calls() == []
        await face.aclose()
        stops = la.stop_calls()
        assert len(stops) == 1
        assert stops[0].json["session_id"] == next(iter(la.sessions))
        assert stops[0].headers["Authorization"] == "Bearer " + next(
            iter(la.sessions.values()))["token"]


async def test_standin_heygen_aclose_twice_and_concurrently_stops_once() -> None:
    room = StandinRoom()
    async with LiveAvatarStandin(on_started=joins_room(room)) as la:
        face = make_face(la)
        await face.start(_session(), RoomTransport(room))
        await asyncio.wait_for(la.ws_connected.wait(), 5)
        await asyncio.gather(face.aclose(), face.aclose())
        await face.aclose()
        assert len(la.stop_calls()) == 1


async def test_standin_heygen_cancelled_mid_create_still_stops() -> None:
    """The composer's join timeout cancels start while /token is in flight. (It once cut
    the start after a fixed 0.1 s, which a loaded machine can pass before the request
    reaches the stand-in: now it cuts once the session is created, its answer 1 s away.)"""
    room = StandinRoom()
    async with LiveAvatarStandin(token_delay=1.0) as la:
        face = make_face(la)
        start = asyncio.ensure_future(face.start(_session(), RoomTransport(room)))
        for _ in range(500):
            if la.sessions or start.done():
                break
            await asyncio.sleep(0.01)
        assert la.sessions and not start.done(), "the create never arrived"
        start.cancel()  # what asyncio.wait_for does at the timeout
        with pytest.raises(asyncio.CancelledError):
            await start
        assert la.stop_calls() == []  # created, not yet stopped
        await face.aclose()
        assert len(la.stop_calls()) == 1


async def test_standin_heygen_bad_api_key_creates_nothing() -> None:
    room = StandinRoom()
    async with LiveAvatarStandin() as la:
        face = make_face(la, api_key="wrong")
        with pytest.raises(FaceStartError, match="heygen could not start"):
            await face.start(_session(), RoomTransport(room))
        await face.aclose()
        assert la.sessions == {} and la.stop_calls() == []


async def test_heygen_without_room_refuses_before_any_call() -> None:
    async with LiveAvatarStandin() as la:
        face = make_face(la)
        with pytest.raises(FaceStartError) as err:
            await face.start(_session(), NoRoomTransport())
        assert err.value.message == NO_ROOM
        await face.aclose()
        assert la.calls == []


async def test_heygen_aclose_without_start_is_a_noop() -> None:
    face = HeyGenFace({"avatar_id": "a"})
    await face.aclose()
    await face.aclose()


def test_heygen_required_env() -> None:
    livekit = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
    opts = HeyGenFace.parse_options({})
    assert HeyGenFace.required_env(opts) == ("LIVEAVATAR_API_KEY", "LIVEAVATAR_AVATAR_ID",
                                             *livekit)
    opts = HeyGenFace.parse_options({"avatar_id": "x", "api_key": "k"})
    assert HeyGenFace.required_env(opts) == livekit
    with pytest.raises(MissingCredentialsError, match="LIVEAVATAR_AVATAR_ID"):
        HeyGenFace.check_usable(HeyGenFace.parse_options({}), {"LIVEAVATAR_API_KEY": "k"})
    assert HeyGenFace.load_cost == 0.02
    assert "**" in repr(HeyGenFace.parse_options({"api_key": "secret-value"}).api_key)


def _session() -> Any:
    from livekit.agents import AgentSession

    return AgentSession()
