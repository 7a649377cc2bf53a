"""Progress notes for slow model loads, on stderr (drawn by ``rich``).

A load faster than :data:`SLOW_AFTER` prints nothing. A slower one shows a spinner with the
time so far on a terminal (it disappears when the load ends) and then one line,
``loading WHAT... 1.2 s`` (or ``failed`` / ``stopped``). Every note is a whole line written
at once, so the notes of several processes sharing a terminal never interleave mid-line.
``set_quiet(True)`` or ``AVATARKIT_QUIET=1`` silences them (LiveKit job processes do).

Cheap to import: ``rich`` is imported only when a load turns slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_quiet: bool | None = None

#: Loads faster than this print nothing.
SLOW_AFTER = 1.0

_lock = threading.Lock()
_listeners: list[Callable[[str, str | None], None]] = []
_spinner: Any = None  # one rich ``Progress`` shared by the slow loads running now
_spinning = 0


def set_quiet(quiet: bool | None) -> None:
    """Silence (``True``) or allow (``False``) load notes; ``None`` follows ``AVATARKIT_QUIET``."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    """Whether load notes are silenced (``set_quiet`` or ``AVATARKIT_QUIET=1``)."""
    if _quiet is not None:
        return _quiet
    return os.environ.get("AVATARKIT_QUIET", "").strip().lower() in ("1", "true", "yes", "on")


def watch(listener: Callable[[str, str | None], None]) -> Callable[[], None]:
    """Call ``listener(what, None)`` when a load starts and ``listener(what, outcome)`` when
    it ends (``"1.2 s"``, ``"failed"``, ``"stopped"``), quiet or not, from the loading
    thread; returns the function that stops it (a server's "getting ready" progress)."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _tell(what: str, outcome: str | None) -> None:
    for listener in list(_listeners):
        with contextlib.suppress(Exception):  # a listener never breaks a load
            listener(what, outcome)


@contextmanager
def loading(what: str, *, quiet: bool | None = None) -> Iterator[None]:
    """Time a load; past :data:`SLOW_AFTER` seconds show it (see the module notes)."""
    _tell(what, None)
    start = time.perf_counter()
    outcome = "failed"
    try:
        with _noted(what, quiet):
            yield
        outcome = f"{time.perf_counter() - start:.1f} s"
    except (KeyboardInterrupt, asyncio.CancelledError):
        outcome = "stopped"
        raise
    finally:
        _tell(what, outcome)


@contextmanager
def _noted(what: str, quiet: bool | None) -> Iterator[None]:
    if is_quiet() if quiet is None else quiet:
        yield
        return
    start = time.perf_counter()
    note = _SlowNote(what)
    timer = threading.Timer(SLOW_AFTER, note.show)
    timer.daemon = True
    timer.start()
    outcome = "failed"
    try:
        yield
        outcome = ""
    except (KeyboardInterrupt, asyncio.CancelledError):
        outcome = "stopped"  # the interrupt itself is reported once, by the CLI
        raise
    finally:
        timer.cancel()
        note.finish(outcome or f"{time.perf_counter() - start:.1f} s")


class _SlowNote:
    """One load's note: a spinner row while slow (terminals only), a line at the end."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._shown = False
        self._finished = False
        self._task: Any = None

    def show(self) -> None:
        global _spinner, _spinning
        with _lock:
            if self._finished:
                return
            self._shown = True
            console = _console()
            if not console.is_terminal:
                return  # no spinner in a log file: the line at the end says it all
            if _spinner is None:
                from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

                _spinner = Progress(SpinnerColumn(), TextColumn("loading {task.description}..."),
                                    TimeElapsedColumn(), console=console, transient=True,
                                    redirect_stdout=False, redirect_stderr=False)
                _spinner.start()
            _spinning += 1
            self._task = _spinner.add_task(self.what, total=None)

    def finish(self, outcome: str) -> None:
        global _spinner, _spinning
        with _lock:
            self._finished = True
            if not self._shown:
                return
            line = f"loading {self.what}... {outcome}"
            if self._task is None or _spinner is None:
                _console().print(line)
                return
            _spinner.remove_task(self._task)
            _spinner.console.print(line)  # above the spinners of loads still running
            _spinning -= 1
            if _spinning == 0:
                _spinner.stop()
                _spinner = None


def _console() -> Any:
    from rich.console import Console

    # soft_wrap: one line however narrow the terminal; no markup or highlighting of names
    return Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
