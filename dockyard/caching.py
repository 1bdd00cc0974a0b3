"""A bounded map for what is kept per process between requests: the oldest entry goes first.

Used for rendered output (``ecs.container_instances``) and read-only answers
(``protocol.read_cache``), whose keys hold everything the value was made from, so an entry
is never wrong, only unused once what it was made from changes. Values are shared between
requests: whoever reads one never changes it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any


class BoundedCache:
    """Key -> value, at most ``size`` entries and ``weight`` in all (each entry weighs what
    ``keep`` is told, 1 by default); when full, the oldest entries make room."""

    def __init__(self, size: int, weight: int | None = None) -> None:
        self._size = size
        self._weight_limit = weight if weight is not None else size
        self._items: dict[Hashable, Any] = {}
        self._weights: dict[Hashable, int] = {}
        self._weight = 0
        self._lock = threading.Lock()  # writers only: a read is one dict lookup

    def find(self, key: Hashable) -> Any:
        """The value kept under ``key``, or None."""
        return self._items.get(key)

    def keep(self, key: Hashable, value: Any, weight: int = 1) -> None:
        """Keep ``value`` under ``key``, unless it alone weighs more than the whole cache may."""
        if weight > self._weight_limit:
            return
        with self._lock:
            items, weights = self._items, self._weights
            self._weight -= weights.pop(key, 0)
            items.pop(key, None)
            while items and (len(items) >= self._size or self._weight + weight > self._weight_limit):
                oldest = next(iter(items))
                del items[oldest]
                self._weight -= weights.pop(oldest)
            items[key] = value
            weights[key] = weight
            self._weight += weight

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weights.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._items)
