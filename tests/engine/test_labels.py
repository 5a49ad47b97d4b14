"""Per-plane label stacks: ids unique across planes, summaries on their planes, cancellation per plane."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.errors import Cancelled
from sambridge_server.engine.labels import label_planes


def two_objects(value: int) -> np.ndarray:
    plane = np.zeros((8, 8), np.uint32)
    plane[1:3, 1:3] = 1
    plane[5:7, 4:8] = value
    return plane


def test_ids_are_offset_past_every_earlier_plane_and_scores_follow():
    planes = {4: two_objects(2), 9: np.zeros((8, 8), np.uint32), 2: two_objects(5)}
    labels, objects = label_planes([4, 9, 2], (8, 8), lambda done, index: (planes[index].copy(), {1: 0.5}))
    assert labels.dtype == np.uint32 and labels.shape == (3, 8, 8)
    assert [sorted(set(np.unique(p)) - {0}) for p in labels] == [[1, 2], [], [3, 7]]
    assert [(o.label, o.index, o.score) for o in objects] == [(1, 4, 0.5), (2, 4, 1.0), (3, 2, 0.5), (7, 2, 1.0)]
    assert objects[3].bbox == (4.0, 5.0, 8.0, 7.0) and objects[3].area == 8


def test_cancellation_is_checked_before_every_plane():
    seen = []

    def segment(done: int, index: int):
        seen.append(index)
        return two_objects(2), None

    with pytest.raises(Cancelled):
        label_planes([0, 1, 2], (8, 8), segment, cancelled=lambda: len(seen) >= 2)
    assert seen == [0, 1]
