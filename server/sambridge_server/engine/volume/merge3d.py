"""Automatic 3D: merge per-slice 2D instance labels into 3D objects by overlap.

micro_sam (``merge_instance_segmentation_3d``) solves a multicut over the overlap graph with
nifty, which is not on PyPI. Ours: a networkx graph whose nodes are the 2D objects and whose
edges join objects on nearby slices whose overlap is >= ``min_overlap``; every connected
component is one 3D object.

Overlap is intersection / area of the smaller object (micro_sam normalises by the lower
slice's object). Not IoU: the tip of a round object (a few pixels under a large section)
has a tiny IoU with its neighbour but overlaps it completely.

* Adjacent slices are always compared. Gap closing (ours, in place of micro_sam's binary
  closing in z): an object whose chain ends on slice z may continue on slice z + d,
  2 <= d <= gap_closing + 1, when the object there starts a chain (has no match on the slices
  in between). The skipped slices stay empty.
* Objects spanning fewer than ``min_z_extent`` slices (last - first + 1) are removed.
* Output ids are 1..K in order of each object's first (z, 2D id) appearance.

2D ids may repeat across slices (each slice is labelled on its own); 0 is background.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..errors import InvalidInput

Node = tuple[int, int]  # (z, 2D id)


@dataclass(frozen=True)
class MergeOptions:
    """Parameters of the merge; defaults are the wire defaults."""

    min_overlap: float = 0.3
    gap_closing: int = 1
    min_z_extent: int = 1

    def validate(self) -> None:
        """InvalidInput for values out of range."""
        if not 0.0 < self.min_overlap <= 1.0:
            raise InvalidInput(f"min_overlap must lie in (0, 1], got {self.min_overlap}")
        if self.gap_closing < 0:
            raise InvalidInput(f"gap_closing must be >= 0, got {self.gap_closing}")
        if self.min_z_extent < 1:
            raise InvalidInput(f"min_z_extent must be >= 1, got {self.min_z_extent}")


def slice_overlaps(lower: np.ndarray, upper: np.ndarray) -> dict[tuple[int, int], float]:
    """Overlap (intersection / smaller area) of every pair of overlapping objects of two 2D
    label images: {(id_lower, id_upper): overlap}."""
    both = (lower != 0) & (upper != 0)
    if not both.any():
        return {}
    pairs, intersections = np.unique(np.stack([lower[both], upper[both]]).astype(np.int64), axis=1,
                                     return_counts=True)
    area_lower = dict(zip(*np.unique(lower[lower != 0], return_counts=True)))
    area_upper = dict(zip(*np.unique(upper[upper != 0], return_counts=True)))
    result = {}
    for (a, b), inter in zip(pairs.T.tolist(), intersections.tolist()):
        result[(a, b)] = inter / min(area_lower[a], area_upper[b])
    return result


def overlap_graph(labels: np.ndarray, options: MergeOptions) -> nx.Graph:
    """The graph of 2D objects (z, id) with edges between well-overlapping objects."""
    graph = nx.Graph()
    ids = [np.unique(plane) for plane in labels]
    for z, plane_ids in enumerate(ids):
        graph.add_nodes_from((z, int(i)) for i in plane_ids if i != 0)
    for z in range(labels.shape[0] - 1):
        for (a, b), overlap in slice_overlaps(labels[z], labels[z + 1]).items():
            if overlap >= options.min_overlap:
                graph.add_edge((z, a), (z + 1, b))
    for distance in range(2, options.gap_closing + 2):
        _close_gaps(graph, labels, distance, options.min_overlap)
    return graph


def _has_neighbour(graph: nx.Graph, node: Node, z_range: range) -> bool:
    return any(other[0] in z_range for other in graph.neighbors(node))


def _close_gaps(graph: nx.Graph, labels: np.ndarray, distance: int, min_overlap: float) -> None:
    """Join chain ends on z to chain starts on z + distance across the slices in between."""
    for z in range(labels.shape[0] - distance):
        between = range(z + 1, z + distance)
        for (a, b), overlap in slice_overlaps(labels[z], labels[z + distance]).items():
            lower, upper = (z, a), (z + distance, b)
            if overlap >= min_overlap and not _has_neighbour(graph, lower, between) \
                    and not _has_neighbour(graph, upper, between):
                graph.add_edge(lower, upper)


def merge_slices(labels: np.ndarray, options: MergeOptions = MergeOptions()) -> np.ndarray:
    """Merge a stack of per-slice 2D labels (z, y, x) into uint32 3D object labels."""
    options.validate()
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise InvalidInput(f"per-slice labels must be (z, y, x), got shape {labels.shape}")
    if labels.dtype.kind not in "ui":
        raise InvalidInput(f"labels must be integers, got {labels.dtype}")
    graph = overlap_graph(labels, options)
    components = [c for c in nx.connected_components(graph)
                  if max(z for z, _ in c) - min(z for z, _ in c) + 1 >= options.min_z_extent]
    components.sort(key=min)
    result = np.zeros(labels.shape, dtype=np.uint32)
    for new_id, component in enumerate(components, start=1):
        by_slice: dict[int, list[int]] = {}
        for z, old in component:
            by_slice.setdefault(z, []).append(old)
        for z, olds in by_slice.items():
            result[z][np.isin(labels[z], olds)] = new_id
    return result
