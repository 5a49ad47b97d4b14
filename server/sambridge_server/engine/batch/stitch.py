"""Seam-free stitching: chunk labels merged across their overlaps into one label image.

dask-image's label-merging idea, for instance labels: every chunk's labels are made unique by
an offset; in the zone where two chunks' outer regions overlap, each pair of labels (one from
each chunk) that covers the same pixels is matched when their common pixels are at least
``min_overlap`` of the smaller of the two within the zone; matched labels are unioned (connected
components of the match graph, scipy) and every component becomes one object. Each pixel then
takes the label of the chunk whose core holds it, through one lookup table. An object crossing
a seam is thus one object (both chunks saw it in the overlap), never two, and never cut.

Final ids are 1..K per plane in order of each object's first appearance (chunk by chunk, row by
row); a chunk-local label that appears in no core (seen only in an overlap) is dropped unless it
is matched to one that does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..lru import LRU
from .plan import Block, ChunkRegion, neighbours

LoadFn = Callable[[int], np.ndarray]  # chunk index -> its outer-region labels (uint32 1..n)


@dataclass(frozen=True)
class PlaneMerge:
    """How the chunks of one plane map to final ids: ``lookup[offsets[i] + local]`` for chunk i."""

    offsets: np.ndarray  # (n_chunks,) int64
    lookup: np.ndarray  # (total + 1,) uint32, 0 -> 0
    n_objects: int

    def final(self, index: int, local: np.ndarray) -> np.ndarray:
        """Final ids of chunk ``index``'s local labels (0 stays 0)."""
        glob = local.astype(np.int64) + self.offsets[index]
        glob[local == 0] = 0
        return self.lookup[glob]


def _zone(labels: np.ndarray, region: ChunkRegion, zone: Block) -> np.ndarray:
    y0, x0 = region.outer[0], region.outer[1]
    return labels[zone[0] - y0 : zone[2] - y0, zone[1] - x0 : zone[3] - x0]


def matched_pairs(a: np.ndarray, b: np.ndarray, min_overlap: float) -> np.ndarray:
    """(k, 2) local id pairs of two same-shaped label views that cover the same object."""
    both = (a > 0) & (b > 0)
    if not both.any():
        return np.zeros((0, 2), np.int64)
    pairs, common = np.unique(np.stack([a[both], b[both]]).astype(np.int64), axis=1, return_counts=True)
    ids_a, area_a = np.unique(a[a > 0], return_counts=True)
    ids_b, area_b = np.unique(b[b > 0], return_counts=True)
    smaller = np.minimum(area_a[np.searchsorted(ids_a, pairs[0])], area_b[np.searchsorted(ids_b, pairs[1])])
    keep = common >= min_overlap * smaller
    return pairs[:, keep].T


class _Loaded:
    """A small LRU over chunk loads: merging walks row by row and needs two rows at a time."""

    def __init__(self, load: LoadFn, capacity: int) -> None:
        self._load = load
        self._items: LRU[int, np.ndarray] = LRU(max(2, capacity))

    def __call__(self, index: int) -> np.ndarray:
        value = self._items.get(index)
        if value is None:
            value = self._load(index)
            self._items.put(index, value)
        return value


def merge_plane(chunks: Sequence[ChunkRegion], n_labels: Sequence[int], load: LoadFn,
                min_overlap: float = 0.5) -> PlaneMerge:
    """Match the labels of one plane's chunks across their overlaps; see the module docstring."""
    chunks = list(chunks)
    offsets = np.concatenate([[0], np.cumsum(n_labels)[:-1]]).astype(np.int64)
    total = int(np.sum(n_labels))
    n_cols = max((c.col for c in chunks), default=0) + 1
    loaded = _Loaded(load, 2 * n_cols + 2)
    edges = [np.zeros((0, 2), np.int64)]
    for i, j, zone in neighbours(chunks):
        pairs = matched_pairs(_zone(loaded(i), chunks[i], zone), _zone(loaded(j), chunks[j], zone), min_overlap)
        edges.append(np.stack([pairs[:, 0] + offsets[i], pairs[:, 1] + offsets[j]], axis=1))
    present = np.zeros(total + 1, bool)
    for i, chunk in enumerate(chunks):
        core = loaded(i)[chunk.core_in_outer()]
        ids = np.unique(core)
        present[ids[ids > 0] + offsets[i]] = True
    edge = np.concatenate(edges)
    graph = coo_matrix((np.ones(len(edge)), (edge[:, 0], edge[:, 1])), shape=(total + 1, total + 1))
    _, component = connected_components(graph, directed=False)
    # number present components by their smallest present member (first appearance)
    members = np.flatnonzero(present)
    first_of = {}
    for node in members.tolist():
        first_of.setdefault(int(component[node]), node)
    order = sorted(first_of, key=first_of.get)
    final_of_component = np.zeros(int(component.max()) + 1 if total else 1, np.uint32)
    final_of_component[order] = np.arange(1, len(order) + 1, dtype=np.uint32)
    lookup = final_of_component[component] if total else np.zeros(1, np.uint32)
    lookup[0] = 0
    return PlaneMerge(offsets, lookup.astype(np.uint32), len(order))
