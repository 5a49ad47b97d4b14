"""Candidate graph for automatic tracking: objects per frame, links up to ``max_gap`` frames ahead.

Nodes are the objects of a ``(t, y, x)`` label series (one node per label per frame) with their
centroid, area, bounding box, roundness and (given an image) mean intensity. Edges join an
object at ``t`` to an object at ``t + g`` (``1 <= g <= max_gap``: ``g > 1`` closes a gap of
missed detections) when the two overlap (IoU > 0) or their centroids are within the object's
reach: ``max_distance`` pixels, or ``division_reach`` times its radius when that is more (a
daughter may lie beyond its mother's outline whatever her size). The solver
(``solve``) then picks which nodes and edges form the tracks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from ..callbacks import CancelledFn, raise_if_cancelled
from ..errors import InvalidInput, ResourceExhausted

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FrameObjects:
    """The objects of one frame, row ``i`` of every array describing ``labels[i]``.

    ``inverse`` maps each foreground pixel (in ``np.nonzero`` order) to its row, so that
    overlaps with the next frame need no second pass over the labels.
    """

    labels: np.ndarray  # (n,) label ids, ascending
    centroids: np.ndarray  # (n, 2) float64 (y, x)
    areas: np.ndarray  # (n,) int64 pixel counts
    bboxes: np.ndarray  # (n, 4) int64 (y0, x0, y1, x1), half-open
    roundness: np.ndarray  # (n,) minor / major axis of the equivalent ellipse, 1 = disc
    intensity: np.ndarray | None  # (n,) mean image intensity, None without an image
    foreground: np.ndarray  # (m,) flat indices of the foreground pixels
    inverse: np.ndarray  # (m,) row of each foreground pixel


MAX_NEIGHBOURS = 8  # candidate links by distance per object and frame pair (overlaps come on top)
MAX_GAP_NEIGHBOURS = 4  # the same across a gap: fewer, gap links are the exception
CONFIDENT_IOU = 0.5
"""An object with a link of this IoU to the adjacent frame has no links across a gap on that side."""
MAX_LINKS = 2_000_000  # candidate links in one graph (~1 GB of networkx edges)


def frame_objects(frame: np.ndarray, image: np.ndarray | None = None) -> FrameObjects:
    """Measure every labelled object in one 2D frame (0 is background), its intensity in ``image``."""
    flat = frame.ravel()
    foreground = np.flatnonzero(flat)
    # np.unique instead of bincount over raw ids: ids may be sparse up to 2**32.
    labels, inverse = np.unique(flat[foreground], return_inverse=True)
    n = len(labels)
    ys, xs = np.divmod(foreground, frame.shape[1])
    areas = np.bincount(inverse, minlength=n).astype(np.int64)
    sizes = np.maximum(areas, 1)
    centroids = np.stack([np.bincount(inverse, ys, n) / sizes, np.bincount(inverse, xs, n) / sizes], axis=1)
    bboxes = np.empty((n, 4), dtype=np.int64)
    bboxes[:, 0] = _reduce_at(np.minimum, inverse, ys, n, np.iinfo(np.int64).max)
    bboxes[:, 1] = _reduce_at(np.minimum, inverse, xs, n, np.iinfo(np.int64).max)
    bboxes[:, 2] = _reduce_at(np.maximum, inverse, ys, n, -1) + 1
    bboxes[:, 3] = _reduce_at(np.maximum, inverse, xs, n, -1) + 1
    intensity = None
    if image is not None:
        intensity = np.bincount(inverse, image.ravel()[foreground].astype(np.float64), n) / sizes
    roundness = _roundness(inverse, ys - centroids[inverse, 0], xs - centroids[inverse, 1], sizes)
    return FrameObjects(labels, centroids, areas, bboxes, roundness, intensity, foreground, inverse)


def _roundness(rows: np.ndarray, dy: np.ndarray, dx: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """sqrt(minor / major eigenvalue) of each object's pixel covariance (1 for a disc)."""
    n = len(sizes)
    syy = np.bincount(rows, dy * dy, n) / sizes + 1 / 12  # + pixel extent: one pixel is round
    sxx = np.bincount(rows, dx * dx, n) / sizes + 1 / 12
    sxy = np.bincount(rows, dy * dx, n) / sizes
    half_trace, root = (syy + sxx) / 2, np.sqrt(((syy - sxx) / 2) ** 2 + sxy**2)
    return np.sqrt(np.maximum(half_trace - root, 0) / (half_trace + root))


