"""An LRU of computed values where identical concurrent requests share one computation.

Two clients asking for the same decoder maps must not compute them twice, and a computation
nobody waits for any more must stop: the computation is handed an ``abandoned()`` that turns
True once every caller waiting for it has cancelled. A caller that gives up while another
still waits does not stop the work; when the work was abandoned, a caller that arrives later
starts it again.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Hashable, TypeVar

from .callbacks import CancelledFn
from .lru import LRU
from .errors import Cancelled

V = TypeVar("V")


class _Running:
    """One computation in progress and the callers waiting for it."""

    def __init__(self) -> None:
        self.waiters: dict[int, CancelledFn] = {}
        self.done = threading.Event()
        self.value = None
        self.error: BaseException | None = None
        self._next = 0

    def join(self, cancelled: CancelledFn | None) -> int:
        self._next += 1
        self.waiters[self._next] = cancelled or (lambda: False)
        return self._next

    def abandoned(self) -> bool:
        """True once every waiter has gone (cancelled or left)."""
        return all(cancelled() for cancelled in list(self.waiters.values()))


class SharedLRU(Generic[V]):
    """Thread-safe LRU of ``capacity`` values computed at most once at a time per key."""

    def __init__(self, capacity: int) -> None:
        self._values: LRU[Hashable, V] = LRU(capacity)
        self._running: dict[Hashable, _Running] = {}
        self._lock = threading.Lock()
        self.computations = 0

    def get(self, key: Hashable, compute: Callable[[CancelledFn], V], cancelled: CancelledFn | None = None) -> V:
        """The value for ``key``: cached, or the result of the computation in progress, or
        ``compute(abandoned)`` run by this caller. Cancelled when ``cancelled()`` turns True."""
        while True:
            with self._lock:
                if key in self._values:
                    return self._values.get(key)  # type: ignore[return-value]
                running = self._running.get(key)
                owner = running is None
                if owner:
                    running = self._running[key] = _Running()
                token = running.join(cancelled)
            if owner:
                return self._compute(key, running, compute)
            while not running.done.wait(0.1):
                if cancelled is not None and cancelled():
                    with self._lock:
                        running.waiters.pop(token, None)
                    raise Cancelled("the call was cancelled while waiting for the same computation")
            if running.error is None:
                return running.value  # type: ignore[return-value]
            if not isinstance(running.error, Cancelled):
                raise running.error
            # everyone else gave up and the work stopped: start it again for this caller

    def _compute(self, key: Hashable, running: _Running, compute: Callable[[CancelledFn], V]) -> V:
        try:
            value = compute(running.abandoned)
            with self._lock:
                self.computations += 1
                self._values.put(key, value)
            running.value = value
            return value
        except BaseException as error:
            running.error = error
            raise
        finally:
            with self._lock:
                self._running.pop(key, None)
            running.done.set()


def progress_while_wanted(progress: Callable[[int, int], None] | None,
                          abandoned: CancelledFn) -> Callable[[int, int], None]:
    """A progress callback for shared work: stops the work (Cancelled) only once it is abandoned;
    the reporting caller's own cancellation just ends its reports."""

    def report(done: int, total: int) -> None:
        if abandoned():
            raise Cancelled("every caller waiting for this computation has cancelled")
        if progress is not None:
            try:
                progress(done, total)
            except Cancelled:
                if abandoned():
                    raise

    return report
