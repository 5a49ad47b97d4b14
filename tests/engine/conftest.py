"""Fixtures for engine tests: a tiny random-weight SAM, micro_sam around the same weights,
and a small real HeLa crop with objects taken from the challenge segmentation."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import regionprops

from sambridge_server.engine.models import PRESETS, build_sam

CROP = (slice(180, 436), slice(300, 620))  # 256 x 320: non-square exercises resizing


@pytest.fixture(scope="session")
def tiny_sam():
    """vit_tiny SAM with fixed random weights."""
    return build_sam(PRESETS["vit_tiny"], seed=0)


@pytest.fixture(scope="session")
def micro_sam_predictor(tiny_sam):
    """micro_sam-ready SamPredictor wrapping the very same Sam instance."""
    from segment_anything import SamPredictor

    predictor = SamPredictor(tiny_sam)
    # get_sam_model only builds vit_b/l/h; these attributes are what micro_sam reads.
    predictor.model_type = "vit_b"
    predictor.model_name = "vit_tiny_test"
    predictor._hash = "xxh128:test"
    return predictor


@pytest.fixture(scope="session")
def hela_crop(hela_frame):
    """Real HeLa nuclei crop, (256, 320) uint16."""
    return np.ascontiguousarray(hela_frame[CROP])


@pytest.fixture(scope="session")
def hela_objects(hela_seg):
    """Up to 20 nuclei inside the crop: (boxes (x0, y0, x1, y1), centre points (x, y))."""
    labels = hela_seg[0][CROP]
    props = [p for p in regionprops(labels) if p.area >= 30]
    props = sorted(props, key=lambda p: p.label)[:20]
    boxes = np.array([[p.bbox[1], p.bbox[0], p.bbox[3], p.bbox[2]] for p in props], dtype=np.float64)
    points = np.array([[p.coords[len(p.coords) // 2][1], p.coords[len(p.coords) // 2][0]] for p in props], dtype=np.float64)
    return boxes, points

