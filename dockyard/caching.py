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
    """Key -> value, at most ``size`` entries; when full, the oldest entry makes room."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: dict[Hashable, Any] = {}
        self._lock = threading.Lock()  # writers only: a read is one dict lookup

    def find(self, key: Hashable) -> Any:
        """The value kept under ``key``, or None."""
        return self._items.get(key)

    def keep(self, key: Hashable, value: Any) -> None:
        with self._lock:
            items = self._items
            if key not in items and len(items) >= self._size:
                del items[next(iter(items))]
            items[key] = value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
