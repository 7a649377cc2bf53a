"""Lifecycle: start then close, close twice, close after a failed start, close while start
hangs, cancel. No exception escapes a close, no task or thread is left behind, and every
paid provider session is stopped exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from ..transports.base import Transport
from .contract import ContractError

PaidSessions = Callable[[], tuple[int, int]]
"""Returns ``(started, stopped)``: paid provider sessions so far (a stand-in counts them)."""

StartContext = Callable[[], contextlib.AbstractAsyncContextManager[tuple[Any, Transport]]]
"""Yields ``(AgentSession, Transport)`` for one ``Face.start`` and cleans up after it."""


@contextlib.asynccontextmanager
async def offline_context() -> AsyncIterator[tuple[Any, Transport]]:
    """An ``AgentSession`` (not started) and a file transport recording to a temporary mp4:
    what ``avatarkit demo`` gives a face, with no LiveKit server."""
    from livekit.agents import AgentSession
    from livekit.agents.utils import http_context

    from ..transports.file import FileTransport

    with tempfile.TemporaryDirectory(prefix="avatarkit-kit-") as tmp:
        async with http_context.open():
            transport = FileTransport(utterances=[], output=Path(tmp) / "kit.mp4")
            session: Any = AgentSession()
            try:
                yield session, transport
            finally:
                await session.aclose()
                with contextlib.suppress(Exception):  # the recording is not under test
                    await transport.aclose()


class BrokenTransport(Transport):
    """A transport whose every endpoint raises: makes ``start`` fail."""

    name = "avatarkit-kit-broken"

    @property
    def room(self) -> Any:
        raise RuntimeError("avatarkit.testing: this transport is broken on purpose")

    def audio_output(self) -> Any:
        raise RuntimeError("avatarkit.testing: this transport is broken on purpose")

    def media_sink(self) -> Any:
        raise RuntimeError("avatarkit.testing: this transport is broken on purpose")

    async def wait_done(self, session: Any) -> None:
        raise RuntimeError("avatarkit.testing: this transport is broken on purpose")


class _Watch:
    """Tasks, threads and paid sessions before a scenario, compared after it."""

    def __init__(self, paid: PaidSessions | None, ignore: tuple[str, ...] = ()) -> None:
        self.ignore = ignore
        self.tasks = set(asyncio.all_tasks())
        self.threads = set(threading.enumerate())
        self.paid = paid
        self.paid0 = paid() if paid else (0, 0)

    async def check(self, rule: str, settle: float) -> None:
        deadline = time.monotonic() + settle
        while True:
            tasks = [t for t in asyncio.all_tasks() if t not in self.tasks and not t.done()
                     and t is not asyncio.current_task() and not _server_side(t)
                     and not _task_name(t).startswith(self.ignore or ("\0",))]
            threads = [t for t in threading.enumerate() if t not in self.threads
                       and t.is_alive() and not t.name.startswith(("asyncio_", "ThreadPool"))
                       and type(t).__name__ != "_DummyThread"]  # native (FFI) threads
            if (not tasks and not threads) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        if tasks:
            names = ", ".join(sorted({_task_name(t) for t in tasks}))
            raise ContractError(f"{rule}: no task left", f"{len(tasks)} task(s) still "
                                f"running after close: {names}",
                                "cancel and await every task you created in aclose()")
        if threads:
            raise ContractError(f"{rule}: no thread left", "thread(s) still running after "
                                "close: " + ", ".join(t.name for t in threads),
                                "stop and join your threads in aclose()")
        if self.paid is not None:
            started, stopped = self.paid()
            started -= self.paid0[0]
            stopped -= self.paid0[1]
            if started != stopped:
                raise ContractError(f"{rule}: paid session stopped once", f"{started} paid "
                                    f"session(s) started, {stopped} stop(s) recorded",
                                    "stop the provider session in aclose(), exactly once, "
                                    "also after a failed or cancelled start")


async def _no_raise(rule: str, awaitable: Awaitable[Any], timeout: float) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise ContractError(rule, f"did not return within {timeout:g} s",
                            "aclose() must not wait for the provider forever") from None
    except Exception as exc:  # noqa: BLE001 - the point: nothing may escape
        raise ContractError(rule, f"raised {type(exc).__name__}: {exc}",
                            "aclose() must be idempotent and never raise") from exc


async def check_face_lifecycle(
    make_face: Callable[[], Any],
    *,
    context: StartContext | None = None,
    hanging_context: StartContext | None = None,
    paid: PaidSessions | None = None,
    ignore_tasks: tuple[str, ...] = (),
    between: float = 0.0,
    hang_after: float = 0.05,
    timeout: float = 30.0,
    settle: float = 2.0,
) -> dict[str, float]:
    """Run the five lifecycle scenarios on fresh faces from ``make_face()``.

    ``context`` gives the session and transport to start with (default
    :func:`offline_context`; a cloud face passes one with a room). ``hanging_context``: one
    in which ``start`` hangs (e.g. the stand-in never answers; default ``context``, with
    ``start`` cut after ``hang_after`` seconds, as the composer's join timeout does).
    ``ignore_tasks``: name prefixes of tasks that are not the face's (your stand-in's).
    ``between``: seconds to wait between scenarios (a provider ending the last session).
    Returns the seconds each scenario took.
    """
    ctx = context or offline_context
    hang_ctx = hanging_context or ctx
    took: dict[str, float] = {}

    async def start_close(watch: _Watch | None) -> None:
        async with ctx() as (session, transport):
            face = make_face()
            try:
                await asyncio.wait_for(face.start(session, transport), timeout)
            except Exception as exc:
                await _no_raise("lifecycle: close after a failed start", face.aclose(), timeout)
                raise ContractError("lifecycle: start", f"start failed: {exc!r}",
                                    "check the context the kit starts the face in") from exc
            await _no_raise("lifecycle: start then close", face.aclose(), timeout)
            await _no_raise("lifecycle: close twice", face.aclose(), timeout)
        if watch is not None:
            await watch.check("lifecycle: start then close", settle)

    await start_close(None)  # warm up: process-wide pools and threads are not leaks
    t0 = time.perf_counter()
    await start_close(_Watch(paid, ignore_tasks))
    took["start then close"] = time.perf_counter() - t0
    for name, scenario, scenario_ctx in (
            ("close after a failed start", _failed_start, ctx),
            ("close while start hangs", _hanging_start, hang_ctx),
            ("cancel", _cancelled, ctx)):
        await asyncio.sleep(between)
        t0 = time.perf_counter()
        watch = _Watch(paid, ignore_tasks)
        await scenario(make_face, scenario_ctx, hang_after, timeout)
        await watch.check(f"lifecycle: {name}", settle)
        took[name] = time.perf_counter() - t0
    return took


async def _failed_start(make_face: Callable[[], Any], ctx: StartContext, _hang: float,
                        timeout: float) -> None:
    async with ctx() as (session, _transport):
        face = make_face()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(face.start(session, BrokenTransport()), timeout)
        await _no_raise("lifecycle: close after a failed start", face.aclose(), timeout)
        await _no_raise("lifecycle: close twice", face.aclose(), timeout)


async def _hanging_start(make_face: Callable[[], Any], ctx: StartContext, hang_after: float,
                         timeout: float) -> None:
    async with ctx() as (session, transport):
        face = make_face()
        task = asyncio.ensure_future(face.start(session, transport))
        done, _ = await asyncio.wait({task}, timeout=hang_after)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=timeout)
            if not task.done():
                raise ContractError("lifecycle: close while start hangs", "start ignored "
                                    "its cancellation", "let CancelledError propagate")
        if not task.cancelled():
            task.exception()  # retrieved: a failed start is allowed here
        await _no_raise("lifecycle: close while start hangs", face.aclose(), timeout)


async def _cancelled(make_face: Callable[[], Any], ctx: StartContext, _hang: float,
                     timeout: float) -> None:
    started = asyncio.Event()

    async def conversation() -> None:
        async with ctx() as (session, transport):
            face = make_face()
            try:
                await face.start(session, transport)
                started.set()
                await asyncio.sleep(3600)
            finally:
                await face.aclose()  # as the composer does, inside the cancelled task

    task = asyncio.ensure_future(conversation())
    waiter = asyncio.ensure_future(started.wait())
    await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    task.cancel()
    await asyncio.wait({task}, timeout=timeout)
    if not task.done():
        raise ContractError("lifecycle: cancel", "the cancelled session did not end within "
                            f"{timeout:g} s", "aclose() must finish when its task is cancelled")
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not started.is_set():
            raise ContractError("lifecycle: cancel", f"start failed before the cancel: {exc!r}",
                                "check the context (a stand-in still busy with the previous "
                                "session? pass between=...)") from exc
        raise ContractError("lifecycle: cancel", f"cancelling raised {exc!r}",
                            "aclose() must never raise") from exc


async def check_brain_lifecycle(
    make_brain: Callable[[], Any],
    *,
    paid: PaidSessions | None = None,
    timeout: float = 30.0,
    settle: float = 2.0,
) -> dict[str, float]:
    """Build then close, close twice, close without build, cancel: on fresh brains."""
    from livekit.agents import AgentSession
    from livekit.agents.utils import http_context

    took: dict[str, float] = {}

    async def build_close(watch: _Watch | None) -> None:
        brain = make_brain()
        session: Any = AgentSession(**brain.build().session_kwargs())
        await session.aclose()
        await _no_raise("lifecycle: build then close", brain.aclose(), timeout)
        await _no_raise("lifecycle: close twice", brain.aclose(), timeout)
        if watch is not None:
            await watch.check("lifecycle: build then close", settle)

    async def closed_unbuilt() -> None:
        await _no_raise("lifecycle: close without build", make_brain().aclose(), timeout)

    async def cancelled() -> None:
        brain = make_brain()

        async def run() -> None:
            try:
                brain.build()
                await asyncio.sleep(3600)
            finally:
                await brain.aclose()

        task = asyncio.ensure_future(run())
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
        if not task.cancelled() and task.done() and task.exception() is not None:
            raise ContractError("lifecycle: cancel", f"raised {task.exception()!r}")

    async with http_context.open():
        await build_close(None)
        for name, step in (("build then close", None), ("close without build", closed_unbuilt),
                           ("cancel", cancelled)):
            t0 = time.perf_counter()
            watch = _Watch(paid)
            if step is None:
                await build_close(watch)
            else:
                await step()
                await watch.check(f"lifecycle: {name}", settle)
            took[name] = time.perf_counter() - t0
    return took


def _server_side(task: asyncio.Task[Any]) -> bool:
    """A task of an aiohttp server in this process (a provider's stand-in serving a
    keep-alive connection), not of the plugin."""
    frame = getattr(task.get_coro(), "cr_frame", None)
    return frame is not None and frame.f_globals.get("__name__") == "aiohttp.web_protocol"


def _task_name(task: asyncio.Task[Any]) -> str:
    """A task's name, or its coroutine's qualified name for an unnamed one."""
    name = task.get_name()
    if name.startswith("Task-"):
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", None) or repr(coro)
    return name
