"""The emotions a face may show (a value type every layer may use; no imports)."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "concerned", "surprised", "angry")
"""Emotion names, ``neutral`` first. ``avatarkit.face.EMOTIONS`` is the same tuple."""
