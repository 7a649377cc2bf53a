"""A pytest plugin: fail the test that leaves a LiveKit room or media stream open.

What a test leaves open outlives its event loop on the native side: a room stays connected
(it retries the server after the suite stopped it) and a media stream stays subscribed to the
FFI's event queue, logging "error putting to queue: Event loop is closed" on every later
event. Both are torn down only when the interpreter exits, and a native callback into a
finalizing Python aborts the process: a CI run ended in SIGABRT after its summary. So each
test must close what it opens; this names the one that did not, and closes it. At the end
of the run the native runtime is disposed while Python is still whole (pytest_unconfigure).
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any

import pytest

#: livekit-ffi's logger flushes its batched records to Python this often (FLUSH_INTERVAL)
FLUSH_INTERVAL_S = 1.0

#: every room made during the current test, held until its teardown: a room collected while
#: still connected is dropped by Python but stays connected natively, out of sight
_rooms: list[Any] = []


def _track_rooms() -> None:
    """Record every ``rtc.Room`` made from now on (once the SDK is imported)."""
    rtc = sys.modules.get("livekit.rtc")
    if rtc is None or getattr(rtc.Room, "_tracked_by_tests", False):
        return
    original = rtc.Room.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _rooms.append(self)

    rtc.Room.__init__ = init
    rtc.Room._tracked_by_tests = True


def _orphan_subscribers() -> list[Any]:
    """FFI event-queue subscribers whose event loop is closed (media streams left open)."""
    module = sys.modules.get("livekit.rtc._ffi_client")
    client = module.FfiClient._instance if module else None
    if client is None:
        return []
    return [s for s in client.queue._subscribers if s[1].is_closed()]


def _close_left_open(rooms: list[Any], subscribers: list[Any]) -> None:
    """Disconnect ``rooms`` natively (their event loop is gone) and drop ``subscribers``."""
    from livekit.rtc._ffi_client import FfiClient
    from livekit.rtc._proto import ffi_pb2

    for room in rooms:
        request = ffi_pb2.FfiRequest()
        request.disconnect.room_handle = room._ffi_handle.handle
        FfiClient.instance.request(request)  # completes natively; nobody waits for it
        room._ffi_handle = None  # isconnected() is now False
    for queue, _loop, _filter in subscribers:
        FfiClient.instance.queue.unsubscribe(queue)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _track_rooms()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After the test's fixtures (its event loop among them) are gone: nothing left open."""
    result = yield
    rooms = [room for room in _rooms if room.isconnected()]
    _rooms.clear()
    subscribers = _orphan_subscribers()
    if rooms or subscribers:
        _close_left_open(rooms, subscribers)
        left = [f"room {room.name!r} ({room.local_participant.identity})" for room in rooms]
        left += sorted({getattr(f, "__qualname__", "?").split(".")[0]
                        for _q, _l, f in subscribers})
        raise AssertionError("the test left LiveKit objects open past its event loop: "
                             f"{', '.join(left)}; disconnect every rtc.Room and aclose() every "
                             "VideoStream/AudioStream it opens")
    return result


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Shut the native LiveKit runtime down while Python is fully alive. Its logger hands
    batched records to Python from a native thread once a second; one handed over while the
    interpreter finalizes aborts the process. So dispose now (what the SDK's atexit hook
    would do later) and wait out one flush interval."""
    module = sys.modules.get("livekit.rtc._ffi_client")
    client = module.FfiClient._instance if module else None
    if client is None or module.FfiClient._ffi_disposed:
        return
    client._dispose()
    time.sleep(FLUSH_INTERVAL_S + 0.2)
