"""micro_sam's corrective-click rule: where the next positive and negative clicks go.

micro_sam's ``IterativePromptGenerator`` (its training and its iterative-prompting evaluation)
adds, per iteration, one positive point drawn uniformly from the false-negative region and one
negative point drawn from the false-positive region. Without a false-negative region the positive
point is drawn where the prediction is already right; without a false-positive region the
negative point is drawn from the object's bounding box grown by 3 px minus the object, else from
the background.
"""

from __future__ import annotations

import numpy as np

_BOX_MARGIN = 3


def corrective_clicks(prediction: np.ndarray, target: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One positive and one negative click for ``prediction`` against ``target`` (bool (H, W)).

    Returns points (2, 2) as (x, y) and labels ``[1, 0]``.
    """
    prediction, target = np.asarray(prediction, dtype=bool), np.asarray(target, dtype=bool)
    positive = target & ~prediction
    if not positive.any():
        positive = target & prediction
    negative = prediction & ~target
    if not negative.any():
        negative = _box_periphery(target)
    if not negative.any():
        negative = ~target
    points = np.array([_draw(positive, rng), _draw(negative, rng)], dtype=np.float64)
    return points, np.array([1, 0], dtype=np.int64)


def _box_periphery(target: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(target)
    region = np.zeros_like(target)
    if ys.size:
        region[max(ys.min() - _BOX_MARGIN, 0): ys.max() + 1 + _BOX_MARGIN,
               max(xs.min() - _BOX_MARGIN, 0): xs.max() + 1 + _BOX_MARGIN] = True
    return region & ~target


def _draw(region: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    ys, xs = np.nonzero(region)
    index = int(rng.integers(len(ys)))
    return float(xs[index]), float(ys[index])
