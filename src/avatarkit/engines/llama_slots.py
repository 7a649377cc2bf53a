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
"""

from __future__ import annotations

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

    def acquire(self) -> int:
        with self._lock:
            slot = min(range(len(self._users)), key=lambda k: (self._users[k], k))
            self._users[slot] += 1
            warm = None if slot in self._warm else self._warmer
            self._warm.add(slot)
        if warm is not None:
            threading.Thread(target=warm, args=(slot,), name=f"llama-warm-slot-{slot}",
                             daemon=True).start()
        return slot

    def release(self, slot: int) -> None:
        with self._lock:
            self._users[slot] = max(0, self._users[slot] - 1)

    def users(self) -> list[int]:
        """Sessions per slot, for tests and status."""
        with self._lock:
            return list(self._users)


_pool = SlotPool()


def pool() -> SlotPool:
    """The process-wide pool, for the process-wide server (:func:`.llama_server.shared_server`)."""
    return _pool
