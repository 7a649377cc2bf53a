"""Start child processes that die with this process, from one long-lived thread.

On Linux the child asks the kernel for ``SIGKILL`` when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), so a crashed or ``kill -9``-ed avatarkit never leaves a
server behind. The kernel sends that signal when the *thread* that forked the child
exits, so children are forked from a dedicated daemon thread that lives as long as the
process, never from a short-lived executor thread.

Each child also runs in a session (and process group) of its own. A terminal's Ctrl-C is sent
to its whole foreground process group: a child in ours (llama.cpp's server) would stop at the
first Ctrl-C, while ``avatarkit run`` drains and its running conversations still use it.
avatarkit stops its children itself (and the kernel does, if avatarkit dies), as
livekit-agents keeps its job processes deaf to Ctrl-C for the same reason.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any

_PR_SET_PDEATHSIG = 1

_Stream = int | IO[Any] | None
_Request = tuple[
    "concurrent.futures.Future[subprocess.Popen[bytes]]",
    list[str],
    _Stream,
    _Stream,
    "dict[str, str] | None",
]


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that sets PR_SET_PDEATHSIG (Linux only; ``None`` elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()
    sig = int(signal.SIGKILL)

    def preexec() -> None:  # runs in the child between fork and exec: keep it tiny
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class _Launcher:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def reset_after_fork(self) -> None:
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="avatarkit-launcher", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        preexec = _die_with_parent_hook()
        while True:
            future, cmd, stdout, stderr, env = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
                    close_fds=True, preexec_fn=preexec, start_new_session=True,
                )
                future.set_result(proc)
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def spawn(
        self,
        cmd: Sequence[str],
        *,
        stdout: _Stream = None,
        stderr: _Stream = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """``subprocess.Popen(cmd)`` from the launcher thread, in a session of its own, with
        parent-death cleanup."""
        future: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
        self._ensure_thread()
        self._queue.put((future, list(cmd), stdout, stderr, env))
        return future.result()


_launcher = _Launcher()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_launcher.reset_after_fork)


def spawn_bound_to_parent(
    cmd: Sequence[str],
    *,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a session of its own (a terminal's Ctrl-C does not reach it); on
    Linux the kernel kills it if this process dies (even ``kill -9``)."""
    return _launcher.spawn(cmd, stdout=stdout, stderr=stderr, env=env)
