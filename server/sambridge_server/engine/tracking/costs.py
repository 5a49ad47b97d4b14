"""The linking objective: weights (``TrackingCosts``) and its terms as motile costs.

Minimised over the selected objects and links of the candidate graph:

  object      ``-selection_reward * score``                                  per selected object
  link        ``distance_weight * distance - iou_weight * iou + edge_constant`` per link
  gap         ``gap_cost`` per frame a link skips                            (``GapCost``)
  size        ``size_change_weight * |log(area ratio)|`` per link            (``SizeChangeCost``)
  appear      ``appear_cost`` per track start after the first frame
  disappear   ``disappear_cost`` per track end before the last frame
  split       ``split_cost - mother_evidence_reward * mother evidence``      (``MotherEvidenceCost``)
  daughter    a daughter link's own cost replaces its link/size cost         (``DaughterLinkCost``)
  sisters     ``-sister_similarity_reward * similarity`` per daughter pair   (``SisterPairCost``)
  short life  ``short_daughter_cost`` per daughter ending where she starts   (``ShortDaughterCost``)

with at most one parent and two children per object. A continuation thus prefers a close
object of the same size in the next frame; a division needs evidence (``divisions``)
to pay for its split cost. Each new term is a small ``motile.costs.Cost`` over a motile
variable, the variables motile lacks (``DaughterLink``, ``SisterPair``, ``ShortDaughter``) are
defined here for the candidate daughter links only, which keeps the model small. A cell cut in
two by the segmenter for one frame looks like a division with perfect sisters; the fragment
ending at once (``ShortDaughter``) is what gives it away.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

import networkx as nx
from motile.constraints import Constraint
from motile.costs import Cost, Weight
from motile.variables import EdgeSelected, NodeDisappear, NodeSplit, Variable

from .divisions import annotate_division_evidence, pairs_of


@dataclass(frozen=True)
class TrackingCosts:
    """Weights of the linking objective (pixels, IoU and evidence in, unitless costs out).

    ``split_cost`` was chosen by grid search on one synthetic movie with displaced and late
    daughters, detection gaps and mothers showing more or less evidence (``bench/eval_tracking.py
    --tune``, sequence ``tune``, given and Otsu masks: 3 and 4 tied, the dearer kept); the mother
    and sister rewards tied there (kept at their lowest), ``short_daughter_cost`` tied at 4 and 6
    and is set to appear + disappear, so that a one-frame fragment never pays off as a daughter. Every continuation is far cheaper than ending and restarting a track, a one-frame
    gap is closed when the object reappears within reach, and a split is only cheaper than a
    new track when daughters (and the mother) show it.
    """

    selection_reward: float = 10.0
    """Reward per selected object, times its score: high, so that every confident object is kept."""
    distance_weight: float = 0.1
    """Cost per pixel of centroid displacement along a link."""
    iou_weight: float = 2.0
    """Reward per unit IoU along a link: overlapping objects are likely the same cell."""
    edge_constant: float = 0.0
    """Constant cost per link."""
    appear_cost: float = 4.0
    """Cost of starting a track after the first frame (object entering, or a missed link)."""
    disappear_cost: float = 2.0
    """Cost of ending a track before the last frame (object leaving, dying or missed)."""
    split_cost: float = 4.0
    """Cost of a division (an object linked to two later objects) before its evidence is counted."""
    gap_cost: float = 1.5
    """Cost per frame a link skips (a missed detection): continuation without a gap is preferred."""
    size_change_weight: float = 1.5
    """Cost per unit |log area ratio| of a continuation link: a cell keeps its size."""
    daughter_distance_weight: float = 0.8
    """Cost per mother radius between the mother's and a daughter's centroids."""
    daughter_size_reward: float = 1.0
    """Reward for a daughter clearly smaller than her mother (<= 60 % of her area)."""
    sister_similarity_reward: float = 1.0
    """Reward for two daughters alike in size, on either side of the mother."""
    mother_evidence_reward: float = 2.0
    """Reward for a mother that rounds up (and, given an image, brightens) before dividing."""
    short_daughter_cost: float = 6.0
    """Cost of a daughter whose track ends in her first frame (a fragment, not a cell)."""
    division_model: bool = True
    """False: no daughter, sister or mother terms (the linker before issue 19)."""

    @classmethod
    def legacy(cls) -> TrackingCosts:
        """The weights before division evidence and gap closing (for comparisons)."""
        return replace(cls(), split_cost=1.0, gap_cost=0.0, size_change_weight=0.0, division_model=False)

    def node_cost(self, score: float) -> float:
        """Cost of selecting an object with this score."""
        return -self.selection_reward * score

    def edge_cost(self, distance: float, iou: float) -> float:
        """Distance and overlap part of a link's cost."""
        return self.distance_weight * distance - self.iou_weight * iou + self.edge_constant

    def link_cost(self, link: dict) -> float:
        """Whole cost of a candidate link (edge attributes) as a continuation."""
        return (
            self.edge_cost(link["distance"], link["iou"])
            + self.gap_cost * (link.get("gap", 1) - 1)
            + self.size_change_weight * size_change(link)
        )


