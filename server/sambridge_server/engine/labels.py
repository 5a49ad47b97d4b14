"""Per-object summaries of label images (2D planes or 3D volumes), and stacks of per-plane labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import ndimage

from .callbacks import CancelledFn, raise_if_cancelled

PlaneSegmenter = Callable[[int, int], tuple[np.ndarray, "dict[int, float] | None"]]
"""``(position in the call, plane index)`` -> that plane's uint32 labels and their scores (or None)."""


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


def label_planes(planes: Sequence[int], shape: tuple[int, int], segment_plane: PlaneSegmenter,
                 cancelled: CancelledFn | None = None) -> tuple[np.ndarray, list[ObjectSummary]]:
    """Labels of each plane by ``segment_plane``, as one (len(planes), H, W) uint32 stack whose ids
    are unique across planes (a plane's ids are offset by the largest id before it), and the
    objects' summaries. Cancellation is checked before every plane."""
    labels = np.zeros((len(planes),) + tuple(shape), dtype=np.uint32)
    objects: list[ObjectSummary] = []
    offset = 0
    for done, index in enumerate(planes):
        raise_if_cancelled(cancelled, "automatic segmentation was cancelled")
        plane, scores = segment_plane(done, index)
        plane[plane > 0] += offset
        shifted = None if scores is None else {label + offset: score for label, score in scores.items()}
        objects += summarize_labels(plane, shifted, index)
        offset = max(offset, int(plane.max()))
        labels[done] = plane
    return labels, objects
