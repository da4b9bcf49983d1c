"""A bounded, thread-safe memo for the data plane's decisions.

Decisions are keyed by policy texts, sources and detail types, which callers choose
freely, so a plain dict would grow without bound under load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_MISSING: Any = object()


class BoundedCache:
    """A thread-safe memo of at most ``maxsize`` entries; the oldest entry goes first.

    >>> cache = BoundedCache(2)
    >>> cache["a"], cache["b"], cache["c"] = 1, 2, 3
    >>> cache.get("a"), cache.get("c")
    (None, 3)
    >>> cache.memo("d", lambda: 4), len(cache)
    (4, 2)
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.maxsize:
                del self._data[next(iter(self._data))]

    def __contains__(self, key: Any) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing and storing it when missing."""
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            self[key] = value
        return value
