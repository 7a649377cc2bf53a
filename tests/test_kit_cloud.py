"""A cloud face (Tavus) passes the kit's lifecycle checks against its provider's stand-in,
in a real LiveKit room: every paid session the kit opens is ended exactly once."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from avatarkit.registry import Registry
from avatarkit.testing import check_face_lifecycle, check_import_cost, check_options
from standins.providers import SPECS
from standins.room import RoomTransport
from test_provider_contract import AGENT, AgentRoom, Renderer, in_job, make_face, provider

pytestmark = [pytest.mark.room, pytest.mark.standin]
FACE = "tavus"


async def test_kit_cloud_face_standin(livekit_server, monkeypatch) -> None:
    for var, value in livekit_server.env().items():
        monkeypatch.setenv(var, value)
    from livekit.agents import AgentSession

    t0 = time.perf_counter()
    spec = SPECS[FACE]
    cls = Registry.load(environ={}).face(FACE)
    check_options(cls)
    check_import_cost(cls.__module__)
    from livekit import api, rtc

    rooms = itertools.count()

    async with provider(FACE, monkeypatch) as standin:
        renderer = Renderer(livekit_server.url).attach(standin)

        @contextlib.asynccontextmanager
        async def context() -> AsyncIterator[tuple[Any, Any]]:
            """A fresh room and job per scenario, as each conversation of a worker has."""
            name = f"kit-cloud-{next(rooms)}-{time.monotonic_ns()}"
            token = (api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
                     .with_identity(AGENT).with_kind("agent")
                     .with_grants(api.VideoGrants(room_join=True, room=name)).to_jwt())
            room = rtc.Room()
            await room.connect(livekit_server.url, token)
            session: Any = AgentSession()
            try:
                with in_job(AgentRoom(room, token, name)):
                    yield session, RoomTransport(room)
                    await session.aclose()
            finally:
                await room.disconnect()

        def paid() -> tuple[int, int]:
            return len(standin.sessions), sum(s.ended for s in standin.sessions.values())

        # "Avatar.*": the stand-in renderer's tasks (it plays the provider), not the face's
        took = await check_face_lifecycle(
            lambda: make_face(spec, standin), context=context, paid=paid, settle=5.0,
            ignore_tasks=("Avatar.",))
        await renderer.leave()
    assert len(standin.sessions) >= 4  # the kit really opened paid sessions
    print(f"kit run, face {FACE} (stand-in, real room): {time.perf_counter() - t0:.1f} s "
          f"{ {k: round(v, 2) for k, v in took.items()} }")
