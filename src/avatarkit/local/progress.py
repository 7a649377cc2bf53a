"""A one-line progress note on stderr for slow model loads."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_quiet: bool | None = None

#: Loads faster than this print nothing.
SLOW_AFTER = 1.0


def set_quiet(quiet: bool | None) -> None:
    """Silence (``True``) or allow (``False``) load notes; ``None`` follows ``AVATARKIT_QUIET``."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    """Whether load notes are silenced (``set_quiet`` or ``AVATARKIT_QUIET=1``)."""
    if _quiet is not None:
        return _quiet
    return os.environ.get("AVATARKIT_QUIET", "").strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def loading(what: str, *, quiet: bool | None = None) -> Iterator[None]:
    """Time a load; if it takes longer than :data:`SLOW_AFTER`, show ``loading WHAT... 1.2 s``.

    The line starts when the load turns slow and is finished (with the time taken) when the
    load ends, so fast loads print nothing and slow ones never look stuck.
    """
    if is_quiet() if quiet is None else quiet:
        yield
        return
    start = time.perf_counter()
    shown = threading.Event()
    finished = threading.Event()
    lock = threading.Lock()

    def announce() -> None:
        with lock:
            if not finished.is_set():
                sys.stderr.write(f"loading {what}... ")
                sys.stderr.flush()
                shown.set()

    timer = threading.Timer(SLOW_AFTER, announce)
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
        with lock:
            finished.set()
        if shown.is_set():
            elapsed = time.perf_counter() - start
            sys.stderr.write(f"{outcome or f'{elapsed:.1f} s'}\n")
            sys.stderr.flush()
