"""An example third-party plugin: the built-in face with a house style.

Install it (`pip install -e examples/plugin-sparkle`) and it shows up in `avatarkit plugins`;
run it with `avatarkit demo --face sparkle`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from avatarkit import hookimpl
from avatarkit.faces.local import LocalFace


class SparkleFace(LocalFace):
    """The self-hosted portrait face, always happy, on a sunset backdrop."""

    name: ClassVar[str] = "sparkle"
    summary: ClassVar[str] = "Example plugin: the built-in face, happy, on a sunset backdrop."

    async def start(self, session: Any, transport: Any) -> None:
        await super().start(session, transport)
        await self.set_background("sunset")
        await self.set_emotion("happy", 0.8)


@hookimpl
def register_faces(register: Any) -> None:
    register(SparkleFace)
