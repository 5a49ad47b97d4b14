"""Masks from the live server equal micro_sam's on identical weights (fp32)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

micro_util = pytest.importorskip("micro_sam.util")
from micro_sam import prompt_based_segmentation as micro_prompts  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402

from sambridge_server.engine.models import load_checkpoint  # noqa: E402


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.fixture(scope="module")
def reference(tiny_checkpoint, hela_crop):
    """micro_sam predictor on the same checkpoint and its precomputed embeddings."""
    sam = load_checkpoint(tiny_checkpoint).sam
    predictor = SamPredictor(sam)
    predictor.model_type = "vit_b"
    predictor._hash = "test"
    embeddings = micro_util.precompute_image_embeddings(predictor, hela_crop, verbose=False)
    return predictor, embeddings


@pytest.fixture(scope="module")
def objects(hela_seg):
    """Bounding boxes (x0, y0, x1, y1) and centres (x, y) of 20 real nuclei inside the crop."""
    seg = hela_seg[0][100:612, 200:712]
    boxes, centers = [], []
    for label, sl in enumerate(ndimage.find_objects(seg), start=1):
        if sl is None:
            continue
        ys, xs = sl
        if ys.start == 0 or xs.start == 0 or ys.stop == seg.shape[0] or xs.stop == seg.shape[1]:
            continue
        boxes.append((xs.start, ys.start, xs.stop, ys.stop))
        cy, cx = ndimage.center_of_mass(seg == label)
        centers.append((cx, cy))
    assert len(boxes) >= 20
    return boxes[:20], centers[:20]


def test_box_masks_match_micro_sam(client, reference, objects, hela_crop):
    predictor, embeddings = reference
    ious = []
    for x0, y0, x1, y1 in objects[0]:
        ours = client.segment(hela_crop, box=(x0, y0, x1, y1), model="tiny")
        theirs = micro_prompts.segment_from_box(predictor, np.array([y0, x0, y1, x1]), image_embeddings=embeddings)
        ious.append(_iou(ours, theirs.squeeze()))
    assert min(ious) >= 0.99, ious


def test_point_masks_match_micro_sam(client, reference, objects, hela_crop):
    predictor, embeddings = reference
    ious = []
    for x, y in objects[1]:
        ours = client.segment(hela_crop, points=[(x, y)], point_labels=[1], model="tiny")
        theirs = micro_prompts.segment_from_points(
            predictor, np.array([[y, x]]), np.array([1]), image_embeddings=embeddings
        )
        ious.append(_iou(ours, theirs.squeeze()))
    assert min(ious) >= 0.99, ious


def test_many_objects_in_one_call_equal_single_calls(client, objects, hela_crop):
    boxes = objects[0][:10]
    labels = client.segment_objects(hela_crop, boxes=boxes, model="tiny")
    assert labels.dtype == np.uint32 and labels.shape == hela_crop.shape
    singles = [client.segment(hela_crop, box=b, model="tiny") for b in boxes]
    for i, single in enumerate(singles, start=1):
        others = np.any([s for j, s in enumerate(singles, start=1) if j != i], axis=0)
        # Label i lies inside object i's own mask and covers all of it that no other object claims.
        assert not np.any((labels == i) & ~single)
        assert np.all(labels[single & ~others] == i)
