"""Automatic tracking: link a per-frame label series into tracks with a lineage.

``track_labels`` builds the candidate graph (``graph``), solves it (``solve``,
objective in ``costs``, division evidence in ``divisions``) and turns the
selected links into tracks: a track is a chain of objects in consecutive frames with one child
each; an object with two children ends its track and starts two daughter tracks, and a link
across a gap (missed detections) starts a new track whose parent is the one before the gap.
Tracks follow the Cell Tracking Challenge conventions, so ``TrackingResult.tracks`` is
``res_track.txt``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..callbacks import CancelledFn, raise_if_cancelled
from ..errors import InvalidInput
from .gaps import fill_gaps as fill_detection_gaps
from .graph import build_candidate_graph
from .solve import TrackingCosts, solve_links

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrackingResult:
    """Tracks found in a label series.

    ``labels`` is the input relabelled so that every track carries one id (1..n) in all its
    frames; objects the solver dropped are 0. ``tracks`` is an ``(n, 4)`` int64 table of rows
    ``(id, begin, end, parent)`` (parent 0 = none; a parent with one child is the same cell
    before a gap), ``lineage`` maps each dividing track to its daughters.
    """

    labels: np.ndarray
    tracks: np.ndarray
    lineage: dict[int, list[int]]
    status: str
    """Solver status (``"optimal"``, ``"time_limit"``, ...)."""
    optimal: bool
    """True when the linking is proven optimal for the given costs."""
    hit_time_limit: bool
    """True when the time limit cut the solver (the result is the best found, not proven best)."""
    method: str
    """``"ilp"`` (motile) or ``"greedy"`` (fallback when better than what the ILP found in time)."""
    objective: float
    n_nodes: int
    n_edges: int
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds in ``graph``, ``solve`` (of which ``solve_greedy``, ``solve_model``, ``solve_solver``),
    ``relabel`` and ``total``."""


def track_labels(
    labels: np.ndarray,
    costs: TrackingCosts | None = None,
    max_distance: float = 50.0,
    time_limit_s: float = 60.0,
    scores: Mapping[tuple[int, int], float] | None = None,
    progress: Progress | None = None,
    cancelled: CancelledFn | None = None,
    image: np.ndarray | None = None,
    max_gap: int = 2,
    division_reach: float = 2.5,
    fill_gaps: bool = False,
) -> TrackingResult:
    """Link the objects of a ``(t, y, x)`` integer label series into tracks.

    Labels need not be consistent across frames (each frame is segmented on its own).
    ``max_distance`` is the candidate search radius in pixels (at least ``division_reach``
    times an object's radius), ``max_gap`` the most frames a link may span (2 closes one-frame
    gaps and finds daughters appearing a frame late), ``image`` the ``(t, y, x)`` or
    ``(t, y, x, c)`` intensities the labels came from (mothers brightening before division;
    channels are averaged), ``scores[(t, label)]`` an optional per-object confidence in
    [0, 1] (default 1), ``time_limit_s`` bounds the solver stage (model building included).
    ``progress(done, total)`` counts frames, then the solve and relabel steps; ``cancelled()``
    is polled between steps and raises ``Cancelled``. ``fill_gaps`` draws a gap-linked cell into
    the frames where it was missed (where ``image``, if given, shows it) and keeps it one track
    (``gaps.fill_gaps``): for labels the server segmented itself, never for a user's.
    """
    costs = costs or TrackingCosts()
    start = time.perf_counter()
    n_frames = len(labels)
    total = n_frames + 2

    def frame_progress(done: int, _frames: int) -> None:
        if progress is not None:
            progress(done, total)

    if image is not None and image.ndim == 4:
        image = image.mean(axis=3)
    graph = build_candidate_graph(
        labels, max_distance, scores, frame_progress, cancelled,
        image=image, max_gap=max_gap, division_reach=division_reach,
    )
    built = time.perf_counter()
    solution = solve_links(graph, costs, time_limit_s, cancelled)
    solved = time.perf_counter()
    if progress is not None:
        progress(n_frames + 1, total)
    raise_if_cancelled(cancelled, "tracking cancelled")
    node_track, tracks = tracks_from_links(graph, solution.nodes, solution.edges)
    relabelled = relabel(labels, graph, node_track)
    if fill_gaps:
        relabelled, tracks = fill_detection_gaps(relabelled, tracks, image)
    done = time.perf_counter()
    if progress is not None:
        progress(total, total)
    return TrackingResult(
        labels=relabelled,
        tracks=tracks,
        lineage=lineage_from_tracks(tracks),
        status=solution.status,
        optimal=solution.optimal,
        hit_time_limit=solution.hit_time_limit,
        method=solution.method,
        objective=solution.objective,
        n_nodes=graph.number_of_nodes(),
        n_edges=graph.number_of_edges(),
        timings={
            "graph": built - start,
            **{f"solve_{stage}": seconds for stage, seconds in solution.timings.items()},
            "solve": solved - built,
            "relabel": done - solved,
            "total": done - start,
        },
    )


