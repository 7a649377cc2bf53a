"""The page's run-time controls (emotion, background) applied to the running face.

A page may only name presets, colour names and ``#RRGGBB`` colours as backgrounds, never a
file path.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import AvatarkitError, describe

PAGE_BACKGROUND = re.compile(r"^(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}|[a-z][a-z0-9_-]{0,31})$")


async def apply_control(face: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Apply one ``{"type": "emotion" | "background", ...}`` message from the page to
    ``face`` (``None`` before it started); the reply to send back, never an exception."""
    kind = data["type"]
    reply: dict[str, Any] = {"type": "control", "control": kind}
    try:
        if face is None:
            raise AvatarkitError("the face has not started yet")
        caps = face.capabilities()
        if kind == "emotion":
            name = str(data.get("name", ""))
            intensity = float(data.get("intensity", 1.0))
            if name not in caps.get("emotions", []):
                raise AvatarkitError(f"face '{face.name}' has no emotion {name!r}")
            await face.set_emotion(name, max(0.0, min(1.0, intensity)))
            reply.update(ok=True, name=name, intensity=intensity)
        else:
            value = str(data.get("value", "")).strip()
            if not caps.get("background"):
                raise AvatarkitError(f"face '{face.name}' does not support backgrounds")
            if not PAGE_BACKGROUND.match(value):
                raise AvatarkitError(f"background {value!r} is not a preset, colour name "
                                     "or #RRGGBB colour")
            await face.set_background(value)
            reply.update(ok=True, value=value)
    except Exception as exc:  # noqa: BLE001 - reported to the page, never fatal
        reply.update(ok=False, error=describe(exc))
    return reply


def background_choices(face: Any) -> list[str]:
    """Named backgrounds the page can offer: ``capabilities()["backgrounds"]`` when the face
    lists them, else the plain names of its control state (presets like ``studio``)."""
    caps = face.capabilities()
    if not caps.get("background"):
        return []
    names = caps.get("backgrounds")
    if not names:
        state = getattr(face, "control_state", None)
        try:
            names = state()["capabilities"]["backgrounds"] if callable(state) else []
        except Exception:  # noqa: BLE001 - optional, face-specific
            names = []
    return [n for n in names if isinstance(n, str) and PAGE_BACKGROUND.match(n)
            and not n.startswith("#")]
