"""``asyncio.run`` where Ctrl-C cancels the main task *from the event loop*.

CPython's ``asyncio.run`` (3.11+) installs a ``signal.signal`` SIGINT handler that cancels the
main task from inside the Python-level signal handler. That handler runs between any two
bytecodes, so it can land in the middle of a loop callback. In
``BaseSelectorEventLoop._sock_connect_cb`` (a TCP connect that has just completed) the future is
checked with ``fut.done()``, cancelled by the handler, and then ``fut.set_result(None)`` raises
``InvalidStateError``: asyncio prints "Exception in callback ... Traceback" to the user. It is
hit when Ctrl-C arrives the moment a connection completes (``avatarkit run`` checking a server
that accepts and never answers did it in CI).

Here SIGINT goes through ``loop.add_signal_handler``, so the cancel runs as a loop callback,
between callbacks, never inside one; the interrupted run still raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_interruptible(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` like :func:`asyncio.run`; Ctrl-C cancels it between loop callbacks and
    raises ``KeyboardInterrupt`` here. Handlers the coroutine installs itself still win."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(coro)
    interrupted = False

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_sigint() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await coro
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.remove_signal_handler(signal.SIGINT)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
