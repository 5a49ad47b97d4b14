"""The engine's one least-recently-used map, bounded by the total size of its values.

Sizes are what the owner counts: 1 per value (a count bound) or bytes. Not thread-safe: every
owner already holds its own lock around its map.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, Iterator, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """Values by key; putting one evicts the least recently used until the total size fits ``budget``.

    ``keep_newest``: the value just put always stays, even alone over the budget (otherwise a
    value larger than the whole budget is not kept at all).
    """

    def __init__(self, budget: float, size_of: Callable[[V], float] = lambda value: 1,
                 keep_newest: bool = False) -> None:
        self.budget = budget
        self._size_of = size_of
        self._keep_newest = keep_newest
        self._values: OrderedDict[K, V] = OrderedDict()
        self._sizes: dict[K, float] = {}
        self.total = 0.0

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._values))

    def get(self, key: K) -> V | None:
        """The value (now the most recently used), or None."""
        if key not in self._values:
            return None
        self._values.move_to_end(key)
        return self._values[key]

    def put(self, key: K, value: V) -> list[tuple[K, V]]:
        """Store ``value`` as the most recently used; returns what was evicted to make room."""
        self.pop(key)
        size = self._size_of(value)
        if size > self.budget and not self._keep_newest:
            return []
        self._values[key] = value
        self._sizes[key] = size
        self.total += size
        evicted = []
        while self.total > self.budget and len(self._values) > 1:
            oldest = next(iter(self._values))
            evicted.append((oldest, self.pop(oldest)))
        return evicted

    def pop(self, key: K) -> V | None:
        """Remove and return the value (None when absent)."""
        if key not in self._values:
            return None
        self.total -= self._sizes.pop(key)
        return self._values.pop(key)

    def clear(self) -> None:
        """Remove every value."""
        self._values.clear()
        self._sizes.clear()
        self.total = 0.0