def _reduce_at(ufunc: np.ufunc, rows: np.ndarray, values: np.ndarray, n: int, fill: int) -> np.ndarray:
    out = np.full(n, fill, dtype=np.int64)
    ufunc.at(out, rows, values)
    return out


def frame_links(
    before: FrameObjects,
    after: FrameObjects,
    max_distance: float,
    division_reach: float = 0.0,
    neighbours: int = MAX_NEIGHBOURS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate links from the objects of one frame to those of a later one.

    Returns ``(pairs, distances, ious)``: ``pairs`` is ``(k, 2)`` rows into ``before`` and
    ``after``; a pair is a candidate when the objects overlap or their centroids are within
    reach of the ``before`` object: ``max(max_distance, division_reach * its radius)`` pixels
    (overlap catches large or fast-deforming cells the radius misses); of the latter only the
    ``neighbours`` nearest per object.
    """
    overlap = _overlaps(before, after)
    candidates = dict(overlap)
    if len(after.labels) and len(before.labels):
        # The nearest few within reach, not all of them: a huge radius must not make the graph quadratic.
        reach = np.maximum(max_distance, division_reach * np.sqrt(before.areas / np.pi))
        shape = (len(before.labels), min(neighbours, len(after.labels)))
        near, columns = cKDTree(after.centroids).query(before.centroids, k=shape[1],
                                                       distance_upper_bound=float(reach.max()) * (1 + 1e-9) + 1e-9)
        near, columns = np.reshape(near, shape), np.reshape(columns, shape)
        within = near <= reach[:, None] * (1 + 1e-9) + 1e-9
        for row, rank in zip(*np.nonzero(within)):
            candidates.setdefault((int(row), int(columns[row, rank])), 0)
    if not candidates:
        return np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0)
    pairs = np.array(sorted(candidates), dtype=np.int64)
    intersections = np.array([candidates[tuple(p)] for p in pairs.tolist()], dtype=np.float64)
    distances = np.linalg.norm(before.centroids[pairs[:, 0]] - after.centroids[pairs[:, 1]], axis=1)
    unions = before.areas[pairs[:, 0]] + after.areas[pairs[:, 1]] - intersections
    return pairs, distances, intersections / unions


def _overlaps(before: FrameObjects, after: FrameObjects) -> dict[tuple[int, int], int]:
    """Pixel counts of every (before row, after row) pair that shares pixels."""
    common, in_before, in_after = np.intersect1d(
        before.foreground, after.foreground, assume_unique=True, return_indices=True
    )
    if len(common) == 0:
        return {}
    n_after = len(after.labels)
    codes = before.inverse[in_before].astype(np.int64) * n_after + after.inverse[in_after]
    codes, counts = np.unique(codes, return_counts=True)
    rows, columns = np.divmod(codes, n_after)
    return {(int(r), int(c)): int(k) for r, c, k in zip(rows, columns, counts)}


def build_candidate_graph(
    labels: np.ndarray,
    max_distance: float = 50.0,
    scores: Mapping[tuple[int, int], float] | None = None,
    progress: Progress | None = None,
    cancelled: CancelledFn | None = None,
    image: np.ndarray | None = None,
    max_gap: int = 2,
    division_reach: float = 2.5,
) -> nx.DiGraph:
    """Build the candidate graph of a ``(t, y, x)`` label series.

    Node ids are consecutive ints; node attributes: ``t``, ``label``, ``y``, ``x``, ``area``,
    ``radius`` (of the disc of that area), ``bbox`` (y0, x0, y1, x1), ``roundness``,
    ``intensity`` (mean of ``image``, a ``(t, y, x)`` array, or None) and ``score`` (from
    ``scores[(t, label)]``, default 1.0, e.g. a segmentation confidence). Edge attributes:
    ``distance`` (centroid, pixels), ``iou``, ``gap`` (frames spanned, 1 = adjacent),
    ``scaled_distance`` (distance over the source's radius) and ``area_ratio`` (target over
    source). Links across a gap join only objects without a confident (IoU >= ``CONFIDENT_IOU``)
    link to the adjacent frame on that side: a gap link is for an object missed in between or a
    daughter appearing late, and pruning the others keeps the solver fast.
    ``progress(done, total)`` counts frames; ``cancelled()`` is polled once per frame.
    """
    if labels.ndim != 3:
        raise InvalidInput(f"tracking needs a (t, y, x) label series, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InvalidInput(f"labels must be integers, got {labels.dtype}")
    if max_distance < 0 or division_reach < 0:
        raise InvalidInput(f"max_distance and division_reach must be >= 0, got {max_distance}, {division_reach}")
    if max_gap < 1:
        raise InvalidInput(f"max_gap must be >= 1 frame, got {max_gap}")
    if image is not None and image.shape != labels.shape:
        raise InvalidInput(f"image shape {image.shape} does not match the labels' {labels.shape}")
    scores = scores or {}
    graph = nx.DiGraph()
    recent: list[tuple[FrameObjects, np.ndarray]] = []  # the last max_gap frames, newest last
    for t, frame in enumerate(labels):
        raise_if_cancelled(cancelled, "tracking cancelled while building the candidate graph")
        objects = frame_objects(frame, None if image is None else image[t])
        ids = np.arange(len(objects.labels)) + graph.number_of_nodes()
        _add_nodes(graph, t, objects, ids, scores)
        for gap, (previous, previous_ids) in enumerate(reversed(recent), start=1):
            neighbours = MAX_NEIGHBOURS if gap == 1 else MAX_GAP_NEIGHBOURS
            pairs, distances, ious = frame_links(previous, objects, max_distance, division_reach, neighbours)
            if graph.number_of_edges() + len(pairs) > MAX_LINKS:
                raise ResourceExhausted(
                    f"the candidate graph would exceed {MAX_LINKS} links at frame {t} "
                    f"({graph.number_of_nodes()} objects so far): lower max_distance or track fewer objects"
                )
            radius = np.sqrt(previous.areas / np.pi)
            for (row, column), distance, iou in zip(pairs.tolist(), distances.tolist(), ious.tolist()):
                if gap > 1 and (_confident(graph.out_edges(int(previous_ids[row]), data=True))
                                or _confident(graph.in_edges(int(ids[column]), data=True))):
                    continue
                graph.add_edge(
                    int(previous_ids[row]), int(ids[column]), distance=distance, iou=iou, gap=gap,
                    scaled_distance=distance / max(float(radius[row]), 0.5),
                    area_ratio=float(objects.areas[column]) / max(float(previous.areas[row]), 1.0),
                )
        recent = (recent + [(objects, ids)])[-max_gap:]
        if progress is not None:
            progress(t + 1, len(labels))
    return graph


def _confident(links) -> bool:
    """True when one of these links joins adjacent frames with IoU >= ``CONFIDENT_IOU``."""
    return any(data["gap"] == 1 and data["iou"] >= CONFIDENT_IOU for _, _, data in links)


def _add_nodes(
    graph: nx.DiGraph, t: int, objects: FrameObjects, ids: np.ndarray, scores: Mapping[tuple[int, int], float]
) -> None:
    """Add one frame's objects as nodes."""
    intensity = objects.intensity.tolist() if objects.intensity is not None else [None] * len(ids)
    columns = (objects.labels, objects.centroids, objects.areas, objects.bboxes, objects.roundness)
    rows = zip(ids.tolist(), zip(*(c.tolist() for c in columns)), intensity)
    for node, (label, (y, x), area, bbox, roundness), mean in rows:
        graph.add_node(
            node, t=t, label=label, y=y, x=x, area=area, radius=float(np.sqrt(area / np.pi)), bbox=tuple(bbox),
            roundness=roundness, intensity=mean, score=float(scores.get((t, label), 1.0)),
        )
