"""Rendered output kept per process, keyed by what it was rendered from.

A Describe action renders the same rows again and again between writes (a waiter polls every
few seconds, a console every second). A ``RenderCache`` keeps the rendered part of a resource
under a key that holds the stored values it was rendered from, as the store returned them
(documents as their JSON text, not decoded), and the caller's account: a write that changes
any of them changes the key, so a stale render is never found, whichever code path wrote the
row and whether or not it bumped a version. Values are shared between requests: callers copy
the top level before adding their own members and never change what they were given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class RenderCache:
    """A bounded map of key -> rendered value; the oldest entry goes first when full."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: dict[Hashable, Any] = {}
        self._lock = threading.Lock()  # writers only: a read is one dict lookup

    def get(self, key: Hashable, render: Callable[[], Any]) -> Any:
        """The value kept under ``key``, or ``render()``'s, kept for the next call."""
        found = self._items.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = render()
        with self._lock:
            items = self._items
            if len(items) >= self._size:
                del items[next(iter(items))]
            items[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_MISSING = object()
