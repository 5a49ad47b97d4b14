"""Prompt decoding with SAM2 models matches SAM2ImagePredictor on a real image (IoU >= 0.99 per prompt)."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.sam2_models import Sam2Prompt, decode_prompts


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def assert_nontrivial(masks: np.ndarray) -> None:
    fractions = masks.reshape(len(masks), -1).mean(axis=1)
    assert (fractions > 0.001).all() and (fractions < 0.999).all(), fractions


@pytest.fixture(scope="module")
def hela0(features, hela_frames):
    return features("hela0", hela_frames[0])


@pytest.mark.parametrize("multimask", [False, True])
def test_boxes_match_the_image_predictor(ours, hela0, hela_nuclei, reference_predictor, multimask):
    boxes = [box for _, box, _ in hela_nuclei]
    mine = decode_prompts(ours, hela0, [Sam2Prompt(box=box) for box in boxes], multimask=multimask)
    for i, box in enumerate(boxes):
        theirs, scores, _ = reference_predictor.predict(box=box, multimask_output=multimask)
        assert_nontrivial(mine.masks[i])
        ious = [iou(a, b) for a, b in zip(mine.masks[i], theirs > 0)]
        assert min(ious) >= 0.99, ious
        np.testing.assert_allclose(mine.scores[i], scores, atol=1e-3)


def test_points_match_the_image_predictor(ours, hela0, hela_nuclei, reference_predictor):
    (_, _, first), (_, _, second) = hela_nuclei[:2]
    prompts = [
        (np.array([first]), np.array([1])),
        (np.array([first, second]), np.array([1, 0])),
        (np.array([second, first + 3]), np.array([1, 1])),
    ]
    for multimask in (True, False):
        mine = decode_prompts(ours, hela0, [Sam2Prompt(points=p, labels=lab) for p, lab in prompts], multimask)
        for i, (points, labels) in enumerate(prompts):
            theirs, _, _ = reference_predictor.predict(point_coords=points, point_labels=labels,
                                                       multimask_output=multimask)
            assert_nontrivial(mine.masks[i])
            assert min(iou(a, b) for a, b in zip(mine.masks[i], theirs > 0)) >= 0.99


def test_box_points_and_mask_input_match(ours, hela0, hela_nuclei, reference_predictor):
    _, box, centre = hela_nuclei[2]
    first = decode_prompts(ours, hela0, [Sam2Prompt(box=box)], multimask=False)
    prompt = Sam2Prompt(points=np.array([centre]), labels=np.array([1]), box=box,
                        mask_logits=first.low_res_logits[0, 0])
    mine = decode_prompts(ours, hela0, [prompt], multimask=False)
    theirs, _, _ = reference_predictor.predict(point_coords=np.array([centre]), point_labels=np.array([1]), box=box,
                                               mask_input=first.low_res_logits[0, :1], multimask_output=False)
    assert_nontrivial(mine.masks[0])
    assert iou(mine.masks[0, 0], theirs[0] > 0) >= 0.99


def test_many_objects_in_one_call_equal_one_by_one(ours, hela0, hela_nuclei):
    prompts = [Sam2Prompt(box=box) for _, box, _ in hela_nuclei]
    prompts.append(Sam2Prompt(points=np.array([hela_nuclei[0][2]]), labels=np.array([1])))
    together = decode_prompts(ours, hela0, prompts, multimask=False)
    for i, prompt in enumerate(prompts):
        alone = decode_prompts(ours, hela0, [prompt], multimask=False)
        assert iou(together.masks[i, 0], alone.masks[0, 0]) >= 0.999
        np.testing.assert_allclose(together.scores[i], alone.scores[0], atol=1e-4)


def test_bad_prompts_are_refused(ours, hela0):
    with pytest.raises(InvalidInput, match="at least one point"):
        decode_prompts(ours, hela0, [Sam2Prompt()])
    with pytest.raises(InvalidInput, match="labels"):
        decode_prompts(ours, hela0, [Sam2Prompt(points=np.array([[1.0, 2.0]]), labels=np.array([5]))])
    with pytest.raises(InvalidInput, match="x0 <= x1"):
        decode_prompts(ours, hela0, [Sam2Prompt(box=np.array([10.0, 10.0, 5.0, 20.0]))])
    with pytest.raises(InvalidInput, match="mask_logits"):
        decode_prompts(ours, hela0, [Sam2Prompt(mask_logits=np.zeros((64, 64)))])
