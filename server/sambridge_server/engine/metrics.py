"""Instance segmentation accuracy: SA at one IoU threshold and mean SA (mSA) over 0.50:0.05:0.95.

SA = TP / (TP + FP + FN) with an optimal one-to-one matching of predicted and true objects on IoU
(DSB 2018 / micro_sam evaluation, as in elf.evaluation). Label 0 is background in both images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from .errors import InvalidInput

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(np.arange(0.5, 1.0, 0.05))


@dataclass(frozen=True)
class SegmentationScores:
    """mSA plus the SA values most often reported (IoU 0.5 and 0.75)."""

    msa: float
    sa50: float
    sa75: float


def iou_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU between every predicted object (rows) and every true object (columns), background excluded."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise InvalidInput(f"pred and gt shapes differ: {pred.shape} vs {gt.shape}")
    pred_ids, pred_index = np.unique(pred, return_inverse=True)
    gt_ids, gt_index = np.unique(gt, return_inverse=True)
    # contingency table over all ids (background included, so object sizes are complete)
    counts = np.bincount(
        pred_index.ravel().astype(np.int64) * len(gt_ids) + gt_index.ravel(),
        minlength=len(pred_ids) * len(gt_ids),
    ).reshape(len(pred_ids), len(gt_ids))
    pred_sizes = counts.sum(axis=1, keepdims=True)
    gt_sizes = counts.sum(axis=0, keepdims=True)
    iou = counts / np.maximum(pred_sizes + gt_sizes - counts, 1)
    return iou[np.asarray(pred_ids) != 0][:, np.asarray(gt_ids) != 0]


def _true_positives(iou: np.ndarray, threshold: float) -> int:
    """Matched pairs with IoU >= threshold under the optimal assignment (IoU breaks ties)."""
    n_matched = min(iou.shape)
    if n_matched == 0 or not np.any(iou >= threshold):
        return 0
    # maximise the number of matches above threshold first, then the summed IoU
    costs = -(iou >= threshold).astype(float) - iou / (2 * n_matched)
    rows, cols = linear_sum_assignment(costs)
    return int(np.count_nonzero(iou[rows, cols] >= threshold))


def _accuracy(iou: np.ndarray, threshold: float) -> float:
    """SA from an IoU matrix; 0 when there is no true positive (also for two empty images)."""
    tp = _true_positives(iou, threshold)
    n_pred, n_true = iou.shape
    return tp / (n_pred + n_true - tp) if tp > 0 else 0.0


def segmentation_accuracy(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> float:
    """SA = TP / (TP + FP + FN) at one IoU threshold."""
    return _accuracy(iou_matrix(pred, gt), threshold)


def mean_segmentation_accuracy(
    pred: np.ndarray, gt: np.ndarray, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> float:
    """Mean of SA over IoU thresholds (default 0.50:0.05:0.95)."""
    iou = iou_matrix(pred, gt)
    return float(np.mean([_accuracy(iou, t) for t in thresholds]))


def segmentation_scores(pred: np.ndarray, gt: np.ndarray) -> SegmentationScores:
    """mSA, SA50 and SA75 with one IoU computation."""
    iou = iou_matrix(pred, gt)
    accuracies = [_accuracy(iou, t) for t in DEFAULT_THRESHOLDS]
    return SegmentationScores(
        msa=float(np.mean(accuracies)), sa50=_accuracy(iou, 0.5), sa75=_accuracy(iou, 0.75)
    )


def mask_iou(a: np.ndarray, b: np.ndarray, eps: float = 0.0) -> float:
    """Intersection over union of two binary masks; 0 when both are empty.

    ``eps`` is added to the union: micro_sam's ``compute_iou`` uses 1e-7, and code that
    reproduces its stopping rules passes the same.
    """
    intersection = float(np.count_nonzero(np.logical_and(a, b)))
    union = float(np.count_nonzero(np.logical_or(a, b)))
    if eps:
        return intersection / (union + eps)
    return intersection / union if union else 0.0
