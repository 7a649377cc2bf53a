"""The stable API of avatarkit for plugin authors: everything a plugin imports.

A plugin imports from here (or the package root) and nothing else of avatarkit: these names
keep their meaning within a major version (see docs/plugins.md, "Stable API"). Names load on
first use, so importing this module stays cheap (no LiveKit, no numpy).

``Register`` is the callback a ``register_*`` hook receives; ``AgentSession`` is the
session a face attaches to (``livekit.agents.AgentSession``, imported only when used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    pass

API_VERSION = "1.0"
"""Version of this API: the major part changes only when a plugin written for it may break."""

_WHERE = {
    "AgentSession": "livekit.agents",
    "Brain": ".brain", "BrainParts": ".brain", "Check": ".checks", "EMOTIONS": ".emotions",
    "Face": ".face", "GeneratorFace": ".faces.generator_face",
    "Register": ".hookspecs", "AvatarSessionFace": ".faces.avatar_session",
    "AvatarSessionOptions": ".faces.avatar_session", "hookimpl": ".hookspecs",
    "MediaSink": ".media",
    "HttpUrl": ".part", "PartOptions": ".part", "Transport": ".transports.base",
    "STTProvider": ".speech", "LLMProvider": ".speech", "TTSProvider": ".speech",
    **{name: ".errors" for name in (
        "AvatarkitError", "CapabilityError", "ConfigError", "FaceStartError",
        "MissingCredentialsError", "PartUnavailableError")},
}

__all__ = ["API_VERSION", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    """Load a public name on first use."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'avatarkit.plugin' has no attribute {name!r}")
    module = importlib.import_module(where, __package__ if where.startswith(".") else None)
    return getattr(module, name)
