"""Automatic mask generation against micro_sam's AutomaticMaskGenerator on identical weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sambridge_server.engine.automatic.amg import (
    AMGParams,
    amg_candidates,
    amg_segment,
    default_amg_params,
    masks_to_boxes,
    point_grid,
)
from sambridge_server.engine.metrics import mean_segmentation_accuracy

POINTS_PER_SIDE = 6  # 36 prompts: one decoder batch keeps the test fast
STABILITY_OFFSET = 0.05  # set at initialisation in micro_sam
# Random weights predict IoU ~0 and logits of small magnitude: thresholds that keep real work
# for every filter (IoU, stability, NMS) while the reference still yields >= 10 objects.
PARAM_SETS = [
    AMGParams(pred_iou_thresh=-1.0, stability_score_thresh=0.1, stability_score_offset=STABILITY_OFFSET),
    AMGParams(pred_iou_thresh=0.0, stability_score_thresh=0.2, stability_score_offset=STABILITY_OFFSET,
              box_nms_thresh=0.5),
    AMGParams(pred_iou_thresh=-1.0, stability_score_thresh=0.0, stability_score_offset=STABILITY_OFFSET,
              min_object_size=4, with_background=False),
]


def _micro_sam_generate(amg, params: AMGParams) -> np.ndarray:
    from micro_sam import util

    masks = amg.generate(
        pred_iou_thresh=params.pred_iou_thresh, stability_score_thresh=params.stability_score_thresh,
        box_nms_thresh=params.box_nms_thresh, output_mode="binary_mask",
    )
    return util.mask_data_to_segmentation(
        masks, shape=amg.original_size, with_background=params.with_background,
        merge_exclusively=False, min_object_size=params.min_object_size,
    )


@pytest.fixture(scope="module")
def embeddings(micro_sam_predictor, hela_crop):
    from micro_sam.util import precompute_image_embeddings

    return precompute_image_embeddings(micro_sam_predictor, hela_crop, verbose=False)


@pytest.fixture(scope="module")
def reference_amg(micro_sam_predictor, hela_crop, embeddings):
    from micro_sam.instance_segmentation import AutomaticMaskGenerator

    amg = AutomaticMaskGenerator(micro_sam_predictor, points_per_side=POINTS_PER_SIDE,
                                 stability_score_offset=STABILITY_OFFSET)
    amg.initialize(hela_crop, image_embeddings=embeddings)
    return amg


@pytest.fixture(scope="module")
def candidates(tiny_sam, embeddings):
    return amg_candidates(
        tiny_sam, np.asarray(embeddings["features"]), embeddings["input_size"], embeddings["original_size"],
        points_per_side=POINTS_PER_SIDE, min_pred_iou=-math.inf,
    )


@pytest.mark.parametrize("params", PARAM_SETS)
def test_amg_matches_micro_sam(reference_amg, candidates, params):
    reference = _micro_sam_generate(reference_amg, params)
    result = amg_segment(candidates, params)
    assert reference.max() >= 10
    assert result.labels.dtype == np.uint32 and result.labels.shape == reference.shape
    assert mean_segmentation_accuracy(result.labels, reference) >= 0.9


def test_point_grid_matches_segment_anything():
    from segment_anything.utils.amg import build_point_grid

    np.testing.assert_allclose(point_grid(32, (700, 1100)), build_point_grid(32) * np.array([1100, 700]))


def test_masks_to_boxes_matches_micro_sam():
    from micro_sam._vendored import batched_mask_to_box

    rng = np.random.default_rng(0)
    masks = torch.from_numpy(rng.random((6, 40, 50)) > 0.995)
    masks[0] = False  # empty mask -> [0, 0, 0, 0]
    assert torch.equal(masks_to_boxes(masks), batched_mask_to_box(masks).long())


def test_scores_and_tuned_defaults(candidates):
    params = PARAM_SETS[1]
    result = amg_segment(candidates, params)
    n = int(result.labels.max())
    assert result.pred_iou.shape == (n,) and result.stability.shape == (n,)
    assert (result.pred_iou > params.pred_iou_thresh).all()
    assert (result.stability >= params.stability_score_thresh).all()
    assert default_amg_params("vit_b_lm") == AMGParams(0.65, 0.7, min_object_size=100)
    assert default_amg_params(None) == AMGParams()
    with pytest.raises(ValueError):  # candidates pre-filtered at 0.5 cannot serve a lower threshold
        amg_segment(type(candidates)(**{**candidates.__dict__, "min_pred_iou": 0.5}), AMGParams(pred_iou_thresh=0.1))


def test_small_region_cleanup_fills_holes_and_drops_islands():
    from sambridge_server.engine.automatic.amg import _remove_small_regions

    mask = np.zeros((40, 40), bool)
    mask[5:30, 5:30] = True
    mask[10:12, 10:12] = False  # small hole
    mask[35:37, 35:37] = True  # small island
    cleaned, changed = _remove_small_regions(mask, min_area=10)
    assert changed
    assert cleaned[10:12, 10:12].all() and not cleaned[35:37, 35:37].any()
    assert cleaned.sum() == 25 * 25
    same, changed = _remove_small_regions(cleaned, min_area=10)
    assert not changed and np.array_equal(same, cleaned)


def test_prefiltered_candidates_equal_unfiltered_ones(tiny_sam, embeddings):
    """Candidates with the IoU pre-filter (masks of failing prompts never upscaled) are exactly
    the unfiltered candidates above the threshold."""
    args = (tiny_sam, np.asarray(embeddings["features"]), embeddings["input_size"], embeddings["original_size"])
    everything = amg_candidates(*args, points_per_side=POINTS_PER_SIDE, min_pred_iou=-math.inf)
    ordered = everything.iou_preds.sort().values
    middle = len(ordered) // 2
    threshold = float(ordered[middle - 1] + ordered[middle]) / 2  # between two masks: no ties
    filtered = amg_candidates(*args, points_per_side=POINTS_PER_SIDE, min_pred_iou=threshold)
    keep = everything.iou_preds > threshold
    assert 0 < len(filtered.iou_preds) == int(keep.sum()) < len(everything.iou_preds)
    torch.testing.assert_close(filtered.iou_preds, everything.iou_preds[keep])
    torch.testing.assert_close(filtered.low_res_logits, everything.low_res_logits[keep], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(filtered.points, everything.points[keep.numpy()])
