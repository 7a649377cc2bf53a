"""The real LiveKit server fixture: participants join over loopback and media flows."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.room


async def test_two_participants_exchange_audio(livekit_server) -> None:
    from livekit import api, rtc

    room_name = "fixture-check"
    alice, bob = rtc.Room(), rtc.Room()
    subscribed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @bob.on("track_subscribed")
    def _on_track(track: rtc.Track, _pub: object, participant: rtc.RemoteParticipant) -> None:
        if not subscribed.done():
            subscribed.set_result(participant.identity)

    await alice.connect(livekit_server.url, livekit_server.token(room_name, "alice"))
    await bob.connect(livekit_server.url, livekit_server.token(room_name, "bob"))
    source = rtc.AudioSource(16000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    await alice.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))

    async def feed() -> None:
        while True:
            await source.capture_frame(rtc.AudioFrame.create(16000, 1, 160))

    feeder = asyncio.create_task(feed())
    lkapi = livekit_server.api()
    try:
        assert await asyncio.wait_for(subscribed, 15) == "alice"
        listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room_name))
        assert sorted(p.identity for p in listed.participants) == ["alice", "bob"]
    finally:
        feeder.cancel()
        await lkapi.aclose()
        await alice.disconnect()
        await bob.disconnect()
