"""Division evidence for the linker: is this object a mother, are these two objects her daughters?

A dividing cell (Cell Tracking Challenge movies, HeLa, CHO) rounds up and often brightens just
before it divides; its two daughters are each smaller than it, alike in size, and lie on either
side of where it was, often beyond its outline and sometimes a frame later. The functions here
turn that into numbers on the candidate graph (``graph``) that the cost terms of
``costs`` read:

- node ``mother_evidence`` in [0, 1]: the stronger of rounding (roundness above the frame's
  typical one) and, given an image, brightening (mean intensity above the frame's typical one):
  cells in phase contrast round up, condensed chromatin in a nuclear stain brightens but may
  form an elongated plate;
- edge ``daughter_cost`` (None when the target cannot be a daughter: not smaller than the
  source or beyond ``division_reach`` radii): the link's cost when it is one of two daughters;
- node ``sister_pairs``: the few most likely daughter pairs, each with its (negative) cost.

Without this evidence a split is expensive (``TrackingCosts.split_cost``): false splits on
predicted masks (one cell cut in two) lack it.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

if TYPE_CHECKING:
    from .costs import TrackingCosts

MAX_DAUGHTER_RATIO = 1.2
"""A daughter candidate has at most this fraction of the mother's area (a condensed mitotic
nucleus may be no larger than its daughters)."""
DAUGHTER_CANDIDATES = 4
"""Sister pairs are formed among this many most likely daughters per mother (at most 6 pairs)."""
MAX_DAUGHTER_REACH = 3.0
"""A daughter candidate lies within this many mother radii of the mother's centroid."""


def annotate_division_evidence(graph: nx.DiGraph, costs: TrackingCosts) -> None:
    """Write ``mother_evidence``, ``daughter_cost`` and ``sister_pairs`` onto ``graph``."""
    for node, evidence in mother_evidence(graph).items():
        graph.nodes[node]["mother_evidence"] = evidence
    for u, v, data in graph.edges(data=True):
        data["daughter_cost"] = daughter_cost(graph.nodes[u], data, costs)
    for node in graph.nodes:
        graph.nodes[node]["sister_pairs"] = sister_pairs(graph, node, costs)


def mother_evidence(graph: nx.DiGraph) -> dict[int, float]:
    """Per node, how much it looks like a cell about to divide (0 = typical, 1 = clearly)."""
    by_frame: dict[int, list[int]] = {}
    for node, data in graph.nodes(data=True):
        by_frame.setdefault(data["t"], []).append(node)
    evidence: dict[int, float] = {}
    for nodes in by_frame.values():
        if any(graph.nodes[n].get("roundness") is None for n in nodes):  # a graph without shapes
            evidence.update((n, 0.0) for n in nodes)
            continue
        roundness = np.array([graph.nodes[n]["roundness"] for n in nodes], dtype=np.float64)
        typical = float(np.median(roundness))
        cues = [np.clip((roundness - typical) / max(1.0 - typical, 0.05), 0, 1)]
        intensity = [graph.nodes[n].get("intensity") for n in nodes]
        if all(value is not None for value in intensity):
            cues.append(brightening(np.asarray(intensity, dtype=np.float64)))
        evidence.update(zip(nodes, np.max(cues, axis=0).tolist()))
    return evidence


def brightening(intensity: np.ndarray) -> np.ndarray:
    """How far each object's mean intensity stands above its frame's typical one, in [0, 1].

    Robust z-score (median, MAD) over the frame's objects, 4 spreads counting as fully bright.
    """
    typical = np.median(intensity)
    spread = 1.4826 * np.median(np.abs(intensity - typical)) + 1e-6 * (abs(typical) + 1)
    return np.clip((intensity - typical) / (4 * spread), 0, 1)


def daughter_size_evidence(area_ratio: float) -> float:
    """1 for a daughter of at most 60 % of the mother's area, falling to 0 at 90 %."""
    return float(np.clip((0.9 - area_ratio) / 0.3, 0, 1))


def daughter_cost(mother: dict, link: dict, costs: TrackingCosts) -> float | None:
    """Cost of ``link`` as a daughter link (replacing its continuation cost), None if implausible.

    Distance counts in mother radii, so a large mother's daughters may lie far away; a gap
    costs as for any link; a daughter clearly smaller than her mother earns a reward.
    """
    ratio, reach = link.get("area_ratio"), link.get("scaled_distance")
    if ratio is None or reach is None or ratio > MAX_DAUGHTER_RATIO or reach > MAX_DAUGHTER_REACH:
        return None
    return (
        costs.daughter_distance_weight * reach
        + costs.gap_cost * (link.get("gap", 1) - 1)
        + costs.edge_constant
        - costs.daughter_size_reward * daughter_size_evidence(ratio)
    )


def sister_pairs(graph: nx.DiGraph, mother: int, costs: TrackingCosts) -> list[tuple[int, int, float]]:
    """``(daughter, daughter, cost)`` for the likely daughter pairs of ``mother``.

    Candidates are its ``DAUGHTER_CANDIDATES`` cheapest daughter links; a pair earns
    ``sister_similarity_reward`` times its similarity (``sister_similarity``).
    """
    links = [(data["daughter_cost"], v) for _, v, data in graph.out_edges(mother, data=True)
             if data["daughter_cost"] is not None]
    best = [v for _, v in sorted(links)[:DAUGHTER_CANDIDATES]]
    m = graph.nodes[mother]
    pairs = []
    for a, b in combinations(sorted(best), 2):
        similarity = sister_similarity(m, graph.nodes[a], graph.nodes[b])
        if similarity > 0:
            pairs.append((a, b, -costs.sister_similarity_reward * similarity))
    return pairs


def sister_similarity(mother: dict, a: dict, b: dict) -> float:
    """In [0, 1]: sisters of alike size (area ratio 0.5 -> 0, 0.9 -> 1) on either side of the mother.

    The side factor falls from 1 (midpoint of the sisters on the mother's centroid) to 0 when
    the midpoint is two mother radii away.
    """
    alike = np.clip((min(a["area"], b["area"]) / max(a["area"], b["area"], 1) - 0.5) / 0.4, 0, 1)
    midpoint = np.array([(a["y"] + b["y"]) / 2, (a["x"] + b["x"]) / 2])
    offset = np.hypot(*(midpoint - [mother["y"], mother["x"]])) / max(mother["radius"], 0.5)
    return float(alike * np.clip(1 - offset / 2, 0, 1))


def pairs_of(graph) -> Iterable[tuple[int, int, int, float]]:
    """Every ``(mother, daughter, daughter, cost)`` sister pair annotated on ``graph``.

    ``graph`` is the networkx candidate graph or motile's ``TrackGraph`` made from it.
    """
    nodes = graph.nodes(data=True) if isinstance(graph, nx.DiGraph) else graph.nodes.items()
    for node, data in nodes:
        for a, b, cost in data.get("sister_pairs", ()):
            yield node, a, b, cost
