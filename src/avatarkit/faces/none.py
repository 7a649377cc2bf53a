"""The audio-only face: no video; the agent's voice goes straight to the transport."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import FaceStartError
from ..face import Face
from ..hookspecs import hookimpl
from ..transports.base import Transport


class NoneFace(Face):
    """Audio only. Always the last face of a chain, so a conversation always starts."""

    name: ClassVar[str] = "none"
    summary: ClassVar[str] = "Audio only: no video; the agent's voice goes straight out."
    load_cost: ClassVar[float] = 0.0

    async def start(self, session: Any, transport: Transport) -> None:
        if transport.room is not None:
            return  # RoomIO publishes the agent's audio track itself
        output = transport.audio_output()
        if output is None:
            raise FaceStartError(f"the {transport.name} transport has no audio output")
        session.output.replace_audio_tail(output)

    async def aclose(self) -> None:
        return None


@hookimpl
def register_faces(register: Any) -> None:
    register(NoneFace)