def tracks_from_links(
    graph: nx.DiGraph, nodes: frozenset[int], edges: frozenset[tuple[int, int]]
) -> tuple[dict[int, int], np.ndarray]:
    """Cut the selected links into tracks.

    Returns ``(node -> track id, tracks table)``. Track ids are 1..n in order of (begin frame,
    y, x) of their first object, so equal inputs give equal ids. A link across a gap starts a
    new track whose parent is the track before the gap (CTC tracks are contiguous in time).
    """
    children: dict[int, list[int]] = {n: [] for n in nodes}
    parent: dict[int, int] = {}
    for u, v in edges:
        if u not in children or v not in children:
            raise InvalidInput(f"link {u}->{v} joins an unselected object")
        children[u].append(v)
        parent[v] = u
    def frame(n: int) -> int:
        """The frame of object ``n``."""
        return graph.nodes[n]["t"]

    def continues(n: int) -> bool:
        """True when ``n``'s one child goes on ``n``'s track (the next frame, no division)."""
        return len(children[n]) == 1 and frame(children[n][0]) == frame(n) + 1

    # A track starts at an object without parent, at a daughter of a division or after a gap.
    starts = [n for n in nodes if n not in parent or not continues(parent[n])]
    starts.sort(key=lambda n: (graph.nodes[n]["t"], graph.nodes[n]["y"], graph.nodes[n]["x"]))
    node_track: dict[int, int] = {}
    ends = []
    for track_id, first in enumerate(starts, start=1):
        node = first
        node_track[node] = track_id
        while continues(node):
            node = children[node][0]
            node_track[node] = track_id
        ends.append(node)
    # Parents are looked up after the loop: a mother's id is known once all tracks are cut.
    table = [
        (track_id, graph.nodes[first]["t"], graph.nodes[last]["t"], node_track.get(parent.get(first, -1), 0))
        for track_id, (first, last) in enumerate(zip(starts, ends), start=1)
    ]
    return node_track, np.array(table, dtype=np.int64).reshape(-1, 4)


def relabel(labels: np.ndarray, graph: nx.DiGraph, node_track: Mapping[int, int]) -> np.ndarray:
    """Paint each object with its track id (0 where the object is in no track)."""
    out = np.zeros(labels.shape, dtype=np.uint32)
    by_frame: dict[int, dict[int, int]] = {}
    for node, data in graph.nodes(data=True):
        by_frame.setdefault(data["t"], {})[data["label"]] = node_track.get(node, 0)
    for t, mapping in by_frame.items():
        old = np.array(sorted(mapping), dtype=labels.dtype)
        new = np.array([mapping[k] for k in old.tolist()], dtype=np.uint32)
        frame = labels[t]
        # searchsorted maps sparse ids without a lookup table of size max(label).
        index = np.searchsorted(old, frame)
        index = np.minimum(index, len(old) - 1)
        out[t] = np.where((frame != 0) & (old[index] == frame), new[index], 0)
    return out


def lineage_from_tracks(tracks: np.ndarray) -> dict[int, list[int]]:
    """``{parent id: [daughter ids]}`` of the divisions in a CTC track table.

    A parent with a single child is the same cell across a gap, not a division: left out.
    """
    lineage: dict[int, list[int]] = {}
    for track_id, _, _, parent in np.asarray(tracks).reshape(-1, 4).tolist():
        if parent:
            lineage.setdefault(int(parent), []).append(int(track_id))
    return {p: sorted(c) for p, c in sorted(lineage.items()) if len(c) >= 2}
