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

__all__ = ["release_gil_while_solving"]

_installed = False
_lock = threading.Lock()


def release_gil_while_solving() -> bool:
    """Make ilpy's SCIP backend solve with the GIL released; whether that is now the case."""
    global _installed
    with _lock:
        if _installed:
            return True
        import ilpy
        import pyscipopt
        from ilpy.solver_backends import _scip

        if not ilpy.__version__.startswith("0.6.") or not hasattr(pyscipopt.Model, "optimizeNogil"):
            return False
        _scip.ScipSolver.solve = _solve_without_gil
        _installed = True
        return True


def _solve_without_gil(self) -> "object":
    """ilpy 0.6's ``ScipSolver.solve`` with ``optimizeNogil`` in place of ``optimize``."""
    from ilpy.solver_backends import _scip

    model = self._model
    model.optimizeNogil()
    native_status = model.getStatus()
    status = _scip.STATUS_MAP.get(native_status, _scip.SolverStatus.OTHER)
    if not model.getNSols():
        variable_values, objective_value = [0] * len(self._vars), 0
    else:
        solution = model.getBestSol()
        variable_values = [model.getSolVal(solution, v) for v in self._vars]
        objective_value = model.getSolObjVal(solution)
    model.freeTransform()  # as ilpy: lets constraints be added for a later solve
    return _scip.Solution(variable_values=variable_values, objective_value=objective_value, status=status,
                          time=model.getSolvingTime(), native_status=native_status)
