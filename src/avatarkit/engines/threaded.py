"""Consume a blocking iterator from asyncio, item by item, in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield what ``make()`` yields, running it in a thread so the event loop stays free.

    Each item reaches the caller as soon as it is produced (that is what makes the first
    audio early). Closing the async iterator early (or cancelling its consumer) tells the
    producer to stop after its current item.
    """
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(items.put_nowait, item)

    def produce() -> None:
        try:
            for item in make():
                put(item)
                if stop.is_set():
                    break
        except BaseException as exc:  # re-raised in the consumer
            put(exc)
        finally:
            put(_DONE)

    worker = loop.run_in_executor(None, produce)
    try:
        while True:
            item = await items.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        if worker.done():
            worker.result()
