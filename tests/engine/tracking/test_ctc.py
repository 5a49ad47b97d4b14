"""Cell Tracking Challenge I/O and the TRA / division scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sambridge_server.engine.tracking.ctc import read_ctc, read_track_file, track_table, write_ctc
from sambridge_server.engine.errors import InvalidInput, NotFound
from sambridge_server.engine.tracking.metrics import evaluate_tracking


def division_movie() -> tuple[np.ndarray, np.ndarray]:
    """Track 1 (frames 0-5) and track 2 (0-2) dividing into 3 and 4 (frames 3-5), as squares."""
    labels = np.zeros((6, 40, 60), dtype=np.uint16)
    for t in range(6):
        labels[t, 5:15, 5 + t : 15 + t] = 1
    for t in range(3):
        labels[t, 22:34, 30:42] = 2
    for t in range(3, 6):
        labels[t, 20:27, 30:40] = 3
        labels[t, 29:36, 30:40] = 4
    return labels, track_table(labels, {3: 2, 4: 2})


def test_track_table_lists_begin_end_and_parent() -> None:
    _, tracks = division_movie()
    np.testing.assert_array_equal(tracks, [[1, 0, 5, 0], [2, 0, 2, 0], [3, 3, 5, 2], [4, 3, 5, 2]])


def test_track_table_rejects_gaps() -> None:
    labels = np.zeros((3, 4, 4), dtype=np.uint16)
    labels[0, 0, 0] = labels[2, 0, 0] = 7
    with pytest.raises(InvalidInput, match="gap"):
        track_table(labels)


def test_round_trip_result_layout(tmp_path: Path) -> None:
    labels, tracks = division_movie()
    write_ctc(tmp_path, labels.astype(np.uint32), tracks)

    assert sorted(p.name for p in tmp_path.iterdir()) == [f"mask{t:03d}.tif" for t in range(6)] + ["res_track.txt"]
    assert (tmp_path / "res_track.txt").read_text().splitlines() == ["1 0 5 0", "2 0 2 0", "3 3 5 2", "4 3 5 2"]
    read_labels, read_tracks = read_ctc(tmp_path)
    assert read_labels.dtype == np.uint16
    np.testing.assert_array_equal(read_labels, labels)
    np.testing.assert_array_equal(read_tracks, tracks)


def test_reads_ground_truth_layout(tmp_path: Path) -> None:
    labels, tracks = division_movie()
    write_ctc(tmp_path, labels, tracks, ground_truth=True)

    assert (tmp_path / "man_track000.tif").is_file() and (tmp_path / "man_track.txt").is_file()
    read_labels, read_tracks = read_ctc(tmp_path)
    np.testing.assert_array_equal(read_labels, labels)
    np.testing.assert_array_equal(read_tracks, tracks)


def test_reads_tab_separated_track_files(tmp_path: Path) -> None:
    (tmp_path / "man_track.txt").write_text("1\t0\t4\t0\n\n5\t5\t9\t1\n")
    np.testing.assert_array_equal(read_track_file(tmp_path / "man_track.txt"), [[1, 0, 4, 0], [5, 5, 9, 1]])
    (tmp_path / "bad.txt").write_text("1 0 4\n")
    with pytest.raises(InvalidInput):
        read_track_file(tmp_path / "bad.txt")


def test_io_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_ctc(tmp_path / "missing")
    with pytest.raises(NotFound):
        read_ctc(tmp_path)
    with pytest.raises(InvalidInput, match="uint16"):
        write_ctc(tmp_path, np.full((1, 2, 2), 70000, dtype=np.uint32), np.zeros((0, 4)))


def test_perfect_result_scores_one() -> None:
    labels, tracks = division_movie()
    relabelled = np.where(labels > 0, labels + 10, 0)  # other ids, same tracks
    shifted = tracks.copy()
    shifted[:, 0] += 10
    shifted[shifted[:, 3] > 0, 3] += 10
    scores = evaluate_tracking(labels, tracks, relabelled, shifted)

    assert scores.tra == 1.0 and scores.aogm == 0
    assert scores.reference_divisions == scores.correct_divisions == 1
    assert (scores.missed_divisions, scores.extra_divisions, scores.missed_tracks, scores.extra_tracks) == (0, 0, 0, 0)


# division_movie has 15 objects and 13 links (11 track links, 2 parent links): AOGM_0 = 169.5.
AOGM_0 = 10 * 15 + 1.5 * 13


def test_missed_division_and_extra_track_are_counted() -> None:
    labels, tracks = division_movie()
    result = labels.copy()
    result[result == 3] = 2  # one daughter continues the mother's track ...
    result[result == 4] = 5  # ... the other starts from nowhere
    result[0, 37:40, 0:3] = 9  # a spurious one-frame object
    scores = evaluate_tracking(labels, tracks, result, track_table(result))

    assert scores.correct_divisions == 0 and scores.missed_divisions == 1 and scores.extra_divisions == 0
    assert scores.extra_tracks == 1 and scores.missed_tracks == 0
    # One parent link missing (EA), the other present as a track link (EC), one spurious object (FP).
    assert scores.operations == {"NS": 0, "FN": 0, "FP": 1, "ED": 0, "EA": 1, "EC": 1}
    assert scores.tra == pytest.approx(1 - (1.5 + 1 + 1) / AOGM_0)


def test_missed_object_costs_its_vertex_and_links() -> None:
    labels, tracks = division_movie()
    result = labels.copy()
    result[4][result[4] == 1] = 0  # track 1 lost in frame 4 ...
    result[5][result[5] == 1] = 6  # ... and picked up as a new track in frame 5
    scores = evaluate_tracking(labels, tracks, result, track_table(result, {3: 2, 4: 2}))

    assert scores.operations == {"NS": 0, "FN": 1, "FP": 0, "ED": 0, "EA": 2, "EC": 0}
    assert scores.tra == pytest.approx(1 - (10 + 2 * 1.5) / AOGM_0)
    assert scores.correct_divisions == 1


def test_matches_py_ctcmetrics_file_based_evaluation(tmp_path: Path) -> None:
    """Our in-memory matching gives the CTC tool's own numbers on the same folders."""
    evaluate = pytest.importorskip("ctc_metrics.scripts.evaluate")
    labels, tracks = division_movie()
    result = labels.copy()
    result[result == 4] = 8  # a daughter without parent
    result[3:][result[3:] == 1] = 7  # track 1 broken in two
    result[1, 37:40, 0:3] = 9  # a spurious object
    result[5, 20:27, 30:36] = 0  # daughter 3 shrinks below half its size: one FN, and the rest an FP
    result_tracks = track_table(result, {3: 2})
    write_ctc(tmp_path / "gt" / "TRA", labels, tracks, ground_truth=True)
    write_ctc(tmp_path / "res", result, result_tracks)

    theirs = evaluate.evaluate_sequence(str(tmp_path / "res"), str(tmp_path / "gt"), metrics=["TRA"], threads=1)
    ours = evaluate_tracking(labels, tracks, result, result_tracks)

    assert ours.operations == {"NS": 0, "FN": 1, "FP": 2, "ED": 0, "EA": 3, "EC": 0}
    assert ours.tra == pytest.approx(theirs["TRA"])
    assert ours.operations == {k: int(theirs[f"AOGM_{k}"]) for k in ours.operations}
