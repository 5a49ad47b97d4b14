"""Per-object summaries of label images (2D planes or 3D volumes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class ObjectSummary:
    """One segmented object: label, score, yx box (x0, y0, x1, y1), area (pixels or voxels), slice index."""

    label: int
    score: float
    bbox: tuple[float, float, float, float]
    area: int
    index: int = 0


def summarize_labels(labels: np.ndarray, scores: dict[int, float] | None = None, index: int = 0,
                     first_slices: dict[int, int] | None = None) -> list[ObjectSummary]:
    """Area and yx bounding box of every object of a 2D or 3D label image.

    ``index`` is the slice of a 2D plane; for volumes each object's index is
    ``first_slices[label]`` or else the first slice it appears on. Missing scores are 1.0.
    """
    # Ids are compacted first: a client-given id like 3_000_000_000 must not size the tables.
    ids, inverse = np.unique(labels, return_inverse=True)
    if not ids.any():
        return []
    compact = inverse.reshape(labels.shape) + 1
    boxes = ndimage.find_objects(compact)
    counts = np.bincount(compact.ravel())
    result = []
    for k, label in enumerate(ids.tolist()):
        if label == 0:
            continue
        ys, xs = boxes[k][-2:]
        seed = index if labels.ndim == 2 else int((first_slices or {}).get(label, boxes[k][0].start))
        result.append(ObjectSummary(
            label=label, score=float((scores or {}).get(label, 1.0)),
            bbox=(float(xs.start), float(ys.start), float(xs.stop), float(ys.stop)), area=int(counts[k + 1]),
            index=seed,
        ))
    return result
