"""Automatic tracking: exact lineages on synthetic movies, time limits, real HeLa data, motion model."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import disk

from sambridge_server.engine.tracking.ctc import read_ctc, track_table, write_ctc
from sambridge_server.engine.errors import Cancelled, InvalidInput
from sambridge_server.engine.tracking.linking import track_labels
from sambridge_server.engine.tracking.metrics import evaluate_tracking
from sambridge_server.engine.tracking.motion import center_of_mass_motion, shift_mask
from sambridge_server.engine.tracking.solve import TrackingCosts, greedy_links, objective, solve_links


# ---------------------------------------------------------------- synthetic movies


def dividing_discs(
    seed: int, grid: int = 5, frames: int = 12, spacing: int = 50, divide_fraction: float = 0.4
) -> tuple[np.ndarray, dict[int, int]]:
    """A movie of discs on a ``grid x grid`` lattice that wander and some divide once.

    Returns ``(labels, parents)`` with labels = ground-truth track ids and ``parents`` mapping
    each daughter track to its mother. Daughters appear at +-6 px from the mother along a
    random axis and drift apart, like the two halves of a mitosis.
    """
    rng = np.random.default_rng(seed)
    size = grid * spacing
    labels = np.zeros((frames, size, size), dtype=np.uint16)
    parents: dict[int, int] = {}
    next_id = 1
    for row in range(grid):
        for column in range(grid):
            anchor = np.array([(row + 0.5) * spacing, (column + 0.5) * spacing])
            velocity = rng.uniform(-1.5, 1.5, 2)  # drift stays within +-18 px of the anchor
            division = int(rng.integers(3, frames - 2)) if rng.random() < divide_fraction else frames
            axis = rng.normal(size=2)
            axis /= np.linalg.norm(axis)
            mother, daughters = next_id, (next_id + 1, next_id + 2)
            next_id += 3 if division < frames else 1
            for t in range(frames):
                center = anchor + velocity * t
                if t < division:
                    labels[t][disk(tuple(center), 9, shape=labels.shape[1:])] = mother
                    continue
                separation = min(6 + 1.5 * (t - division), 12)
                for sign, daughter in zip((1, -1), daughters):
                    labels[t][disk(tuple(center + sign * separation * axis), 6, shape=labels.shape[1:])] = daughter
                    parents[daughter] = mother
    return labels, parents


def shuffle_ids(labels: np.ndarray, seed: int) -> np.ndarray:
    """Give every object a fresh random id per frame, as a per-frame segmentation would."""
    rng = np.random.default_rng(seed)
    out = np.zeros(labels.shape, dtype=np.uint32)
    for t, frame in enumerate(labels):
        ids = np.unique(frame)[1:]
        new = rng.choice(np.arange(1000, 10**6), size=len(ids), replace=False)
        lookup = dict(zip(ids.tolist(), new.tolist()))
        for old, fresh in lookup.items():
            out[t][frame == old] = fresh
    return out


def id_mapping(result: np.ndarray, truth: np.ndarray) -> dict[int, int]:
    """result track id -> ground-truth id, requiring the two label series to be identical up to ids."""
    pairs = np.unique(np.stack([result.ravel(), truth.ravel().astype(np.uint32)]), axis=1)
    mapping = dict(zip(pairs[0].tolist(), pairs[1].tolist()))
    assert len(mapping) == pairs.shape[1], "a result track covers several ground-truth tracks"
    assert len(set(mapping.values())) == len(mapping), "a ground-truth track is split over result tracks"
    return mapping


# ---------------------------------------------------------------- linking


def test_links_moving_and_dividing_discs_to_the_exact_lineage() -> None:
    truth, parents = dividing_discs(seed=3, grid=3, frames=10, divide_fraction=0.6)
    assert len(set(parents.values())) >= 2, "fixture must contain divisions"
    result = track_labels(shuffle_ids(truth, seed=4), time_limit_s=30)

    assert result.optimal and result.status == "optimal" and not result.hit_time_limit
    mapping = id_mapping(result.labels, truth)
    assert mapping[0] == 0
    expected = track_table(truth, parents)
    mapped = np.array([[mapping[i], b, e, mapping[p]] for i, b, e, p in result.tracks.tolist()])
    np.testing.assert_array_equal(mapped[np.argsort(mapped[:, 0])], expected)
    expected_lineage = {}
    for child, mother in parents.items():
        expected_lineage.setdefault(mother, set()).add(child)
    assert {mapping[p]: {mapping[c] for c in cs} for p, cs in result.lineage.items()} == expected_lineage
    assert all(len(children) == 2 for children in result.lineage.values())


def test_ctc_ground_truth_with_tens_of_cells_is_reproduced(tmp_path: Path) -> None:
    """Acceptance: linking a CTC sequence's ground-truth masks gives TRA >= 0.99, all divisions."""
    truth, parents = dividing_discs(seed=11, grid=6, frames=14)
    write_ctc(tmp_path / "TRA", truth, track_table(truth, parents), ground_truth=True)
    gt_labels, gt_tracks = read_ctc(tmp_path / "TRA")
    assert min(len(np.unique(f)) - 1 for f in gt_labels) >= 36

    result = track_labels(shuffle_ids(gt_labels, seed=12), time_limit_s=30)
    scores = evaluate_tracking(gt_labels, gt_tracks, result.labels, result.tracks)

    assert scores.tra >= 0.99
    assert scores.reference_divisions == len(set(parents.values())) >= 8
    assert scores.correct_divisions == scores.reference_divisions
    assert scores.missed_divisions == 0 and scores.extra_divisions == 0
    assert scores.missed_tracks == 0 and scores.extra_tracks == 0


