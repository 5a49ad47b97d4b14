"""Pick tracks out of a candidate graph: motile ILP under a time limit, greedy as a safety net.

The objective and its terms are ``costs``'s (object reward, link, gap, size change,
appear, disappear, split with division evidence), with at most one parent and two children per
object. motile/SCIP solve it exactly; when the time limit cuts the solver (or leaves no time to
start it) the greedy linking below is the fallback, and whichever of the two has the lower
objective is returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import networkx as nx

from ..callbacks import CancelledFn, raise_if_cancelled
from ..errors import Cancelled, InvalidInput
from .costs import SplitChildren, TrackingCosts, add_costs, annotate_costs, objective, split_cost
from .scip_gil import release_gil_while_solving

__all__ = ["LinkSolution", "TrackingCosts", "greedy_links", "objective", "solve_links"]


# SCIP's time limit does not cover building motile's model (measured ~0.1 ms per node + edge
# on the 2-core CPU machine, motile 1.0.1) nor handing it to SCIP and reading the answer back
# (up to ~1x the build time). Both are subtracted from the caller's budget up front.
_BUILD_SECONDS_PER_ELEMENT = 1.2e-4
_HANDOFF_PER_BUILD_SECOND = 1.0
_MIN_SOLVER_SECONDS = 0.05


@dataclass(frozen=True)
class LinkSolution:
    """Selected nodes and edges of a candidate graph, and how they were found."""

    nodes: frozenset[int]
    edges: frozenset[tuple[int, int]]
    objective: float
    method: str
    """``"ilp"`` (motile) or ``"greedy"`` (fallback chosen because it was better or the only one)."""
    status: str
    """Solver status: ``"optimal"``, ``"time_limit"``, ... (ilpy's ``SolverStatus`` values)."""
    optimal: bool
    hit_time_limit: bool
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds in ``greedy`` (fallback), ``model`` (building motile's ILP) and ``solver`` (SCIP)."""
    solver_objective: float | None = None
    """SCIP's own value of its solution (None without one): equals ``objective`` when the motile
    model and ``costs.objective`` agree."""


def solve_links(
    graph: nx.DiGraph,
    costs: TrackingCosts,
    time_limit_s: float,
    cancelled: CancelledFn | None = None,
) -> LinkSolution:
    """Select tracks in ``graph`` (from ``build_candidate_graph``) within ``time_limit_s`` seconds.

    The limit covers the whole call, model building included. Raises ``Cancelled`` when
    ``cancelled()`` turns true; it is polled before solving and at every solver event.
    """
    if time_limit_s <= 0:
        raise InvalidInput(f"time_limit_s must be > 0, got {time_limit_s}")
    start = time.perf_counter()
    deadline = start + time_limit_s
    greedy = greedy_links(graph, costs)
    greedy_seconds = time.perf_counter() - start
    size = graph.number_of_nodes() + graph.number_of_edges() + _division_variables(graph)
    if graph.number_of_nodes() == 0:
        return LinkSolution(frozenset(), frozenset(), 0.0, "ilp", "optimal", True, False)
    expected_build = size * _BUILD_SECONDS_PER_ELEMENT
    needed = expected_build * (1 + _HANDOFF_PER_BUILD_SECOND) + _MIN_SOLVER_SECONDS
    if deadline - time.perf_counter() < needed:
        # Not even time to build the model: the greedy answer is all we can honestly give.
        return _greedy_result(greedy, graph, costs, "time_limit", {"greedy": greedy_seconds})
    _raise_if_cancelled(cancelled)
    ilp = _solve_ilp(graph, costs, deadline, cancelled)
    if ilp is None:
        timings = {"greedy": greedy_seconds, "model": time.perf_counter() - start - greedy_seconds}
        return _greedy_result(greedy, graph, costs, "time_limit", timings)
    ilp = replace(ilp, timings={"greedy": greedy_seconds, **ilp.timings})
    if ilp.optimal:
        return ilp
    greedy_objective = objective(graph, costs, *greedy)
    if greedy_objective < ilp.objective:
        return replace(ilp, nodes=greedy[0], edges=greedy[1], objective=greedy_objective, method="greedy")
    return ilp


def _solve_ilp(
    graph: nx.DiGraph, costs: TrackingCosts, deadline: float, cancelled: CancelledFn | None
) -> LinkSolution | None:
    """Run motile; ``None`` when model building used up the time budget."""
    started = time.perf_counter()
    import motile  # deferred: pulls in SCIP, only needed when tracking
    from motile.constraints import MaxChildren, MaxParents
    from motile.variables import EdgeSelected, NodeSelected

    release_gil_while_solving()  # other server threads keep running while SCIP searches
    solver = motile.Solver(motile.TrackGraph(graph, frame_attribute="t"))
    add_costs(solver, costs)
    solver.add_constraint(MaxParents(1))
    solver.add_constraint(MaxChildren(2))
    solver.add_constraint(SplitChildren())
    _raise_if_cancelled(cancelled)
    built = time.perf_counter()
    remaining = deadline - built - (built - started) * _HANDOFF_PER_BUILD_SECOND
    if remaining < _MIN_SOLVER_SECONDS:
        return None

    def on_event(_event: object) -> None:
        # SCIP calls back at presolve rounds and new incumbents: the only points where a
        # running solve can be interrupted from Python.
        if cancelled is not None and cancelled():
            solver.ilp_solver.native_model().interruptSolve()

    solution = solver.solve(timeout=remaining, on_event=on_event if cancelled is not None else None)
    solved = time.perf_counter()
    status = solution.status.value
    if status == "user_interrupt":
        raise Cancelled("tracking cancelled while solving")
    node_vars = solver.get_variables(NodeSelected)
    edge_vars = solver.get_variables(EdgeSelected)
    nodes = frozenset(n for n, i in node_vars.items() if solution[i] > 0.5)
    edges = frozenset(e for e, i in edge_vars.items() if solution[i] > 0.5)
    return LinkSolution(
        nodes=nodes,
        edges=edges,
        objective=objective(graph, costs, nodes, edges),
        method="ilp",
        status=status,
        optimal=status == "optimal",
        hit_time_limit=status == "time_limit",
        timings={"model": built - started, "solver": solved - built},
        solver_objective=float(solution.get_value()),
    )


def _division_variables(graph: nx.DiGraph) -> int:
    """Daughter-link and sister-pair variables the model will hold (annotated graph)."""
    links = sum(1 for _, _, d in graph.edges(data=True) if d.get("daughter_cost") is not None)
    return links + sum(len(d.get("sister_pairs", ())) for _, d in graph.nodes(data=True))


Selection = tuple[frozenset[int], frozenset[tuple[int, int]]]


def greedy_links(graph: nx.DiGraph, costs: TrackingCosts) -> Selection:
    """Cheapest-first linking: a fast, feasible (not optimal) answer in O(E log E).

    Annotates the graph's costs, keeps every object with a negative cost, then accepts links in
    order of cost whenever the link is allowed (one parent, two children) and lowers the objective.
    """
    annotate_costs(graph, costs)
    nodes = {n for n, data in graph.nodes(data=True) if data["cost"] < 0}
    has_parent: set[int] = set()
    children: dict[int, list[int]] = {}
    edges: set[tuple[int, int]] = set()
    ranked = sorted((costs.link_cost(data), u, v) for u, v, data in graph.edges(data=True))
    for cost, u, v in ranked:
        if u not in nodes or v not in nodes or v in has_parent:
            continue
        taken = children.get(u, [])
        if not taken:  # saves v's start and u's end
            gain = cost - costs.appear_cost - costs.disappear_cost
        elif len(taken) == 1:  # a division: saves v's start, pays the split and its evidence terms
            gain = cost + split_cost(graph, costs, u, [taken[0], v]) - costs.appear_cost
        else:
            continue
        if gain < 0:
            edges.add((u, v))
            has_parent.add(v)
            children[u] = taken + [v]
    return frozenset(nodes), frozenset(edges)


def _greedy_result(
    greedy: Selection, graph: nx.DiGraph, costs: TrackingCosts, status: str, timings: dict[str, float]
) -> LinkSolution:
    value = objective(graph, costs, *greedy)
    return LinkSolution(greedy[0], greedy[1], value, "greedy", status, False, True, timings)


def _raise_if_cancelled(cancelled: CancelledFn | None) -> None:
    raise_if_cancelled(cancelled, "tracking cancelled")
