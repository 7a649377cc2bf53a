"""A small thread-safe LRU cache of values, for the compositor's precomputed layers.

Loaders whose arguments are hashable use ``functools.lru_cache`` (portraits, backgrounds).
The layers are keyed by a key derived from their inputs (a portrait's arrays are not
hashable), which ``functools`` cannot do.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """Keeps the ``size`` most recently used values. Values are computed outside the lock
    by the caller (``get``, compute on a miss, ``put``): two threads may compute the same
    value once each, which is harmless for pure results and never blocks a reader."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
