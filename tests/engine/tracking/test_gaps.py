"""Missed detections drawn into gap-linked tracks (labels the server segmented itself only)."""

from types import SimpleNamespace

import numpy as np
from skimage.draw import disk

from sambridge_server.engine.images import StoredImage
from sambridge_server.engine.requests import EmbeddingRequest
from sambridge_server.engine.tracking import LinkOptions, Tracker, track_labels
from sambridge_server.engine.tracking.gaps import fill_gaps, gap_links

SHAPE = (80, 120)


def _disc(frame: np.ndarray, center: tuple[float, float], label: int, radius: float = 8) -> None:
    frame[disk(center, radius, shape=frame.shape)] = label


def _moving_cells(n_frames: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Truth (one id per cell, all frames) of two discs moving right 4 px per frame."""
    truth = np.zeros((n_frames, *SHAPE), np.uint32)
    for t in range(n_frames):
        _disc(truth[t], (20, 20 + 4 * t), 1)
        _disc(truth[t], (60, 30 + 4 * t), 2)
    return truth, truth.astype(np.float32) * 100


def _missed(truth: np.ndarray, cell: int, frames: tuple[int, ...]) -> np.ndarray:
    """A segmentation of ``truth`` with fresh ids per frame that lost ``cell`` in ``frames``."""
    seg = truth.copy()
    for t in frames:
        seg[t][seg[t] == cell] = 0
    return seg * 7 + np.arange(len(seg), dtype=np.uint32)[:, None, None] * (seg > 0)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_a_missed_detection_is_drawn_in_and_the_cell_stays_one_track():
    truth, image = _moving_cells()
    seg = _missed(truth, 1, (2,))
    plain = track_labels(seg, image=image, time_limit_s=20)
    assert len(plain.tracks) == 3 and gap_links(plain.tracks)  # the gap link: two tracks, the second a child
    filled = track_labels(seg, image=image, time_limit_s=20, fill_gaps=True)
    assert len(filled.tracks) == 2 and not gap_links(filled.tracks)
    cell = filled.labels[0][20, 20]
    row = filled.tracks[filled.tracks[:, 0] == cell][0]
    assert row[1:].tolist() == [0, 5, 0]
    assert sorted(filled.tracks[:, 0].tolist()) == [1, 2]  # ids 1..n again
    for t in range(6):
        assert _iou(filled.labels[t] == cell, truth[t] == 1) > 0.8  # frame 2: drawn halfway between its ends
    np.testing.assert_array_equal(filled.labels[2] == filled.labels[2][60, 38], truth[2] == 2)


def test_a_chain_of_gaps_becomes_one_track_along_the_straight_line():
    truth, image = _moving_cells(7)
    filled = track_labels(_missed(truth, 2, (3,)), image=image, time_limit_s=20, fill_gaps=True)
    plain = fill_gaps(*_two_gap_chain(truth))
    assert len(plain[1]) == 2 and not gap_links(plain[1])
    for t in range(7):
        assert _iou(plain[0][t] == plain[0][0][60, 30], truth[t] == 2) > 0.8
    assert len(filled.tracks) == 2


def test_two_missed_frames_in_a_row_follow_the_straight_line():
    truth, _ = _moving_cells(7)
    labels = truth.copy()
    labels[1:3][labels[1:3] == 2] = 0  # cell 2 missed in frames 1 and 2, seen again from frame 3 as track 3
    labels[3:][labels[3:] == 2] = 3
    filled, table = fill_gaps(labels, np.array([[1, 0, 6, 0], [2, 0, 0, 0], [3, 3, 6, 2]], np.int64))
    assert table.tolist() == [[1, 0, 6, 0], [2, 0, 6, 0]]
    for t in range(7):
        assert _iou(filled[t] == 2, truth[t] == 2) > 0.8


def _two_gap_chain(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell 2 as three tracks (frames 0-1, 3-4, 6) chained across two gaps; cell 1 whole."""
    labels = np.zeros_like(truth)
    labels[truth == 1] = 1
    for track, frames in ((2, (0, 1)), (3, (3, 4)), (4, (6,))):
        for t in frames:
            labels[t][truth[t] == 2] = track
    tracks = np.array([[1, 0, 6, 0], [2, 0, 1, 0], [3, 3, 4, 2], [4, 6, 6, 3]], np.int64)
    return labels, tracks


def test_a_gap_with_no_free_pixels_stays_a_gap():
    truth, _ = _moving_cells(7)
    labels, _ = _two_gap_chain(truth)
    labels[2][truth[2] == 2] = 9  # another cell (track 9) sits where the cell would be drawn
    table = np.array([[1, 0, 4, 0], [2, 0, 1, 0], [3, 3, 4, 2], [9, 2, 2, 0]], np.int64)
    filled, table = fill_gaps(labels[:5], table)
    assert len(table) == 4 and gap_links(table) == [(2, 3)]
    assert (filled[2] == 4).sum() == (truth[2] == 2).sum() and set(np.unique(filled[2])) == {0, 1, 4}


def test_a_late_division_is_not_a_gap():
    tracks = np.array([[1, 0, 3, 0], [2, 5, 8, 1], [3, 5, 8, 1], [4, 0, 2, 0], [5, 4, 6, 4]], np.int64)
    assert gap_links(tracks) == [(4, 5)]


class _Store:
    def __init__(self, **images: StoredImage) -> None:
        self.images = images

    def get(self, image_id: str) -> StoredImage:
        return self.images[image_id]


def test_the_tracker_fills_its_own_segmentation_and_never_a_users_labels():
    truth, image = _moving_cells()
    seg = _missed(truth, 1, (2,))
    store = _Store(movie=StoredImage("movie", image, "tyx"), labels=StoredImage("labels", seg, "tyx"))

    def segment(request, method, **_):
        return SimpleNamespace(labels=seg, objects=[])

    tracker = Tracker(store.get, None, None, segment)
    request = EmbeddingRequest(image_id="movie")
    own = tracker.link(request, LinkOptions(time_limit_s=20))
    users = tracker.link(request, LinkOptions(time_limit_s=20), labels_id="labels")
    assert len(own.tracks) == 2 and (own.labels[2] > 0).sum() == (truth[2] > 0).sum()
    assert len(users.tracks) == 3 and (users.labels[2] > 0).sum() == (truth[2] == 2).sum()


def test_a_cell_the_image_does_not_show_stays_a_gap():
    """Out of focus for a frame: the image shows background there, so nothing is drawn in."""
    truth, image = _moving_cells()
    seg = _missed(truth, 1, (2,))
    image[2][truth[2] == 1] = 0
    result = track_labels(seg, image=image, time_limit_s=20, fill_gaps=True)
    assert len(result.tracks) == 3 and gap_links(result.tracks)
    assert (result.labels[2] > 0).sum() == (truth[2] == 2).sum()
    image[2][truth[2] == 1] = 70  # dimmer, but closer to the cell (100) than to the background (0)
    assert len(track_labels(seg, image=image, time_limit_s=20, fill_gaps=True).tracks) == 2
