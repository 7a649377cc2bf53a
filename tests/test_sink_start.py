"""``lk_private.stop_sink_start``: a cloud face's audio sink no longer waits for its avatar
after the face closed, and a wait that already failed is not reported again at exit."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
from typing import Any

from avatarkit.lk_private import stop_sink_start


async def _wait_for_avatar(fail: bool) -> None:
    if fail:  # what LiveKit raises when the room leaves first
        raise RuntimeError("room disconnected while waiting for participant")
    await asyncio.sleep(3600)


def _unretrieved(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Collect what asyncio reports about tasks dropped with an unretrieved exception."""
    reports: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))
    return reports


async def test_a_waiting_start_is_cancelled() -> None:
    sink = SimpleNamespace(_start_atask=asyncio.ensure_future(_wait_for_avatar(False)))
    await asyncio.sleep(0)
    stop_sink_start(sink)
    await asyncio.wait({sink._start_atask}, timeout=1.0)
    assert sink._start_atask.cancelled()


async def test_a_failed_start_is_not_reported_again_at_exit() -> None:
    reports = _unretrieved(asyncio.get_running_loop())
    for stop in (False, True):
        sink: Any = SimpleNamespace(_start_atask=asyncio.ensure_future(_wait_for_avatar(True)))
        await asyncio.wait({sink._start_atask})
        if stop:
            stop_sink_start(sink)
        del sink
        gc.collect()
    # the control (not stopped) is reported; the stopped one is not
    assert reports == ["Task exception was never retrieved"], reports


def test_a_sink_without_a_start_task_is_left_alone() -> None:
    stop_sink_start(None)
    stop_sink_start(SimpleNamespace(_start_atask="not a task"))
