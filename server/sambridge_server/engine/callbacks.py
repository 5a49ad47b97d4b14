"""Callbacks of long engine calls: progress reports and cancellation checks.

Every long engine call takes ``progress`` and ``cancelled`` keywords of these types; the
servicers pass their stream's reporter and the call's liveness check.
"""

from __future__ import annotations

import threading
from typing import Callable

from .errors import Cancelled

CancelledFn = Callable[[], bool]
"""True once the caller has gone away or asked to stop."""

ProgressFn = Callable[[int, int], None]
"""``(done, total)`` of one stage."""

StageProgressFn = Callable[[int, int, str], None]
"""``(done, total, stage)`` of a call with several named stages."""


def never() -> bool:
    """A ``CancelledFn`` that never cancels."""
    return False


def raise_if_cancelled(cancelled: CancelledFn | None, message: str) -> None:
    """Raise ``Cancelled(message)`` when ``cancelled`` says so (``None`` never cancels)."""
    if cancelled is not None and cancelled():
        raise Cancelled(message)


def acquire_unless_cancelled(lock: threading.Lock, cancelled: CancelledFn | None,
                             message: str = "the call was cancelled while waiting for the encoder") -> None:
    """Take ``lock``, giving up with ``Cancelled(message)`` when the caller goes away while waiting."""
    # A cancelled call queued behind a long embedding must free its worker thread promptly.
    while not lock.acquire(timeout=0.1):
        raise_if_cancelled(cancelled, message)
