"""The pluggy hooks a plugin implements. Project name: ``avatarkit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("avatarkit")
hookimpl = pluggy.HookimplMarker("avatarkit")


@hookspec
def register_brains(register: Callable[[type[Any]], None]) -> None:
    """Call ``register(BrainClass)`` for each Brain this plugin provides."""


@hookspec
def register_faces(register: Callable[[type[Any]], None]) -> None:
    """Call ``register(FaceClass)`` for each Face this plugin provides."""