def test_ilp_beats_or_equals_greedy_and_objectives_agree() -> None:
    truth, _ = dividing_discs(seed=5, grid=4, frames=8)
    result = track_labels(shuffle_ids(truth, seed=6), time_limit_s=30)
    from sambridge_server.engine.tracking.graph import build_candidate_graph

    graph = build_candidate_graph(shuffle_ids(truth, seed=6))
    costs = TrackingCosts()
    greedy = greedy_links(graph, costs)
    assert result.objective <= objective(graph, costs, *greedy) + 1e-9
    assert result.objective == pytest.approx(solve_links(graph, costs, 30).objective)


def test_distant_objects_are_not_linked() -> None:
    labels = np.zeros((3, 64, 200), dtype=np.uint32)
    labels[0][disk((32, 20), 6)] = 1
    labels[1][disk((32, 20), 6)] = 1
    labels[2][disk((32, 180), 6)] = 1  # 160 px jump: beyond max_distance, a new track
    result = track_labels(labels, max_distance=50, time_limit_s=10)
    np.testing.assert_array_equal(result.tracks, [[1, 0, 1, 0], [2, 2, 2, 0]])
    assert result.lineage == {}


def random_graph(n_frames: int, per_frame: int, radius: float, seed: int) -> nx.DiGraph:
    """A candidate graph of uniformly scattered points: many conflicting links, slow to solve exactly."""
    rng = np.random.default_rng(seed)
    graph = nx.DiGraph()
    previous = np.zeros((0, 2))
    for t in range(n_frames):
        points = rng.uniform(0, 1000, (per_frame, 2))
        base = t * per_frame
        for i, (y, x) in enumerate(points.tolist()):
            graph.add_node(base + i, t=t, y=y, x=x, score=1.0)
        if len(previous):
            distance = np.linalg.norm(previous[:, None] - points[None], axis=2)
            for i, j in zip(*np.nonzero(distance < radius)):
                graph.add_edge(base - per_frame + int(i), base + int(j), distance=float(distance[i, j]), iou=0.0)
        previous = points
    return graph


