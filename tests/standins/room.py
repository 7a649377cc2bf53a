"""A stand-in for ``livekit.rtc.Room``: only what the avatar plugins and the
``AvatarSession`` base touch (read from livekit-agents 1.8 ``voice/avatar/_types.py`` and
``utils/participant.py``): ``name``, ``isconnected()``, ``local_participant.identity`` /
``.kind`` / ``.track_publications``, ``remote_participants`` (``identity``, ``state``,
``kind``, ``attributes``, ``track_publications`` with ``kind``/``subscribed``/``track``), and
``on``/``off``/``emit``. No LiveKit server exists here, so this object is the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

from avatarkit.transports.base import Transport


@dataclass
class FakePublication:
    sid: str
    kind: int
    subscribed: bool = True
    track: Any = None


@dataclass
class FakeParticipant:
    identity: str
    kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
    state: int = rtc.ParticipantState.PARTICIPANT_STATE_ACTIVE
    attributes: dict[str, str] = field(default_factory=dict)
    track_publications: dict[str, FakePublication] = field(default_factory=dict)


class StandinRoom(rtc.EventEmitter[str]):
    """A connected room with an agent as local participant and no one else (yet)."""

    def __init__(self, name: str = "test-room", local_identity: str = "agent-1") -> None:
        super().__init__()
        self.name = name
        self.local_participant = FakeParticipant(local_identity,
                                                 kind=rtc.ParticipantKind.PARTICIPANT_KIND_AGENT)
        self.remote_participants: dict[str, FakeParticipant] = {}
        self.connected = True

    def isconnected(self) -> bool:
        return self.connected

    def join(self, identity: str, *, kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT,
             attributes: dict[str, str] | None = None, publish_video: bool = True) -> None:
        """A participant joins (events in LiveKit's order) and publishes a video track."""
        p = FakeParticipant(identity, kind=kind, attributes=dict(attributes or {}))
        self.remote_participants[identity] = p
        self.emit("participant_connected", p)
        self.emit("participant_active", p)
        if publish_video:
            pub = FakePublication(f"TR_{identity}_video", rtc.TrackKind.KIND_VIDEO)
            p.track_publications[pub.sid] = pub
            self.emit("track_published", pub, p)

    def listener_count(self) -> int:
        return sum(len(v) for v in self._events.values())


class RoomTransport(Transport):
    """The room transport as faces see it: ``.room`` is the (stand-in) room."""

    name = "room"

    def __init__(self, room: Any) -> None:
        self._room = room

    @property
    def room(self) -> Any:
        return self._room

    async def wait_done(self, session: Any) -> None:
        return None


class NoRoomTransport(Transport):
    name = "playground"

    async def wait_done(self, session: Any) -> None:
        return None
