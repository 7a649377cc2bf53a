"""What the emotion/background tools tell the model: the change made, a value the face
cannot show, a face that failed to change, and a face gone (audio only)."""

from __future__ import annotations

from typing import Any

from avatarkit.errors import CapabilityError
from avatarkit.face import Face
from avatarkit.face_tools import FaceToolCalls, face_tools


class MoodFace(Face):
    name = "mood"
    emotions = ("neutral", "happy")
    supports_background = True
    backgrounds = ("studio",)

    def __init__(self, broken: bool = False) -> None:
        super().__init__()
        self.shown_emotion = "neutral"
        self.broken = broken

    async def start(self, session: Any, transport: Any) -> None:  # pragma: no cover
        pass

    async def aclose(self) -> None:  # pragma: no cover
        pass

    async def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        if self.broken:
            raise CapabilityError("the renderer is restarting")
        self.shown_emotion = name

    async def set_background(self, background: str) -> None:
        pass


async def test_the_tools_answer_what_happened() -> None:
    face: Face | None = MoodFace()
    record = FaceToolCalls()
    emotion, background = face_tools(MoodFace(), lambda: face, record)
    assert emotion.info.name == "set_emotion" and background.info.name == "set_background"

    assert await emotion("happy") == "Your face now shows: happy."
    assert face.shown_emotion == "happy"  # type: ignore[union-attr]
    assert "cannot show 'angry'" in await emotion("angry")
    assert await background("studio") == "The background is now: studio."
    assert "cannot show the 'beach' background" in await background("beach")

    face = MoodFace(broken=True)
    assert await emotion("happy") == ("The face could not change (the renderer is "
                                      "restarting).")
    face = None  # fell back to audio only
    assert "video stopped (audio only now)" in await emotion("happy")
    assert [call[1:3] for call in record.calls] == [
        ("set_emotion", "happy"), ("set_emotion", "angry"), ("set_background", "studio"),
        ("set_background", "beach"), ("set_emotion", "happy"), ("set_emotion", "happy")]