@pytest.fixture(scope="module")
def hard_graph() -> nx.DiGraph:
    # Radius 130: ~23,000 links; optimal takes ~40 s of SCIP on the 2-core CPU (radius 100 now
    # solves in ~10 s since the split coupling was tightened, too close to the 12 s limit below).
    graph = random_graph(n_frames=50, per_frame=100, radius=130, seed=0)
    assert graph.number_of_nodes() == 5000 and graph.number_of_edges() > 20000
    return graph


def test_tiny_time_limit_returns_in_time_with_a_solution_marked_cut(hard_graph: nx.DiGraph) -> None:
    costs = TrackingCosts()
    start = time.perf_counter()
    solution = solve_links(hard_graph, costs, time_limit_s=0.5)
    elapsed = time.perf_counter() - start

    assert elapsed < 0.5 + 0.5
    assert solution.hit_time_limit and not solution.optimal and solution.status == "time_limit"
    # A real linking, not the empty or unlinked selection SCIP holds when cut this early.
    assert len(solution.nodes) == 5000 and len(solution.edges) > 2000
    assert solution.objective < objective(hard_graph, costs, solution.nodes, []) - 1000


def test_solver_cut_by_time_limit_keeps_its_best_solution(hard_graph: nx.DiGraph) -> None:
    # Optimal takes ~40 s of SCIP here; 12 s leaves it several seconds after building the model.
    costs = TrackingCosts()
    start = time.perf_counter()
    solution = solve_links(hard_graph, costs, time_limit_s=12.0)
    elapsed = time.perf_counter() - start

    assert elapsed < 12.0 + 1.5
    assert solution.hit_time_limit and not solution.optimal and solution.status == "time_limit"
    assert solution.objective <= objective(hard_graph, costs, *greedy_links(hard_graph, costs)) + 1e-9
    assert solution.objective == pytest.approx(objective(hard_graph, costs, solution.nodes, solution.edges))


def test_progress_and_cancellation() -> None:
    truth, _ = dividing_discs(seed=1, grid=2, frames=6)
    calls: list[tuple[int, int]] = []
    track_labels(truth, progress=lambda done, total: calls.append((done, total)), time_limit_s=10)
    assert calls[-1] == (8, 8) and [d for d, _ in calls] == sorted(d for d, _ in calls)

    polls = iter([False, False, True])
    with pytest.raises(Cancelled):
        track_labels(truth, cancelled=lambda: next(polls, True), time_limit_s=10)


def test_cancellation_interrupts_the_running_solver() -> None:
    graph = random_graph(n_frames=10, per_frame=100, radius=100, seed=0)
    polls = []

    def cancelled() -> bool:
        polls.append(time.perf_counter())
        return len(polls) > 2  # before building the model, before solving: go on; in SCIP: stop

    with pytest.raises(Cancelled, match="while solving"):
        solve_links(graph, TrackingCosts(), time_limit_s=60, cancelled=cancelled)
    assert len(polls) == 3


def test_rejects_non_series_input() -> None:
    with pytest.raises(InvalidInput):
        track_labels(np.zeros((8, 8), dtype=np.uint32))
    with pytest.raises(InvalidInput):
        track_labels(np.zeros((2, 8, 8), dtype=np.float32))


# ---------------------------------------------------------------- real data


def test_links_real_hela_segmentation_plausibly(hela_seg: np.ndarray) -> None:
    frames = hela_seg[:4]
    result = track_labels(frames, time_limit_s=30)

    assert result.optimal
    assert result.n_nodes == sum(len(np.unique(f)) - 1 for f in frames)
    counts = [len(np.unique(f)) - 1 for f in result.labels]
    assert counts == [len(np.unique(f)) - 1 for f in frames]  # every object kept, one id each
    # Nuclei move a few pixels per frame: consecutive positions of a track stay close.
    steps = []
    for track_id, begin, end, _ in result.tracks.tolist():
        centers = [ndimage.center_of_mass(result.labels[t] == track_id) for t in range(begin, end + 1)]
        steps += [np.hypot(*np.subtract(a, b)) for a, b in zip(centers, centers[1:])]
    assert np.median(steps) < 5 and np.percentile(steps, 95) < 20
    # Most objects continue an existing track; few start out of nowhere.
    starts_after_first = int(np.sum((result.tracks[:, 1] > 0) & (result.tracks[:, 3] == 0)))
    assert starts_after_first < 0.1 * counts[0]
    assert all(len(children) == 2 for children in result.lineage.values())


