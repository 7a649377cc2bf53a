"""Whether a server has loaded what the first turn needs, and what it is loading now."""

from __future__ import annotations

import threading
from typing import Any


class Readiness:
    """Filled from :func:`avatarkit.progress.watch` notes (any thread), read by handlers.

    ``to_dict()`` is what ``GET /healthz`` reports: ``ready``, the loads ``done`` (name and
    time), the ones ``loading`` now, and ``error`` when getting ready failed. Ready until
    :meth:`begin` (a server that loads nothing needs no wait).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ready = True
        self.error: BaseException | None = None
        self._loading: list[str] = []
        self._done: list[dict[str, str]] = []

    def note(self, what: str, outcome: str | None) -> None:
        """A load started (``outcome`` None) or ended (``"1.2 s"``, ``"failed"``...)."""
        with self._lock:
            if outcome is None:
                self._loading.append(what)
                return
            if what in self._loading:
                self._loading.remove(what)
            self._done.append({"what": what, "outcome": outcome})

    def begin(self) -> None:
        """Loading starts: not ready until :meth:`set_ready`."""
        with self._lock:
            self.ready = False
            self.error = None

    def set_ready(self) -> None:
        with self._lock:
            self.ready = True
            self._loading.clear()

    def set_failed(self, error: BaseException) -> None:
        with self._lock:
            self.error = error

    def to_dict(self) -> dict[str, Any]:
        from ..errors import AvatarkitError, describe

        with self._lock:
            error = self.error
            return {
                "ready": self.ready,
                "loading": list(self._loading),
                "done": list(self._done),
                "error": None if error is None else (
                    error.message if isinstance(error, AvatarkitError) else describe(error)),
            }
