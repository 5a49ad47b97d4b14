"""SCIP solves with the GIL released: other threads (a server's health checks) keep running."""

from __future__ import annotations

import threading
import time

import numpy as np

from sambridge_server.engine.tracking import TrackingCosts
from sambridge_server.engine.tracking.graph import build_candidate_graph
from sambridge_server.engine.tracking.scip_gil import release_gil_while_solving
from sambridge_server.engine.tracking.solve import solve_links


def grid_labels(frames: int = 4, side: int = 16) -> np.ndarray:
    """``side``² squares per frame drifting down a pixel per frame: a dense, ambiguous linking problem."""
    labels = np.zeros((frames, side * 16, side * 16), np.uint32)
    yy, xx = np.mgrid[0:side, 0:side]
    for t in range(frames):
        for i, (y, x) in enumerate(zip(yy.ravel() * 16 + 4 + t, xx.ravel() * 16 + 4)):
            labels[t, y:y + 6, x:x + 6] = i + 1
    return labels


def test_other_threads_run_while_scip_solves():
    assert release_gil_while_solving()
    graph = build_candidate_graph(grid_labels(), max_distance=1e6)
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            time.sleep(0.002)
            ticks.append(time.perf_counter())

    from ilpy.solver_backends import _scip

    searches: list[tuple[float, float]] = []  # (start, end) of SCIP's own search
    original = _scip.ScipSolver.solve

    def timed_solve(self):
        model = self._model
        self._model = SearchTimer(model, searches)
        try:
            return original(self)
        finally:
            self._model = model

    _scip.ScipSolver.solve = timed_solve
    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        solution = solve_links(graph, TrackingCosts(), time_limit_s=60)
    finally:
        stop.set()
        thread.join()
        _scip.ScipSolver.solve = original
    assert solution.optimal and len(solution.nodes) == graph.number_of_nodes()
    (start, end), = searches
    rate = sum(start < t < end for t in ticks) / (end - start)
    # Holding the GIL, SCIP lets the ticker in only when it calls back into Python (~10 per s
    # here); released, the ticker wakes every few ms.
    assert end - start > 0.1 and rate > 50, f"{rate:.0f} ticks per s over a {end - start:.2f} s search"

class SearchTimer:
    """Stands in for a pyscipopt Model, recording when its ``optimize``/``optimizeNogil`` ran."""

    def __init__(self, model, searches: list[tuple[float, float]]) -> None:
        self._model, self._searches = model, searches

    def __getattr__(self, name: str):
        attribute = getattr(self._model, name)
        if name not in ("optimize", "optimizeNogil"):
            return attribute

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._searches.append((started, time.perf_counter()))
        return timed