def size_change(link: dict) -> float:
    """|log(target area / source area)| of a link (0 when the areas are unknown)."""
    return abs(math.log(link["area_ratio"])) if link.get("area_ratio") else 0.0


class GapCost(Cost):
    """``weight`` per frame skipped by a selected link (its ``gap`` attribute minus one)."""

    def __init__(self, weight: float) -> None:
        self.weight = Weight(weight)

    def apply(self, solver) -> None:
        """Add the cost to every link variable that skips frames."""
        for edge, index in solver.get_variables(EdgeSelected).items():
            skipped = solver.graph.edges[edge].get("gap", 1) - 1
            if skipped:
                solver.add_variable_cost(index, float(skipped), self.weight)


class SizeChangeCost(Cost):
    """``weight * |log area ratio|`` per selected link: continuations keep their size."""

    def __init__(self, weight: float) -> None:
        self.weight = Weight(weight)

    def apply(self, solver) -> None:
        """Add the cost to every link variable."""
        for edge, index in solver.get_variables(EdgeSelected).items():
            solver.add_variable_cost(index, size_change(solver.graph.edges[edge]), self.weight)


class DaughterLink(Variable):
    """1 when a candidate daughter link is selected and its source divides (``x_e AND s_u``).

    Only links with a ``daughter_cost`` (``divisions``) get the variable, and only the
    sides of the product the minimisation can push against: ``y <= x``, ``y <= s`` where ``y``
    earns (a daughter link cheaper than the continuation, or one of a sister pair), ``y >= x +
    s - 1`` where it costs (a dearer daughter link, or a daughter who could go on and so may pay
    ``ShortDaughter``). At the optimum ``y = x AND s`` with fewer constraints.
    """

    @staticmethod
    def instantiate(solver) -> Collection:
        """The candidate daughter links."""
        return [edge for edge, data in solver.graph.edges.items() if data.get("daughter_cost") is not None]

    @staticmethod
    def instantiate_constraints(solver) -> Iterable:
        """y <= x, y <= s, y >= x + s - 1."""
        daughters = solver.get_variables(DaughterLink)
        links = solver.get_variables(EdgeSelected)
        splits = solver.get_variables(NodeSplit)
        in_pairs = {((m, d)) for m, a, b, _ in pairs_of(solver.graph) for d in (a, b)}
        for edge in daughters:
            y, x, s = daughters[edge], links[edge], splits[edge[0]]
            correction = solver.graph.edges[edge]["daughter_correction"]
            if correction <= 0 or edge in in_pairs:
                yield y <= x
                yield y <= s
            if correction > 0 or solver.graph.next_edges[edge[1]]:
                yield y >= x + s - 1


class DaughterLinkCost(Cost):
    """A daughter link pays its ``daughter_cost`` instead of its continuation cost.

    Reads the link's ``daughter_correction`` (``annotate_costs``): the difference of the two.
    """

    def __init__(self) -> None:
        self.weight = Weight(1.0)

    def apply(self, solver) -> None:
        """Add ``daughter_cost - continuation cost`` to every daughter-link variable."""
        for edge, index in solver.get_variables(DaughterLink).items():
            solver.add_variable_cost(index, solver.graph.edges[edge]["daughter_correction"], self.weight)


