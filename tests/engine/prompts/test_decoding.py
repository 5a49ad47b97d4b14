"""Prompt decoding against micro_sam's segment_from_* on identical weights and embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from micro_sam import prompt_based_segmentation as pbs
from micro_sam.util import precompute_image_embeddings

from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.prompts.decoding import decode, logits_from_mask
from sambridge_server.engine.prompts.many_objects import decode_objects, paint_labels

TILE_SHAPE, HALO = (128, 128), (32, 32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@pytest.fixture(scope="module", params=["untiled", "tiled"])
def setup(request, tiny_sam, micro_sam_predictor, hela_crop):
    """(our embeddings, micro_sam's embeddings) of the same crop."""
    tiling = {} if request.param == "untiled" else {"tile_shape": TILE_SHAPE, "halo": HALO}
    ours = compute_embeddings(tiny_sam, hela_crop, **tiling)
    theirs = precompute_image_embeddings(micro_sam_predictor, hela_crop, verbose=False, **tiling)
    return ours, theirs


def _yxyx(box: np.ndarray) -> np.ndarray:
    return np.array([box[1], box[0], box[3], box[2]])


def test_boxes_match_segment_from_box(tiny_sam, micro_sam_predictor, setup, hela_objects):
    ours, theirs = setup
    boxes, _ = hela_objects
    assert len(boxes) >= 15
    for box in boxes:
        expected, scores, logits = pbs.segment_from_box(micro_sam_predictor, _yxyx(box), theirs, return_all=True)
        result = decode(tiny_sam, ours, box=box)
        assert result.masks.shape == (1,) + ours.image_shape and result.masks.dtype == bool
        assert iou(result.masks[0], expected[0]) >= 0.99
        np.testing.assert_allclose(result.scores, scores, atol=1e-4)
        np.testing.assert_allclose(result.logits, logits, atol=2e-3)


def test_points_match_segment_from_points(tiny_sam, micro_sam_predictor, setup, hela_objects):
    ours, theirs = setup
    _, points = hela_objects
    for point in points[::2]:  # 10 objects (decoder calls dominate test time)
        expected, scores, _ = pbs.segment_from_points(
            micro_sam_predictor, point[None, ::-1], np.array([1]), theirs, return_all=True
        )
        result = decode(tiny_sam, ours, points=point[None])
        assert result.masks.shape[0] == 1  # lone positive point: best of the multimask outputs
        assert iou(result.masks[0], expected[0]) >= 0.99
        np.testing.assert_allclose(result.scores[0], scores.max(), atol=1e-4)


def test_box_and_points_match(tiny_sam, micro_sam_predictor, setup, hela_objects):
    ours, theirs = setup
    boxes, points = hela_objects
    for box, point in list(zip(boxes, points))[:3]:
        negative = np.array([box[0], box[1]]) + 1  # a corner inside the box
        coords = np.stack([point, negative])
        labels = np.array([1, 0])
        expected = pbs.segment_from_box_and_points(micro_sam_predictor, _yxyx(box), coords[:, ::-1], labels, theirs)
        result = decode(tiny_sam, ours, points=coords, point_labels=labels, box=box)
        assert iou(result.masks[0], expected[0]) >= 0.99


def test_mask_prompt_matches_segment_from_mask(tiny_sam, micro_sam_predictor, hela_crop, hela_seg):
    square = hela_crop[:, :256]  # micro_sam stretches non-square masks; both agree on squares
    labels = hela_seg[0][180:436, 300:556]
    mask = labels == np.unique(labels)[3]
    ours = compute_embeddings(tiny_sam, square)
    theirs = precompute_image_embeddings(micro_sam_predictor, square, verbose=False)
    logits = logits_from_mask(mask)
    np.testing.assert_array_equal(logits, pbs._compute_logits_from_mask(mask.astype(np.uint8))[0])
    expected = pbs.segment_from_mask(micro_sam_predictor, mask.astype(np.uint8), theirs, use_box=False)
    result = decode(tiny_sam, ours, mask_logits=logits)
    assert iou(result.masks[0], expected[0]) >= 0.99


def test_multimask_returns_three(tiny_sam, micro_sam_predictor, setup, hela_objects):
    ours, theirs = setup
    box = hela_objects[0][0]
    expected, scores, _ = pbs.segment_from_box(micro_sam_predictor, _yxyx(box), theirs, multimask_output=True, return_all=True)
    result = decode(tiny_sam, ours, box=box, multimask=True)
    assert result.masks.shape[0] == 3 and result.logits.shape == (3, 256, 256)
    for k in range(3):
        assert iou(result.masks[k], expected[k]) >= 0.99
    np.testing.assert_allclose(result.scores, scores, atol=1e-4)


def test_batched_objects_equal_single_calls(tiny_sam, setup, hela_objects):
    ours, _ = setup
    boxes, points = hela_objects
    negatives = np.array([[5.0, 5.0], [300.0, 250.0]])
    batched = decode_objects(tiny_sam, ours, points=points[:4], boxes=boxes[:4], negative_points=negatives, batch_size=3)
    assert len(batched) == 8
    # Shared negatives reach only the objects whose tile holds them: micro_sam's dropping rule.
    singles = [
        decode(tiny_sam, ours, points=np.concatenate([p[None], negatives]), point_labels=[1, 0, 0], drop_outside=True)
        for p in points[:4]
    ] + [decode(tiny_sam, ours, box=b, points=negatives, point_labels=[0, 0], drop_outside=True) for b in boxes[:4]]
    for got, want in zip(batched, singles):
        assert got.tile_index == want.tile_index
        # (5, 5) and (300, 250) lie in opposite corner tiles: tiled, every object misses one of them.
        assert got.dropped_points == 0 if ours.n_tiles == 1 else got.dropped_points >= 1
        assert iou(got.masks[0], want.masks[0]) >= 0.99
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-4)
    # Without negatives, point objects use micro_sam's best-of-multimask rule like decode().
    lone = decode_objects(tiny_sam, ours, points=points[:2])
    for got, point in zip(lone, points[:2]):
        np.testing.assert_allclose(got.scores, decode(tiny_sam, ours, points=point[None]).scores, atol=1e-4)


