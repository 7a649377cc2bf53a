"""Which slot of the process's llama.cpp server each session's conversation lives in.

llama.cpp's server keeps each slot's last prompt in its KV cache, so a turn only evaluates
what is new (~18 tokens of the user's words). Left to itself it sends a request to the idle
slot whose cache shares the longest prefix with it; the sessions of one agent share their
system prompt, so they all land in one slot and each evicts the others' conversation. Their
next turns then re-evaluated 25-84 tokens instead of ~18 (0.3-0.8 s with 3 sessions on 2
cores: docs/performance.md). Each session is pinned (``id_slot``) to a slot of its own, the
least used one; beyond :data:`SLOTS` sessions, slots are shared. The server gives each slot a
KV cache of its own (``--no-kv-unified``): with one shared cache it clears idle slots, and a
pinned conversation was evaluated whole at every turn (measured: 71-172 tokens a turn).

Under ``avatarkit run`` the sessions live in LiveKit's job processes and share the worker's
server: :class:`SharedSlots` hands its slots out across processes, a slot being taken by an
exclusive lock on a file in a directory the worker made (:func:`worker_slot_dir`). A lock
dies with its process, so a crashed job frees its slot. Beyond :data:`SLOTS` sessions, or
where file locks do not exist, a session is not pinned.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable

SLOTS = 4
"""Slots the server is started with (``--parallel``): llama.cpp's own default."""


class SlotPool:
    """Hands out slot ids, least used first (ties: the lowest), and warms each slot once.

    ``set_warmer(warm)``: ``warm(slot)`` caches the agent's system prompt in that slot (a
    blocking one-token request); a slot handed out before it was warmed is warmed on a
    daemon thread, so a session's first turn finds its system prompt cached."""

    def __init__(self, slots: int = SLOTS) -> None:
        self._users = [0] * slots
        self._warm: set[int] = set()
        self._warmer: Callable[[int], object] | None = None
        self._lock = threading.Lock()

    def set_warmer(self, warm: Callable[[int], object]) -> None:
        with self._lock:
            self._warmer = warm
            self._warm.clear()  # a new system prompt: every slot is cold again

    def warm_now(self, slot: int) -> None:
        """Warm ``slot`` on this thread (prewarm: the first session's slot)."""
        with self._lock:
            warm = self._warmer
            self._warm.add(slot)
        if warm is not None:
            warm(slot)

    def acquire(self) -> int | None:
        """A slot for a new session (``None``: none free, the session is not pinned)."""
        with self._lock:
            slot = self._take()
            if slot is None:
                return None
            self._users[slot] += 1
            warm = None if slot in self._warm else self._warmer
            self._warm.add(slot)
        if warm is not None:
            threading.Thread(target=warm, args=(slot,), name=f"llama-warm-slot-{slot}",
                             daemon=True).start()
        return slot

    def _take(self) -> int | None:
        return min(range(len(self._users)), key=lambda k: (self._users[k], k))

    def release(self, slot: int) -> None:
        with self._lock:
            self._users[slot] = max(0, self._users[slot] - 1)

    def users(self) -> list[int]:
        """Sessions per slot, for tests and status."""
        with self._lock:
            return list(self._users)


class SharedSlots(SlotPool):
    """Slots of a server that other processes pin sessions to as well (the worker's job
    processes): the first slot whose lock file in ``directory`` no process holds. Each
    process warms a slot once, as :class:`SlotPool` does."""

    def __init__(self, directory: str | os.PathLike[str], slots: int = SLOTS) -> None:
        super().__init__(slots)
        self.directory = os.fspath(directory)
        self._held: dict[int, int] = {}  # slot -> the descriptor holding its lock

    def _take(self) -> int | None:
        try:
            import fcntl
        except ImportError:  # no file locks (Windows): not pinned
            return None
        for slot in range(len(self._users)):
            if slot in self._held:
                continue
            try:
                fd = os.open(os.path.join(self.directory, f"slot-{slot}.lock"),
                             os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # the worker is gone, and its directory with it
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another process's session has it
                os.close(fd)
                continue
            self._held[slot] = fd
            return slot
        return None

    def release(self, slot: int) -> None:
        with self._lock:
            self._users[slot] = 0
            fd = self._held.pop(slot, None)
        if fd is not None:
            os.close(fd)  # frees the lock


_pool = SlotPool()
_shared: dict[str, SharedSlots] = {}
_worker_dir: str | None = None
_lock = threading.Lock()


def pool() -> SlotPool:
    """The process-wide pool, for the process-wide server (:func:`.llama_server.shared_server`)."""
    return _pool


def shared_pool(directory: str) -> SharedSlots:
    """This process's view of the slots whose locks live in ``directory``."""
    with _lock:
        return _shared.setdefault(directory, SharedSlots(directory))


def worker_slot_dir() -> str:
    """The directory of this process's server's slot locks, made once (removed at exit):
    the worker makes it before its job processes start and hands it to them."""
    global _worker_dir
    with _lock:
        if _worker_dir is None:
            _worker_dir = tempfile.mkdtemp(prefix="avatarkit-llama-slots-")
            atexit.register(shutil.rmtree, _worker_dir, True)
        return _worker_dir