def daughter_correction(link: dict, costs: TrackingCosts) -> float:
    """What a link's cost changes by when it is a daughter link rather than a continuation."""
    return link["daughter_cost"] - costs.link_cost(link)


class SisterPair(Variable):
    """1 when both links of a likely sister pair are daughter links (``y_a AND y_b``).

    Pairs only earn (negative cost), so ``g <= y_a`` and ``g <= y_b`` suffice: at the optimum
    ``g = y_a AND y_b``.
    """

    @staticmethod
    def instantiate(solver) -> Collection:
        """The annotated sister pairs, as pairs of links."""
        return [((m, a), (m, b)) for m, a, b, _ in pairs_of(solver.graph)]

    @staticmethod
    def instantiate_constraints(solver) -> Iterable:
        """g <= y_a, g <= y_b."""
        pairs = solver.get_variables(SisterPair)
        daughters = solver.get_variables(DaughterLink)
        for a, b in pairs:
            g = pairs[(a, b)]
            yield g <= daughters[a]
            yield g <= daughters[b]


class ShortDaughter(Variable):
    """1 when a daughter link's target ends in its first frame (``y_e AND d_v``).

    For candidate daughter links whose target has candidate children (not in the last frame).
    It only costs, so ``z >= y + d - 1`` suffices.
    """

    @staticmethod
    def instantiate(solver) -> Collection:
        """The candidate daughter links that could go on."""
        return [e for e in solver.get_variables(DaughterLink) if solver.graph.next_edges[e[1]]]

    @staticmethod
    def instantiate_constraints(solver) -> Iterable:
        """z >= y + d - 1."""
        short = solver.get_variables(ShortDaughter)
        daughters = solver.get_variables(DaughterLink)
        ends = solver.get_variables(NodeDisappear)
        for edge in short:
            yield short[edge] >= daughters[edge] + ends[edge[1]] - 1


class ShortDaughterCost(Cost):
    """``weight`` per daughter that ends in her first frame."""

    def __init__(self, weight: float) -> None:
        self.weight = Weight(weight)

    def apply(self, solver) -> None:
        """Add the cost to every short-daughter variable."""
        for _, index in solver.get_variables(ShortDaughter).items():
            solver.add_variable_cost(index, 1.0, self.weight)


class SisterPairCost(Cost):
    """The (negative) cost of each sister pair, rewarding alike daughters either side of the mother."""

    def __init__(self) -> None:
        self.weight = Weight(1.0)

    def apply(self, solver) -> None:
        """Add each pair's annotated cost to its variable."""
        variables = solver.get_variables(SisterPair)
        for m, a, b, cost in pairs_of(solver.graph):
            solver.add_variable_cost(variables[((m, a), (m, b))], cost, self.weight)


class MotherEvidenceCost(Cost):
    """``-weight * mother_evidence`` per dividing object: rounding and brightening lower the split cost."""

    def __init__(self, weight: float) -> None:
        self.weight = Weight(weight)

    def apply(self, solver) -> None:
        """Add the reward to every split variable of an object with evidence."""
        for node, index in solver.get_variables(NodeSplit).items():
            evidence = solver.graph.nodes[node].get("mother_evidence", 0.0)
            if evidence:
                solver.add_variable_cost(index, -evidence, self.weight)


class SplitChildren(Constraint):
    """At most one child, two when the object splits: ``sum(x_out) <= 1 + s``.

    Equivalent to motile's ``MaxChildren(2)`` for integer solutions, but it ties the split
    indicator to the second child (``s >= sum(x_out) - 1``), where motile's own coupling only
    asks ``(n - 1) s >= sum(x_out) - 1``: the relaxation cannot buy a division for a fraction
    of its cost, which keeps SCIP's search short.
    """

    def instantiate(self, solver) -> Iterable:
        """One constraint per object with two or more candidate children."""
        links = solver.get_variables(EdgeSelected)
        splits = solver.get_variables(NodeSplit)
        for node in solver.graph.nodes:
            out = solver.graph.next_edges[node]
            if len(out) >= 2:
                yield sum((links[e] for e in out[1:]), links[out[0]]) - splits[node] <= 1


