"""Let SCIP solve without holding Python's GIL, so a server keeps answering while tracking solves.

ilpy 0.6 calls pyscipopt's ``Model.optimize``, which holds the GIL for the whole search: on the
2-core CPU a 256-objects-per-frame solve froze every other server thread (health checks
included) for 0.4 s quiet and 1.1 s under load. pyscipopt's ``optimizeNogil`` runs the same
``SCIPsolve`` with the GIL released; its event callbacks (our cancellation) take the GIL back
themselves. ``release_gil_while_solving`` swaps it into ilpy's SCIP backend, once, for ilpy
0.6.x only: another ilpy keeps its own (GIL-holding but correct) ``solve``.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["release_gil_while_solving"]

_original_solve = None
_lock = threading.Lock()


def release_gil_while_solving() -> bool:
    """Make ilpy's SCIP backend solve with the GIL released; whether that is now the case."""
    global _original_solve
    with _lock:
        if _original_solve is not None:
            return True
        import ilpy
        import pyscipopt
        from ilpy.solver_backends import _scip

        if not ilpy.__version__.startswith("0.6.") or not hasattr(pyscipopt.Model, "optimizeNogil"):
            return False
        _original_solve = _scip.ScipSolver.solve
        _scip.ScipSolver.solve = _solve_without_gil
        return True


class _GilReleasingModel:
    """A pyscipopt Model whose ``optimize`` is ``optimizeNogil``; everything else is the model's own."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def optimize(self) -> None:
        """The same ``SCIPsolve`` as ``optimize``, with the GIL released."""
        self._model.optimizeNogil()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _solve_without_gil(self: Any) -> Any:
    """ilpy's own ``ScipSolver.solve``, run with its model's ``optimize`` releasing the GIL."""
    model = self._model
    self._model = _GilReleasingModel(model)
    try:
        return _original_solve(self)
    finally:
        self._model = model
