"""Synthetic training images: labels match the image, sizes stay in range, crowding touches, seeds fix all."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import regionprops

from sambridge_server.engine.training.synthetic import (
    MAX_DIAMETER,
    MIN_DIAMETER,
    SyntheticStyle,
    random_style,
    synthetic_image,
)

SPARSE = SyntheticStyle(diameter=(20.0, 30.0), coverage=0.15, overlap=0.0, blur=0.5, noise=0.02, contrast=1.0)
CROWDED = SyntheticStyle(diameter=(12.0, 20.0), coverage=0.6, overlap=0.3)


def _touching_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """Pairs of distinct objects with 4-adjacent pixels."""
    pairs = set()
    for a, b in ((labels[1:], labels[:-1]), (labels[:, 1:], labels[:, :-1])):
        hit = (a > 0) & (b > 0) & (a != b)
        pairs |= {tuple(sorted(p)) for p in zip(a[hit].tolist(), b[hit].tolist())}
    return pairs


def _inner_objects(labels: np.ndarray) -> list:
    height, width = labels.shape
    return [p for p in regionprops(labels)
            if p.bbox[0] > 0 and p.bbox[1] > 0 and p.bbox[2] < height and p.bbox[3] < width]


@pytest.mark.parametrize("kind", ["nuclei", "cells"])
def test_objects_are_where_the_labels_say(kind):
    for modality, sign in (("fluorescence", 1), ("dark", -1), ("phase", -1)):
        style = SyntheticStyle(**{**SPARSE.__dict__, "kind": kind, "modality": modality, "halo": 1.0})
        image, labels = synthetic_image((256, 256), style, np.random.default_rng(1))
        assert image.dtype == np.uint16 and labels.dtype == np.int32 and labels.max() >= 5
        background = image[ndimage.binary_dilation(labels > 0, iterations=12) == 0].mean()
        means = ndimage.mean(image, labels, np.arange(1, labels.max() + 1))
        assert (sign * (means - background) > 0).all(), modality  # every object stands out the right way
        if modality == "phase":  # a bright halo: the ring just outside objects is brighter than far away
            ring = ndimage.binary_dilation(labels > 0, iterations=3) & (labels == 0)
            assert image[ring].mean() > background


def test_sizes_stay_in_the_requested_range():
    image, labels = synthetic_image((384, 384), SPARSE, np.random.default_rng(2))
    diameters = np.array([p.equivalent_diameter_area for p in _inner_objects(labels)])
    assert len(diameters) >= 10
    assert diameters.min() >= 0.8 * 20 and diameters.max() <= 1.2 * 30
    for seed in range(50):
        style = random_style(np.random.default_rng(seed))
        assert MIN_DIAMETER <= style.diameter[0] <= style.diameter[1] <= MAX_DIAMETER
        assert 0.03 <= style.coverage <= 0.6


def test_crowded_styles_have_touching_objects_and_sparse_ones_none():
    _, crowded = synthetic_image((256, 256), CROWDED, np.random.default_rng(3))
    _, sparse = synthetic_image((256, 256), SPARSE, np.random.default_rng(3))
    assert len(_touching_pairs(crowded)) >= 20
    assert not _touching_pairs(sparse)
    assert (crowded > 0).mean() > 0.4 > (sparse > 0).mean()
    for prop in regionprops(crowded):  # touching objects are still whole objects, not slivers
        assert prop.area >= 20 and ndimage.label(prop.image)[1] <= 2


def test_a_seed_fixes_image_and_labels():
    style = random_style(np.random.default_rng(4))
    first = synthetic_image((128, 160), style, np.random.default_rng(5))
    again = synthetic_image((128, 160), style, np.random.default_rng(5))
    other = synthetic_image((128, 160), style, np.random.default_rng(6))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert first[1].shape == (128, 160)
