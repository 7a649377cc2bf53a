"""The ``hedra`` face: kept so old configs get a clear answer, not a traceback.

Hedra shut its realtime avatar service down (April 2026, livekit/agents PR #5460);
``livekit-plugins-hedra`` >= 1.7.1 raises ``HedraException`` in ``AvatarSession.__init__``.
The face is listed by ``avatarkit plugins`` as unavailable and refused at validation time
(:meth:`Part.check_usable` raises ``PartUnavailableError``, exit code 2). ``start`` refuses
too, without touching the plugin, in case validation was bypassed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import SecretStr

from ..errors import FaceStartError
from ..face import Face
from ..hookspecs import hookimpl
from ..part import PartOptions
from ..transports.base import Transport

UNAVAILABLE = (
    "Hedra shut down its realtime avatar service (April 2026); livekit-plugins-hedra >= 1.7.1 "
    "refuses to start. Use --face heygen (cloud), --face local (self-hosted, no account) or "
    "--face none (audio only)."
)


class HedraFace(Face):
    """Hedra realtime avatar: the service no longer exists."""

    name: ClassVar[str] = "hedra"
    summary: ClassVar[str] = "Hedra realtime avatar (service shut down; unavailable)."
    unavailable: ClassVar[str | None] = UNAVAILABLE
    load_cost: ClassVar[float] = 0.0

    class Options(PartOptions):
        """The old plugin's options, accepted so old configs reach the clear refusal."""


        avatar_id: str | None = None
        api_url: str | None = None
        api_key: SecretStr | None = None

    async def start(self, session: Any, transport: Transport) -> None:
        raise FaceStartError(f"face 'hedra' is unavailable: {UNAVAILABLE}")

    async def aclose(self) -> None:
        return None


@hookimpl
def register_faces(register: Any) -> None:
    register(HedraFace)
