"""The avatarkit contract, checked by avatarkit.testing (offline)."""

from __future__ import annotations

from avatarkit_own_renderer import OwnRendererFace

from avatarkit.testing import (
    check_face_behaviour,
    check_face_fallback,
    check_face_lifecycle,
    check_import_cost,
    check_options,
)


def test_options() -> None:
    check_options(OwnRendererFace)


def test_import_cost() -> None:
    check_import_cost("avatarkit_own_renderer")


async def test_lifecycle() -> None:
    await check_face_lifecycle(OwnRendererFace)


async def test_speaks_and_stops_when_interrupted(avatarkit_kit_env) -> None:
    seen = await check_face_behaviour(OwnRendererFace)
    assert seen.video_frames > 10


async def test_reports_failure_and_falls_back(avatarkit_kit_env) -> None:
    await check_face_fallback(OwnRendererFace)
