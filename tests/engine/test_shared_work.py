"""SharedLRU: identical concurrent requests compute once; abandoned work stops; others keep it."""

from __future__ import annotations

import threading
import time

import pytest

from sambridge_server.engine.errors import Cancelled
from sambridge_server.engine.shared_work import SharedLRU, progress_while_wanted


def _slow(steps: int, log: list, gate: threading.Event | None = None):
    def compute(abandoned):
        report = progress_while_wanted(None, abandoned)
        for step in range(steps):
            if gate is not None:
                gate.wait(5)
            time.sleep(0.05)
            log.append(step)
            report(step + 1, steps)
        return "maps"

    return compute


def _in_thread(function, results: dict, name: str) -> threading.Thread:
    def run():
        try:
            results[name] = function()
        except Exception as error:  # noqa: BLE001
            results[name] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_identical_concurrent_requests_share_one_computation():
    cache, log, results = SharedLRU(4), [], {}
    threads = [_in_thread(lambda: cache.get("k", _slow(6, log)), results, str(i)) for i in range(4)]
    for thread in threads:
        thread.join(10)
    assert list(results.values()) == ["maps"] * 4
    assert cache.computations == 1 and len(log) == 6
    assert cache.get("k", pytest.fail) == "maps"  # cached now


def test_work_everyone_abandoned_stops_within_a_step():
    cache, log, results = SharedLRU(4), [], {}
    gone = threading.Event()
    thread = _in_thread(lambda: cache.get("k", _slow(100, log), gone.is_set), results, "a")
    time.sleep(0.3)
    gone.set()
    thread.join(5)
    assert isinstance(results["a"], Cancelled)
    steps = len(log)
    time.sleep(0.3)
    assert len(log) == steps < 20  # stopped, and stays stopped
    assert cache.get("k", lambda abandoned: "again") == "again"  # a later caller computes afresh


def test_one_caller_leaving_does_not_stop_the_others_work():
    cache, log, results = SharedLRU(4), [], {}
    first_gone = threading.Event()
    first = _in_thread(lambda: cache.get("k", _slow(10, log), first_gone.is_set), results, "first")
    time.sleep(0.1)
    second = _in_thread(lambda: cache.get("k", _slow(10, log), lambda: False), results, "second")
    time.sleep(0.1)
    first_gone.set()  # the computing caller's client leaves; the second still waits
    first.join(10), second.join(10)
    assert results["second"] == "maps" and len(log) == 10 and cache.computations == 1


def test_a_waiter_that_cancels_leaves_at_once():
    cache, results = SharedLRU(4), {}
    gate, waiter_gone = threading.Event(), threading.Event()
    owner = _in_thread(lambda: cache.get("k", _slow(2, [], gate)), results, "owner")
    time.sleep(0.1)
    waiter = _in_thread(lambda: cache.get("k", pytest.fail, waiter_gone.is_set), results, "waiter")
    time.sleep(0.1)
    start = time.monotonic()
    waiter_gone.set()
    waiter.join(5)
    assert isinstance(results["waiter"], Cancelled) and time.monotonic() - start < 1
    gate.set()
    owner.join(5)
    assert results["owner"] == "maps"
