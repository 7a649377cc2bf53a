"""The boson face and its adapter (``AvatarSessionFace``) on every exit path.

Real: livekit-server, the agent's and the avatar's room connections, the official
``livekit-plugins-boson-avatar``. Stand-in: Boson's HTTP API. Here the test itself plays
the provider's avatar (it joins with the token the plugin sent and publishes video), so it
can make the avatar leave, unpublish or freeze; outside a job nothing but avatarkit removes
the avatar participant.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit import api, rtc

from avatarkit.errors import ConfigError, FaceStartError, MissingCredentialsError
from avatarkit.faces.avatar_session import AvatarSessionFace
from avatarkit.registry import Registry
from avatarkit.tokens import decode_grants
from room_worker import participants, wait_until
from standins.boson import BosonStandin
from standins.room import RoomTransport

pytestmark = [pytest.mark.room, pytest.mark.standin]

AVATAR = "boson-avatar-agent"


@pytest.fixture
async def agent_room(livekit_server, monkeypatch, request) -> AsyncIterator[rtc.Room]:
    """The agent's connection to a fresh room (LIVEKIT_* point at the real server)."""
    for var, value in livekit_server.env().items():
        monkeypatch.setenv(var, value)
    name = "face-" + request.node.name[-40:].replace("_", "-")
    token = (api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
             .with_identity("agent-1").with_kind("agent")
             .with_grants(api.VideoGrants(room_join=True, room=name)).to_jwt())
    room = rtc.Room()
    await room.connect(livekit_server.url, token)
    try:
        yield room
    finally:
        await room.disconnect()


class Avatar:
    """The provider's avatar, played by the test: joins with the plugin's token."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.source = rtc.VideoSource(64, 64)
        self.publication: Any = None
        self.sending = True
        self._task: asyncio.Task[None] | None = None

    async def join(self, url: str, token: str) -> Avatar:
        await self.room.connect(url, token, rtc.RoomOptions(auto_subscribe=False))
        audio = rtc.LocalAudioTrack.create_audio_track("avatar_audio", rtc.AudioSource(24000, 1))
        await self.room.local_participant.publish_track(
            audio, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        track = rtc.LocalVideoTrack.create_video_track("avatar_video", self.source)
        self.publication = await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA))
        self._task = asyncio.ensure_future(self._frames())
        return self

    async def _frames(self) -> None:
        frame = rtc.VideoFrame(64, 64, rtc.VideoBufferType.RGBA, bytearray(64 * 64 * 4))
        while True:
            if self.sending:
                frame.data[0] = (frame.data[0] + 1) % 256
                self.source.capture_frame(frame)
            await asyncio.sleep(0.04)

    async def leave(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.room.disconnect()


def on_create(boson: BosonStandin, livekit_url: str, avatars: list[Avatar]) -> None:
    """Make the stand-in's start join the test's avatar, like a provider's renderer does."""

    async def join(session: Any) -> None:
        avatars.append(await Avatar().join(livekit_url, session.transport["participant_token"]))

    boson.on_created = join


def make_face(boson: BosonStandin, **options: Any) -> Any:
    from avatarkit_boson import BosonFace

    return BosonFace({"avatar_id": boson.avatar_id, "api_url": boson.api_url,
                      "api_key": boson.api_key, "join_timeout": 20, **options})


def new_session() -> Any:
    from livekit.agents import AgentSession

    return AgentSession()


@pytest.fixture
async def http() -> AsyncIterator[None]:
    from livekit.agents.utils import http_context

    async with http_context.open():  # what the composer provides off a job
        yield


async def test_standin_boson_start_request_and_stop_once(livekit_server, agent_room,
                                                         http) -> None:
    avatars: list[Avatar] = []
    async with BosonStandin() as boson:
        on_create(boson, livekit_server.url, avatars)
        face = make_face(boson, width=640, height=360, max_duration_seconds=600)
        session = new_session()
        await face.start(session, RoomTransport(agent_room))
        assert face.failure() is None and face.join_seconds is not None
        assert AVATAR in await participants(livekit_server, agent_room.name)

        call = boson.start_calls()[0]
        assert call.headers["Authorization"] == f"Bearer {boson.api_key}"
        assert str(uuid.UUID(call.headers["Idempotency-Key"])) == call.headers["Idempotency-Key"]
        assert call.headers["User-Agent"].startswith("livekit-plugins-boson-avatar/")
        t = call.json["transport"]
        assert t == {**t, "type": "livekit", "url": livekit_server.url,
                     "room_name": agent_room.name, "participant_identity": AVATAR,
                     "publisher_identity": "agent-1", "audio_source": "data_stream"}
        assert call.json["output"] == {"width": 640, "height": 360}
        assert call.json["max_duration_seconds"] == 600
        claims = decode_grants(t["participant_token"], livekit_server.api_secret)
        assert claims["attributes"]["lk.publish_on_behalf"] == "agent-1"
        # the agent's audio now goes to the avatar over lk.audio_stream
        assert type(session.output.audio).__name__ == "DataStreamAudioOutput"

        await asyncio.gather(face.aclose(), face.aclose())
        await face.aclose()
        sid = boson.only_session().id
        assert [c.path for c in boson.stop_calls()] == [f"/sessions/{sid}"]
        # no job here: only avatarkit's own RoomService call removes the avatar
        await wait_until(lambda: avatars[0].room.connection_state
                         == rtc.ConnectionState.CONN_DISCONNECTED, 15, "the avatar's removal")
        assert AVATAR not in await participants(livekit_server, agent_room.name)
        await avatars[0].leave()