# ---------------------------------------------------------------- interactive motion model


def micro_sam_motion_helpers() -> dict:
    """micro_sam's own ``_compute_movement``, ``_shift_object`` and motion update, run verbatim.

    They live in ``micro_sam.sam_annotator.util``, whose package import needs napari; the
    functions themselves only need numpy and scipy, so they are compiled from the source file.
    """
    micro_sam = pytest.importorskip("micro_sam")
    path = Path(micro_sam.__file__).parent / "sam_annotator" / "util.py"
    module = ast.parse(path.read_text())
    namespace: dict = {"np": np, "shift": ndimage.shift, "motion_smoothing": 0.5}
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("_compute_movement", "_shift_object"):
            exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
        if isinstance(node, ast.FunctionDef) and node.name == "track_from_prompts":
            update = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "_update_motion_model")
            exec(compile(ast.Module([update], []), str(path), "exec"), namespace)
    return namespace


def test_motion_model_matches_micro_sam() -> None:
    helpers = micro_sam_motion_helpers()
    rng = np.random.default_rng(0)
    seg = np.zeros((7, 96, 96), dtype=np.uint8)
    center = np.array([30.0, 40.0])
    for t in range(7):
        center += rng.uniform(-4, 6, 2)
        seg[t][disk(tuple(center), 5 + t % 3, shape=seg.shape[1:])] = 1

    model = None
    for t in range(1, 7):
        model = helpers["_update_motion_model"](seg, t, 0, model)
        ours = center_of_mass_motion(list(seg[:t]))
        expected = np.zeros(2) if model is None else model
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)
        shifted = helpers["_shift_object"](seg[t - 1], expected)
        np.testing.assert_array_equal(shift_mask(seg[t - 1], expected), shifted)
        np.testing.assert_array_equal(shift_mask(seg[t - 1].astype(bool), expected), shifted.astype(bool))


def test_motion_model_ignores_empty_masks_and_bad_motion() -> None:
    a = np.zeros((20, 20), dtype=bool)
    a[2:5, 2:5] = True
    b = np.roll(a, 3, axis=1)
    np.testing.assert_allclose(center_of_mass_motion([a, np.zeros_like(a), b]), [0, 0])
    np.testing.assert_allclose(center_of_mass_motion([a, b]), [0, 3])
    np.testing.assert_array_equal(shift_mask(a, (0, 3)), b)
    with pytest.raises(InvalidInput):
        shift_mask(a, (1, 2, 3))


def test_candidate_links_are_capped_per_object_whatever_the_radius():
    from sambridge_server.engine.tracking.graph import MAX_NEIGHBOURS, build_candidate_graph

    # 2 frames of 100 one-pixel objects on a grid; a radius of 1e6 reaches all of them.
    frame = np.zeros((200, 200), np.int32)
    frame[5::20, 5::20] = np.arange(1, 101).reshape(10, 10)
    graph = build_candidate_graph(np.stack([frame, frame]), max_distance=1e6)
    assert graph.number_of_edges() == 100 * MAX_NEIGHBOURS
    # Each object keeps its nearest candidates: itself (distance 0) first.
    assert all(graph.has_edge(node, node + 100) for node in range(100))
    # A radius below the grid spacing links each object to itself only.
    assert build_candidate_graph(np.stack([frame, frame]), max_distance=19.9).number_of_edges() == 100
