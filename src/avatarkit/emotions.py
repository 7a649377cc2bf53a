"""The emotions a face may show (a value type every layer may use; no imports)."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "concerned", "surprised", "angry")
"""Emotion names, ``neutral`` first. ``avatarkit.face.EMOTIONS`` is the same tuple."""

FACE_TOOLS: tuple[str, ...] = ("set_emotion", "set_background")
"""Names of the function tools that let the agent change the face (``face_tools.py``)."""
