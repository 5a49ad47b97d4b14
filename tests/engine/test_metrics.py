"""Segmentation accuracy metrics against elf.evaluation (micro_sam's evaluation backend)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sambridge_server.engine.metrics import (
    SegmentationScores,
    mean_segmentation_accuracy,
    segmentation_accuracy,
    segmentation_scores,
)


def _perturbed(labels: np.ndarray, seed: int) -> np.ndarray:
    """A plausible imperfect prediction: eroded/dilated objects, some dropped, some merged, a shift."""
    rng = np.random.default_rng(seed)
    pred = labels.copy()
    ids = np.unique(labels)[1:]
    pred[np.isin(pred, rng.choice(ids, len(ids) // 10, replace=False))] = 0  # false negatives
    pred[np.isin(pred, rng.choice(ids, len(ids) // 10, replace=False))] = ids[0]  # merges
    grown = ndimage.grey_dilation(pred, size=(3, 3))
    pred = np.where(rng.random(pred.shape) < 0.5, grown, pred)
    pred = np.roll(pred, (1, 2), axis=(0, 1))
    pred[:40, :40] = 9999  # a false positive
    return pred


@pytest.fixture(scope="module")
def frame_pair(hela_seg):
    gt = hela_seg[0][:350, :550].astype(np.int32)
    return _perturbed(gt, 0), gt


def test_msa_matches_elf(frame_pair):
    from elf.evaluation import mean_segmentation_accuracy as elf_msa

    pred, gt = frame_pair
    ours = mean_segmentation_accuracy(pred, gt)
    reference, accuracies = elf_msa(pred, gt, return_accuracies=True)
    assert 0.2 < reference < 0.95  # a non-trivial case
    assert ours == pytest.approx(reference, abs=1e-12)
    assert segmentation_accuracy(pred, gt, 0.5) == pytest.approx(accuracies[0], abs=1e-12)
    assert segmentation_accuracy(pred, gt, 0.75) == pytest.approx(accuracies[5], abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_scores_match_elf_on_other_predictions(hela_seg, seed):
    from elf.evaluation import mean_segmentation_accuracy as elf_msa

    gt = hela_seg[seed][200:500, 300:700].astype(np.int32)
    pred = _perturbed(gt, seed)
    scores = segmentation_scores(pred, gt)
    reference, accuracies = elf_msa(pred, gt, return_accuracies=True)
    assert isinstance(scores, SegmentationScores)
    assert scores.msa == pytest.approx(reference, abs=1e-12)
    assert scores.sa50 == pytest.approx(accuracies[0], abs=1e-12)
    assert scores.sa75 == pytest.approx(accuracies[5], abs=1e-12)


def test_identical_and_relabelled_segmentations_score_one(hela_seg):
    gt = hela_seg[0][:200, :300]
    permuted = np.zeros_like(gt)
    ids = np.unique(gt)[1:]
    for new, old in zip(np.random.default_rng(0).permutation(ids), ids):
        permuted[gt == old] = new
    assert mean_segmentation_accuracy(permuted, gt) == 1.0


def test_edge_cases():
    empty = np.zeros((10, 10), np.uint32)
    one = empty.copy()
    one[2:5, 2:5] = 1
    assert mean_segmentation_accuracy(empty, empty) == 0.0  # as elf: no true positive -> 0
    assert mean_segmentation_accuracy(empty, one) == 0.0
    assert mean_segmentation_accuracy(one, empty) == 0.0
    half = empty.copy()
    half[2:5, 2:4] = 7  # IoU 6/9 = 0.667
    assert segmentation_accuracy(half, one, 0.6) == 1.0
    assert segmentation_accuracy(half, one, 0.7) == 0.0
    assert mean_segmentation_accuracy(half, one) == pytest.approx(0.4)  # 0.50..0.65 match
    with pytest.raises(ValueError):
        mean_segmentation_accuracy(empty, np.zeros((5, 5)))