def test_paint_labels_higher_score_wins():
    shape = (4, 4)
    low, high = np.zeros((1,) + shape, bool), np.zeros((1,) + shape, bool)
    low[0, :, :3], high[0, :, 2:] = True, True
    from sambridge_server.engine.prompts.decoding import DecodeResult

    results = [
        DecodeResult(high, np.array([0.9], np.float32), np.zeros((1, 256, 256), np.float32)),
        DecodeResult(low, np.array([0.1], np.float32), np.zeros((1, 256, 256), np.float32)),
    ]
    labels = paint_labels(results, shape)
    assert labels.dtype == np.uint32
    np.testing.assert_array_equal(labels[0], [2, 2, 1, 1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"points": [[320, 10]]}, r"points\[0\] = \(x=320, y=10\) lies outside"),
        ({"points": [[10, 10], [-1, 5]]}, r"points\[1\]"),
        ({"box": (400, 10, 500, 50)}, "box .* lies outside"),
        ({"box": (50, 10, 40, 50)}, "empty"),
        ({"points": [[10, 10]], "point_labels": [1, 0]}, "2 entries for 1 points"),
        ({"points": [[10, 10]], "point_labels": [2]}, "must be 1"),
        ({"mask_logits": np.zeros((64, 64))}, r"\(256, 256\)"),
        ({}, "no prompt"),
    ],
)
def test_invalid_prompts_are_named(tiny_sam, setup, kwargs, message):
    ours, _ = setup
    with pytest.raises(InvalidInput, match=message):
        decode(tiny_sam, ours, **kwargs)


def test_invalid_object_boxes_are_named(tiny_sam, setup):
    ours, _ = setup
    with pytest.raises(InvalidInput, match=r"boxes\[1\]"):
        decode_objects(tiny_sam, ours, boxes=[[0, 0, 10, 10], [0, 0, 10, np.nan]])


def test_paint_objects_streams_the_same_labels_in_image_sized_memory(tiny_sam, setup, hela_objects):
    import tracemalloc

    from sambridge_server.engine.prompts.many_objects import paint_objects

    ours, _ = setup
    boxes, points = hela_objects
    # Overlapping objects: every box twice (the higher score wins; equal scores: the later one).
    boxes = np.concatenate([boxes, boxes + [4, 4, 4, 4]])
    negatives = np.array([[5.0, 5.0]])
    want = paint_labels(decode_objects(tiny_sam, ours, points=points, boxes=boxes, negative_points=negatives),
                        ours.image_shape)
    tracemalloc.start()
    labels, scores, missed = paint_objects(tiny_sam, ours, points=points, boxes=boxes, negative_points=negatives)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(labels, want)
    assert sorted(scores) == list(range(1, len(points) + len(boxes) + 1))
    assert missed == 0 if ours.n_tiles == 1 else missed > 0
    # decode_objects holds one full-image mask per object (here 60 x 80 KiB); painting holds ~the image.
    assert peak < 12 * labels.nbytes
