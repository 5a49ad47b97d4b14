"""Automatic 3D merging: known 3D objects cut into independently labelled slices come back exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.volume.merge3d import MergeOptions, merge_slices, slice_overlaps


def _ellipsoids(shape, n, rng) -> np.ndarray:
    """Random ellipsoids (ids 1..n) of various z extents in a (z, y, x) volume whose footprints
    in yx are at least one pixel apart (so slices of different objects never overlap)."""
    truth = np.zeros(shape, dtype=np.uint32)
    footprints = np.zeros(shape[1:], dtype=bool)
    zz, yy, xx = np.indices(shape)
    placed = 0
    while placed < n:
        center = rng.uniform([1, 6, 6], np.array(shape) - [1, 6, 6])
        radii = rng.uniform([1.5, 3, 3], [5, 7, 7])
        ball = (((zz - center[0]) / radii[0]) ** 2 + ((yy - center[1]) / radii[1]) ** 2
                + ((xx - center[2]) / radii[2]) ** 2) <= 1
        footprint = ball.any(axis=0)
        if ball.sum() < 20 or (ndimage.binary_dilation(footprint) & footprints).any():
            continue
        placed += 1
        truth[ball] = placed
        footprints |= footprint
    return truth


def _cut_into_slices(truth: np.ndarray, rng) -> np.ndarray:
    """Relabel every slice on its own with shuffled small 2D ids (ids repeat across slices)."""
    slices = np.zeros_like(truth)
    for z, plane in enumerate(truth):
        ids = np.unique(plane)
        ids = ids[ids != 0]
        new_ids = rng.permutation(len(ids)) + 1
        for old, new in zip(ids, new_ids):
            slices[z][plane == old] = new
    return slices


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when a and b are the same labelling up to a renaming of ids."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constructed_objects_are_recovered_exactly(seed):
    rng = np.random.default_rng(seed)
    truth = _ellipsoids((12, 64, 64), 12, rng)
    merged = merge_slices(_cut_into_slices(truth, rng))
    assert merged.dtype == np.uint32
    assert _same_partition(merged, truth)
    assert set(np.unique(merged)) == set(range(13))


def test_ids_follow_first_appearance():
    labels = np.zeros((2, 8, 8), dtype=np.uint16)
    labels[0, 5:7, 5:7] = 9
    labels[1, 5:7, 5:7] = 1
    labels[1, 0:2, 0:2] = 4
    merged = merge_slices(labels)
    assert merged[0, 5, 5] == merged[1, 5, 5] == 1 and merged[1, 0, 0] == 2


def test_gaps_are_closed_up_to_gap_closing_slices():
    truth = np.zeros((7, 16, 16), dtype=np.uint32)
    truth[:, 2:8, 2:8] = 1
    truth[:, 9:14, 9:14] = 2
    slices = truth.copy()
    slices[2] = 0  # object 1 missing on slice 2 only
    slices[4:6][slices[4:6] == 2] = 0  # object 2 missing on slices 4 and 5
    one_gap = merge_slices(slices, MergeOptions(gap_closing=1))
    assert len(np.unique(one_gap[truth == 1])) == 2  # 1 id + background on the gap slice
    assert not one_gap[2].any()
    assert len(np.unique(one_gap[slices == 2])) == 2  # a 2-slice gap needs gap_closing=2
    two_gaps = merge_slices(slices, MergeOptions(gap_closing=2))
    assert len(np.unique(two_gaps[slices == 2])) == 1
    no_closing = merge_slices(slices, MergeOptions(gap_closing=0))
    assert len(np.unique(no_closing[slices == 1])) == 2


def test_gap_closing_never_bridges_a_continuing_chain():
    labels = np.zeros((3, 10, 10), dtype=np.uint32)
    labels[0, 2:6, 2:6] = 1
    labels[1, 2:6, 2:6] = 1  # the chain continues on slice 1 ...
    labels[2, 2:6, 2:6] = 5  # ... but not onto slice 2 (below min_overlap), which starts a new object
    labels[2, 2:6, 2:3] = 0
    labels[1, 2:6, 3:6] = 0
    merged = merge_slices(labels, MergeOptions(min_overlap=0.3, gap_closing=1))
    assert slice_overlaps(labels[1], labels[2]) == {}
    assert merged[0, 2, 2] == merged[1, 2, 2] != merged[2, 2, 4]


def test_min_z_extent_removes_short_objects():
    labels = np.zeros((5, 10, 10), dtype=np.uint32)
    labels[0:4, 1:4, 1:4] = 1
    labels[2:4, 6:9, 6:9] = 2
    merged = merge_slices(labels, MergeOptions(min_z_extent=3))
    assert set(np.unique(merged)) == {0, 1}
    assert np.array_equal(merged > 0, labels == 1)


def test_low_overlap_keeps_objects_apart():
    labels = np.zeros((2, 10, 10), dtype=np.uint32)
    labels[0, 0:4, 0:4] = 1
    labels[1, 0:4, 3:9] = 1  # 4 of the smaller object's 16 pixels overlap
    assert slice_overlaps(labels[0], labels[1]) == {(1, 1): pytest.approx(4 / 16)}
    assert len(np.unique(merge_slices(labels, MergeOptions(min_overlap=0.3)))) == 3
    assert len(np.unique(merge_slices(labels, MergeOptions(min_overlap=0.2)))) == 2


def test_the_tip_of_a_round_object_stays_attached():
    labels = np.zeros((2, 20, 20), dtype=np.uint32)
    labels[0, 2:18, 2:18] = 3  # a large section ...
    labels[1, 9:11, 9:11] = 7  # ... under a 4-pixel tip: IoU 1/64, overlap 1
    assert len(np.unique(merge_slices(labels))) == 2


def test_bad_input_is_rejected():
    with pytest.raises(InvalidInput, match="z, y, x"):
        merge_slices(np.zeros((4, 4), dtype=np.uint32))
    with pytest.raises(InvalidInput, match="min_overlap"):
        merge_slices(np.zeros((2, 4, 4), dtype=np.uint32), MergeOptions(min_overlap=0))
    with pytest.raises(InvalidInput, match="integers"):
        merge_slices(np.zeros((2, 4, 4), dtype=np.float32))
