"""avatarkit: put a talking, lip-synced AI avatar into a LiveKit room.

Pick a :class:`Brain` (what listens, thinks and speaks) and a :class:`Face` (what renders
the video); the :class:`Composer` runs them over a transport. Or keep your own LiveKit
``AgentSession`` and ``Agent`` and give it a face chain with :func:`attach`. Importing this
package is cheap: nothing here imports LiveKit, numpy or any model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .brain import Brain, BrainParts
    from .composer import Composer, make_plan
    from .config import AvatarkitConfig, load_config
    from .embed import Avatar, attach
    from .errors import (
        AvatarkitError,
        ConfigError,
        FaceStartError,
        MissingCredentialsError,
        PartUnavailableError,
        UnknownPartError,
        UsageError,
    )
    from .face import EMOTIONS, Face
    from .hookspecs import Register, hookimpl
    from .media import MediaSink
    from .part import PartOptions
    from .registry import Registry
    from .transports.base import Transport

_WHERE = {
    "attach": "embed", "Avatar": "embed",
    "Brain": "brain", "BrainParts": "brain", "Composer": "composer", "make_plan": "composer",
    "AvatarkitConfig": "config", "load_config": "config", "EMOTIONS": "face", "Face": "face",
    "hookimpl": "hookspecs", "Register": "hookspecs", "Registry": "registry",
    "PartOptions": "part", "MediaSink": "media", "Transport": "transports.base",
    **{name: "errors" for name in (
        "AvatarkitError", "ConfigError", "FaceStartError", "MissingCredentialsError",
        "PartUnavailableError", "UnknownPartError", "UsageError")},
}


def __getattr__(name: str) -> Any:
    """Public names load on first use, so ``import avatarkit`` (and the CLI) stay fast."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'avatarkit' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "EMOTIONS",
    "Avatar",
    "AvatarkitConfig",
    "AvatarkitError",
    "Brain",
    "BrainParts",
    "Composer",
    "ConfigError",
    "Face",
    "FaceStartError",
    "MediaSink",
    "MissingCredentialsError",
    "PartOptions",
    "PartUnavailableError",
    "Register",
    "Registry",
    "Transport",
    "UnknownPartError",
    "UsageError",
    "attach",
    "hookimpl",
    "load_config",
    "make_plan",
]