def add_costs(solver, costs: TrackingCosts) -> None:
    """Add every term of the objective to a motile solver over an annotated candidate graph.
    """
    from motile.costs import EdgeSelectedCost, NodeAppearCost, NodeDisappearCost, NodeSelectedCost, NodeSplitCost

    solver.add_cost(NodeSelectedCost(weight=1.0, attribute="cost"))
    solver.add_cost(EdgeSelectedCost(weight=1.0, attribute="cost"))
    solver.add_cost(NodeAppearCost(constant=costs.appear_cost))
    solver.add_cost(NodeDisappearCost(constant=costs.disappear_cost))
    solver.add_cost(NodeSplitCost(constant=costs.split_cost))
    if costs.gap_cost:
        solver.add_cost(GapCost(costs.gap_cost))
    if costs.size_change_weight:
        solver.add_cost(SizeChangeCost(costs.size_change_weight))
    if costs.division_model:
        solver.add_cost(DaughterLinkCost())
        solver.add_cost(SisterPairCost())
        solver.add_cost(MotherEvidenceCost(costs.mother_evidence_reward))
        if costs.short_daughter_cost:
            solver.add_cost(ShortDaughterCost(costs.short_daughter_cost))


def annotate_costs(graph: nx.DiGraph, costs: TrackingCosts) -> None:
    """Store each object's and link's base cost as its ``cost`` attribute (what motile reads)."""
    for _, data in graph.nodes(data=True):
        data["cost"] = costs.node_cost(data["score"])
    for _, _, data in graph.edges(data=True):
        data["cost"] = costs.edge_cost(data["distance"], data["iou"])
    if costs.division_model:
        annotate_division_evidence(graph, costs)
        for _, _, data in graph.edges(data=True):
            if data["daughter_cost"] is not None:
                data["daughter_correction"] = daughter_correction(data, costs)
    else:
        for _, _, data in graph.edges(data=True):
            data["daughter_cost"] = None
        for _, data in graph.nodes(data=True):
            data["sister_pairs"], data["mother_evidence"] = [], 0.0


def objective(graph: nx.DiGraph, costs: TrackingCosts, nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> float:
    """Value of the objective for a selection of an annotated graph (same terms as the motile model)."""
    nodes, edges = set(nodes), set(edges)
    frames = [data["t"] for data in graph.nodes.values()]
    first, last = min(frames), max(frames)
    has_parent = {v for _, v in edges}
    children: dict[int, list[int]] = {}
    for u, v in edges:
        children.setdefault(u, []).append(v)
    total = sum(costs.node_cost(graph.nodes[n]["score"]) for n in nodes)
    total += sum(costs.link_cost(graph.edges[e]) for e in edges)
    for n in nodes:
        t = graph.nodes[n]["t"]
        total += costs.appear_cost * (t != first and n not in has_parent)
        total += costs.disappear_cost * (t != last and n not in children)
        if len(children.get(n, ())) >= 2:
            ending = {d for d in children[n] if d not in children and graph.out_degree(d)}
            total += split_cost(graph, costs, n, children[n], ending)
    return total


def split_cost(
    graph: nx.DiGraph, costs: TrackingCosts, mother: int, daughters: list[int], ending: set[int] = frozenset()
) -> float:
    """Split, daughter-link, sister and short-life terms of ``mother`` dividing into ``daughters``.

    ``ending``: the daughters that end in their first frame although they could go on.
    """
    total = costs.split_cost
    if not costs.division_model:
        return total
    total -= costs.mother_evidence_reward * graph.nodes[mother].get("mother_evidence", 0.0)
    for d in daughters:
        link = graph.edges[mother, d]
        if link.get("daughter_cost") is not None:
            total += link["daughter_correction"] + costs.short_daughter_cost * (d in ending)
    chosen = set(daughters)
    total += sum(cost for a, b, cost in graph.nodes[mother].get("sister_pairs", ()) if {a, b} <= chosen)
    return total
