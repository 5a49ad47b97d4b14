"""The objects a volume call starts from: annotated slices (a mask or prompts) or a slice's label image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import InvalidInput

MAX_OBJECTS = 4096
"""Most objects one propagation call takes."""

DecodeFn = Callable[[int, np.ndarray | None, np.ndarray | None, np.ndarray | None], np.ndarray]
"""``(z, points (n, 2) xy, point labels (n,), box xyxy)`` -> the best mask on slice z."""


@dataclass(frozen=True)
class SliceAnnotation:
    """One annotated slice of an object: either a mask or prompts (points and/or a box)."""

    z: int
    mask: np.ndarray | None = None
    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    box: np.ndarray | None = None

    @property
    def has_prompts(self) -> bool:
        """True when the annotation gives points or a box."""
        return (self.points is not None and len(self.points) > 0) or self.box is not None


def check_slice(z: int, n_slices: int, what: str) -> int:
    """``z`` when it is a slice of a volume with ``n_slices`` slices, else InvalidInput."""
    if not 0 <= z < n_slices:
        raise InvalidInput(f"{what}: z={z} is outside the volume (0..{n_slices - 1})")
    return int(z)


def annotation_masks(annotations: Sequence[SliceAnnotation], n_slices: int,
                     decode: DecodeFn) -> dict[int, np.ndarray]:
    """{z: mask} of one object's annotated slices; prompts are decoded on their slice.

    Shapes and emptiness of given masks are checked by the propagation itself.
    """
    if not annotations:
        raise InvalidInput("no annotations: send at least one annotated slice (mask or prompts)")
    zs = [a.z for a in annotations]
    if len(set(zs)) != len(zs):
        raise InvalidInput(f"slices annotated more than once: {sorted({z for z in zs if zs.count(z) > 1})}")
    masks: dict[int, np.ndarray] = {}
    for annotation in annotations:
        z = check_slice(annotation.z, n_slices, "annotation")
        if (annotation.mask is not None) == annotation.has_prompts:
            raise InvalidInput(f"annotation on z={z}: give either a mask or prompts (points and/or a box)")
        if annotation.mask is not None:
            masks[z] = annotation.mask
            continue
        mask = decode(z, annotation.points, annotation.point_labels, annotation.box)
        if not mask.any():
            raise InvalidInput(f"the prompts on z={z} decode to an empty mask; nothing to propagate")
        masks[z] = mask
    return masks


def objects_from_labels(labels_2d: np.ndarray, z: int) -> dict[int, dict[int, np.ndarray]]:
    """{label: {z: mask}} for every object of a 2D label image on slice z."""
    labels_2d = np.asarray(labels_2d)
    ids = np.unique(labels_2d)
    return {int(i): {z: labels_2d == i} for i in ids[ids != 0]}


def seed_objects(labels_2d: np.ndarray, z: int, shape: tuple[int, int, int]) -> dict[int, dict[int, np.ndarray]]:
    """The objects of slice z's label image, checked against the volume's ``shape``."""
    z = check_slice(z, shape[0], "labels")
    if labels_2d.ndim != 2 or labels_2d.dtype.kind not in "ui":
        raise InvalidInput(f"labels must be a 2D integer 'yx' image, got {labels_2d.dtype} with "
                           f"{labels_2d.ndim} dimensions")
    if labels_2d.shape != shape[1:]:
        raise InvalidInput(f"labels have shape {labels_2d.shape} but slices are {shape[1:]}")
    objects = objects_from_labels(labels_2d, z)
    if not objects:
        raise InvalidInput(f"the label image of z={z} holds no objects (all zero)")
    if len(objects) > MAX_OBJECTS:
        raise InvalidInput(f"{len(objects)} objects is too many (limit {MAX_OBJECTS})")
    return objects
