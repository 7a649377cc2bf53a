"""The stand-in provider's avatar worker: a process that joins a real LiveKit room.

Launched by :class:`standins.boson.BosonStandin` the way a provider launches its renderer:
with the LiveKit URL and the token the plugin minted (``lk.publish_on_behalf`` = the agent).
It receives the agent's audio on the ``lk.audio_stream`` byte stream
(``DataStreamAudioReceiver``), renders it with avatarkit's own portrait renderer (small, so
it is cheap; the mouth follows the audio) and publishes video + audio with ``AvatarRunner``,
which also answers ``lk.playback_finished`` and handles ``lk.clear_buffer``.

Every protocol event is appended to ``$AVATAR_EVENTS`` as a JSON line, so tests can check
what the avatar saw. SIGTERM (the provider ending the session) leaves the room cleanly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

from livekit import rtc
from livekit.agents.voice.avatar import (
    AudioSegmentEnd,
    AvatarOptions,
    AvatarRunner,
    DataStreamAudioReceiver,
)

from avatarkit.render.generator import PortraitVideoGenerator
from avatarkit.render.renderer import PortraitRenderer

FPS = 15.0
SAMPLE_RATE = int(os.environ.get("AVATAR_SAMPLE_RATE", "24000"))  # what the agent sends


def report(event: str, **data: Any) -> None:
    with open(os.environ["AVATAR_EVENTS"], "a") as out:
        out.write(json.dumps({"event": event, "t": time.time(), **data}) + "\n")


class Receiver(DataStreamAudioReceiver):
    """The stock receiver, reporting what it sends back to the agent."""

    def notify_playback_finished(self, playback_position: float, interrupted: bool) -> None:
        report("playback_finished", position=round(playback_position, 3),
               interrupted=interrupted)
        super().notify_playback_finished(playback_position, interrupted)

    def notify_playback_started(self) -> None:
        report("playback_started")
        super().notify_playback_started()


class Generator(PortraitVideoGenerator):
    """The portrait generator, reporting each audio segment it received."""

    seconds = 0.0

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        if isinstance(frame, AudioSegmentEnd):
            report("segment_end", seconds=round(self.seconds, 3))
            self.seconds = 0.0
        else:
            if self.seconds == 0.0:
                report("segment_audio", sample_rate=frame.sample_rate)
            self.seconds += frame.duration
        await super().push_audio(frame)


async def main() -> None:
    width = int(os.environ.get("AVATAR_WIDTH", "128"))
    height = int(os.environ.get("AVATAR_HEIGHT", "128"))
    room = rtc.Room()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)

    def on_disconnected(reason: int) -> None:  # PARTICIPANT_REMOVED: the session was ended
        report("disconnected", reason=rtc.DisconnectReason.Name(reason))
        done.set()

    def on_data(packet: rtc.DataPacket) -> None:
        if b'"END_CALL"' in packet.data:  # Runway's end of session
            report("end_call")
            done.set()

    room.on("disconnected", on_disconnected)
    room.on("data_received", on_data)
    room.on("local_track_published",
            lambda pub, _t: report("published", kind=rtc.TrackKind.Name(pub.kind)))
    await room.connect(os.environ["AVATAR_LIVEKIT_URL"], os.environ["AVATAR_TOKEN"],
                       rtc.RoomOptions(auto_subscribe=False))
    report("joined", identity=room.local_participant.identity, room=room.name,
           attributes=dict(room.local_participant.attributes))

    renderer = PortraitRenderer(None, width=width, height=height, fps=FPS,
                                sample_rate=SAMPLE_RATE, seed=1)
    renderer.warm()
    receiver = Receiver(room, sender_identity=os.environ["AVATAR_PUBLISHER"])
    receiver.on("clear_buffer", lambda: report("clear_buffer"))
    runner = AvatarRunner(
        room, audio_recv=receiver, video_gen=Generator(renderer),
        options=AvatarOptions(video_width=width, video_height=height, video_fps=FPS,
                              audio_sample_rate=SAMPLE_RATE, audio_channels=1))
    await runner.start()
    report("ready")
    await done.wait()
    report("leaving")
    await runner.aclose()
    await room.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