async def test_standin_boson_never_joins_then_stopped_once(agent_room, http) -> None:
    async with BosonStandin() as boson:  # the session is created, no avatar ever joins
        face = make_face(boson, join_timeout=1)
        with pytest.raises(FaceStartError, match="did not join the room within 1.0 s"):
            await face.start(new_session(), RoomTransport(agent_room))
        await face.aclose()
        assert len(boson.stop_calls()) == 1
        assert boson.only_session().state == "terminated"


async def test_standin_boson_join_deadline_inside_composer_timeout(agent_room, http) -> None:
    async with BosonStandin() as boson:
        face = make_face(boson, join_timeout=60)
        face.join_deadline = asyncio.get_running_loop().time() + 1.5  # the composer's
        with pytest.raises(FaceStartError, match="did not join the room within 1.0 s"):
            await asyncio.wait_for(face.start(new_session(), RoomTransport(agent_room)), 1.5)
        await face.aclose()
        assert len(boson.stop_calls()) == 1


async def test_standin_boson_cancelled_mid_create_stopped_once(agent_room, http) -> None:
    """The composer's timeout cancels start while the provider is creating the session."""
    async with BosonStandin(create_delay=1.0) as boson:
        face = make_face(boson)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(face.start(new_session(), RoomTransport(agent_room)), 0.3)
        await face.aclose()
        assert len(boson.sessions) == 1  # created (and billed) before the answer came
        assert len(boson.stop_calls()) == 1  # ended once: plugin compensation + our close


async def test_standin_boson_refused_creates_nothing(agent_room, http) -> None:
    async with BosonStandin(refuse_status=403) as boson:
        face = make_face(boson)
        with pytest.raises(FaceStartError, match="403"):
            await face.start(new_session(), RoomTransport(agent_room))
        await face.aclose()
        assert len(boson.start_calls()) == 1  # a 4xx is final, not retried
        assert boson.sessions == {} and boson.stop_calls() == []


@pytest.mark.parametrize("how", ["leaves", "unpublishes", "freezes"])
async def test_standin_boson_failure_detected(livekit_server, agent_room, http, how) -> None:
    avatars: list[Avatar] = []
    async with BosonStandin() as boson:
        on_create(boson, livekit_server.url, avatars)
        face = make_face(boson, video_stall_timeout=1.5)
        await face.start(new_session(), RoomTransport(agent_room))
        await asyncio.sleep(2.5)  # longer than the stall timeout: a healthy avatar is fine
        assert face.failure() is None
        avatar = avatars[0]
        if how == "leaves":
            await avatar.leave()
            expected = "left the room"
        elif how == "unpublishes":
            await avatar.room.local_participant.unpublish_track(avatar.publication.sid)
            expected = "unpublished its video"
        else:
            avatar.sending = False  # connected, publishing, but no frames
            expected = "no video from the Boson avatar for 1.5 s"
        error = await wait_until(face.failure, 30, f"the face to notice the avatar {how}")
        assert expected in str(error)
        await face.aclose()
        assert face.failure() is None  # a closed face reports nothing
        assert len(boson.stop_calls()) == 1
        await avatar.leave()


class _LogsAndReturns:
    """The shape of simli/avatartalk's start: the provider call fails, the plugin only
    logs an error and returns (no exception, no avatar ever)."""

    avatar_identity = "silent-avatar"

    async def start(self, session: Any, room: Any) -> None:
        logging.getLogger("livekit.plugins.silentprovider").error("API error: 500")

    async def wait_for_join(self, *, timeout: float) -> None:
        await asyncio.sleep(timeout)
        raise asyncio.TimeoutError

    async def aclose(self) -> None:
        return None


_LogsAndReturns.__module__ = "livekit.plugins.silentprovider.avatar"


class SilentFace(AvatarSessionFace):
    name = "silent"
    provider = "Silent"

    def build_avatar(self, identity: str | None = None) -> Any:
        return _LogsAndReturns()


async def test_start_that_only_logged_an_error_fails_at_once(agent_room) -> None:
    face = SilentFace({"join_timeout": 60})
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(FaceStartError, match="reported an error: API error: 500"):
        await face.start(new_session(), RoomTransport(agent_room))
    assert loop.time() - t0 < 30  # not the 60 s join timeout
    await face.aclose()
    assert not logging.getLogger("livekit.plugins.silentprovider").handlers


def test_boson_is_a_third_party_plugin_with_options_and_env() -> None:
    from avatarkit_boson import BosonFace

    info = Registry.load(environ={}).info("face", "boson")
    assert info.distribution == "avatarkit-boson" and info.cls is BosonFace
    assert BosonFace.plugin_stops_session and BosonFace.max_session_s == 14_400
    livekit = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
    opts = BosonFace.parse_options({})
    assert BosonFace.required_env(opts) == (
        "BOSON_API_KEY", "BOSON_AVATAR_ID", "BOSON_AVATAR_API_URL", *livekit)
    with pytest.raises(MissingCredentialsError, match="BOSON_AVATAR_API_URL"):
        BosonFace.check_usable(opts, {"BOSONAI_API_KEY": "k", "BOSON_AVATAR_ID": "a",
                                      **dict.fromkeys(livekit, "x")})
    BosonFace.check_usable(opts, {"BOSONAI_API_KEY": "k", "BOSON_AVATAR_ID": "a",
                                  "BOSON_AVATAR_API_URL": "https://b",
                                  **dict.fromkeys(livekit, "x")})
    for bad in ({"width": 640}, {"max_duration_seconds": 20_000}, {"api_url": "ftp://x"},
                {"colour": "red"}):
        with pytest.raises(ConfigError):
            BosonFace.parse_options(bad)
    assert "**" in repr(BosonFace.parse_options({"api_key": "secret"}).api_key)
