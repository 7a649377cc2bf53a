"""What LiveKit's dispatcher sees of an avatarkit worker: its load and a hard session cap.

The load is the larger of the host's measured CPU (LiveKit's public CPU monitor,
``livekit.agents.utils.hw.get_cpu_monitor``, averaged in a background thread) and the
declared cost of the sessions the worker holds. :class:`SessionGate` is the worker's job
request handler: it counts a session from the moment it is accepted (before its process
runs), so ``max_sessions`` holds even when several rooms ask at once.

Nothing here imports LiveKit at module level.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("avatarkit.worker")

CPU_SAMPLE_INTERVAL = 0.5  # seconds per CPU sample
CPU_SAMPLES = 5  # moving average over ~2.5 s, like LiveKit's default load
UNLAUNCHED_GRACE = 120.0  # an accepted job never seen running is forgotten after this


def session_load(
    *, active_sessions: int, per_session_cost: float, cpu_load: float,
    max_sessions: int | None = None,
) -> float:
    """The worker load LiveKit's dispatcher sees (0-1).

    The larger of measured CPU and the declared cost of the sessions already running (face
    rendering plus on-worker models), so a worker that renders faces stops taking jobs
    before its CPU graph catches up; ``max_sessions`` is a hard cap.
    """
    if max_sessions is not None and active_sessions >= max_sessions:
        return 1.0
    return min(1.0, max(cpu_load, active_sessions * per_session_cost))


class CpuLoad:
    """Host CPU use (0-1) from LiveKit's public CPU monitor, sampled on a daemon thread.

    The thread starts on the first :meth:`value` call (in the worker process only, never
    in job processes).
    """

    def __init__(self, interval: float = CPU_SAMPLE_INTERVAL, samples: int = CPU_SAMPLES) -> None:
        self._interval = interval
        self._samples: list[float] = []
        self._size = samples
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def value(self) -> float:
        """The average of the last samples (0.0 until the first one is taken)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._sample, daemon=True,
                                                name="avatarkit-cpu-load")
                self._thread.start()
            return sum(self._samples) / len(self._samples) if self._samples else 0.0

    def _sample(self) -> None:
        from livekit.agents.utils.hw import get_cpu_monitor

        monitor = get_cpu_monitor()
        while True:
            value = min(1.0, max(0.0, float(monitor.cpu_percent(interval=self._interval))))
            with self._lock:
                self._samples = [*self._samples, value][-self._size:]


class SessionGate:
    """Counts the sessions a worker holds, from acceptance to the end of their job.

    ``active_ids`` returns the ids of the jobs whose process runs now. A job is counted
    from :meth:`on_request` accepting it until it has been seen running and is gone (or,
    if it never ran, for :data:`UNLAUNCHED_GRACE` seconds).
    """

    def __init__(self, max_sessions: int | None, active_ids: Callable[[], Iterable[str]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self._active_ids = active_ids
        self._clock = clock
        self._claims: dict[str, float] = {}  # job id -> when accepted
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def count(self) -> int:
        """Sessions held now (accepted and not yet finished). Thread-safe."""
        active = set(self._active_ids())
        now = self._clock()
        with self._lock:
            for job_id in list(self._claims):
                if job_id in active:
                    self._seen.add(job_id)
                elif job_id in self._seen or now - self._claims[job_id] > UNLAUNCHED_GRACE:
                    del self._claims[job_id]
                    self._seen.discard(job_id)
            return len(self._claims.keys() | active)

    def try_claim(self, job_id: str) -> bool:
        """Count ``job_id`` if the cap allows another session."""
        held = self.count()
        with self._lock:
            if self.max_sessions is not None and held >= self.max_sessions:
                return False
            self._claims[job_id] = self._clock()
            return True

    async def on_request(self, request: Any) -> None:
        """LiveKit's job request handler (``rtc_session(on_request=...)``)."""
        if self.try_claim(request.id):
            await request.accept()
            return
        log.info("declining room %s: %d of max_sessions=%s sessions running",
                 request.room.name, self.count(), self.max_sessions)
        await request.reject(terminate=False)  # the server offers the job to another worker


__all__ = ["CpuLoad", "SessionGate", "session_load"]
