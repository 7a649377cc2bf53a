"""Ctrl-C during ``run_interruptible``: cancelled between loop callbacks, never inside one."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from avatarkit.interruptible import run_interruptible


def _sigint_inside_a_callback(seen: list[bool]) -> Any:
    """A loop callback that gets SIGINT in its middle, like ``_sock_connect_cb`` when Ctrl-C
    arrives the moment a connection completes; ``seen`` gets whether its future was
    cancelled under it."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def connected() -> None:
            assert not fut.done()
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(10_000))  # bytecodes: a Python-level handler runs here
            seen.append(fut.done())
            if not fut.done():
                fut.set_result(None)

        loop.call_soon(connected)
        await fut
        await asyncio.sleep(30)  # only Ctrl-C ends this

    return main()


@pytest.mark.parametrize("runner, cancelled_mid_callback",
                         [(asyncio.run, True), (run_interruptible, False)],
                         ids=["asyncio.run", "run_interruptible"])
def test_sigint_inside_a_callback(runner: Callable[[Any], Any],
                                  cancelled_mid_callback: bool) -> None:
    """Plain ``asyncio.run`` cancels the awaited future *inside* the callback (the CPython
    behaviour that printed an InvalidStateError traceback); ``run_interruptible`` cancels
    after it, and both end in KeyboardInterrupt."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    seen: list[bool] = []
    with pytest.raises(KeyboardInterrupt):
        runner(_sigint_inside_a_callback(seen))
    assert seen == [cancelled_mid_callback]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_run_that_is_not_interrupted_returns_its_value() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert run_interruptible(answer()) == 42
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_cancellation_that_is_not_ctrl_c_stays_a_cancellation() -> None:
    async def cancels_itself() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    with pytest.raises(asyncio.CancelledError):
        run_interruptible(cancels_itself())
