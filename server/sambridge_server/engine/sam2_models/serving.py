"""What the Workspace calls for a SAM2 model: one object, many objects, automatic masks, memory.

Each function takes what the Workspace already resolved (the model, a plane's cached
``Sam2Features``, validated prompts) and returns the Workspace's own result types, so a SAM2
model answers the same calls as a SAM1 model. Conventions: points (x, y), boxes (x0, y0, x1, y1).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable

import numpy as np

from ..callbacks import CancelledFn, raise_if_cancelled
from ..errors import FailedPrecondition, InvalidInput
from ..labels import label_planes
from ..prompts.interactive import SegmentResult
from ..prompts.objects import ObjectState
from ..prompts.windows import ObjectPrompt
from .amg import Sam2AMGParams, sam2_amg
from .decoding import Sam2Prompt, decode_prompts
from .features import Sam2Features
from .interactive import segment_object


def segment(model: Any, features: Sam2Features, new: ObjectPrompt, mask: np.ndarray | None = None,
            multimask: bool = False, previous: ObjectState | None = None) -> tuple[SegmentResult, ObjectState]:
    """Decode one object from its handle's ``previous`` state (None: no handle) plus this call's
    prompts; returns the result and the object's next state (``interactive.segment_object``)."""
    return segment_object(model, features, new, mask=mask, multimask=multimask, previous=previous)


def segment_objects(model: Any, features: Sam2Features, points=None, boxes=None, negative_points=None,
                    cancelled: CancelledFn | None = None) -> tuple[np.ndarray, dict[int, float], int]:
    """Every positive point and every box is one object; every negative point joins every object.

    Returns uint32 labels (higher predicted IoU wins overlaps), scores by label, and 0 (no object
    misses a negative point: SAM2 objects are decoded in the tile holding their prompt).
    """
    negatives = np.zeros((0, 2)) if negative_points is None else np.asarray(negative_points, float).reshape(-1, 2)
    prompts = []
    for point in ([] if points is None else np.asarray(points, float).reshape(-1, 2)):
        coords = np.concatenate([point[None], negatives])
        prompts.append(Sam2Prompt(points=coords, labels=np.array([1] + [0] * len(negatives))))
    for box in ([] if boxes is None else np.asarray(boxes, float).reshape(-1, 4)):
        prompts.append(Sam2Prompt(points=negatives if len(negatives) else None,
                                  labels=np.zeros(len(negatives), int) if len(negatives) else None, box=box))
    if not prompts:
        raise InvalidInput("no objects: send positive points or boxes")
    raise_if_cancelled(cancelled, "segmenting objects was cancelled")
    result = decode_prompts(model, features, prompts, multimask=False)
    labels = np.zeros(features.image_shape, dtype=np.uint32)
    for i in np.argsort(result.scores[:, 0], kind="stable"):  # the best object is painted last
        labels[result.masks[i, 0]] = i + 1
    return labels, {i + 1: float(result.scores[i, 0]) for i in range(len(prompts))}, 0


def amg_params(values: dict | None) -> Sam2AMGParams:
    """Sam2AMGParams from a request's AMG settings; InvalidInput names unknown settings."""
    values = dict(values or {})
    values.pop("with_background", None)  # SAM1 AMG's background removal; SAM2's generator has no background mask
    known = {field.name for field in fields(Sam2AMGParams)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"unknown AMG settings for a SAM2 model: {unknown}; known: {sorted(known)}")
    return Sam2AMGParams(**values)


def auto_segment_plane(model: Any, plane: np.ndarray, features: Sam2Features, params: Sam2AMGParams,
                       progress: Callable[[int, int], None] | None, cancelled: CancelledFn | None) -> np.ndarray:
    """SAM2 AMG labels of one plane."""
    return sam2_amg(model, plane, features, params, progress, cancelled)


def check_method(model: Any, method: str) -> str:
    """The automatic method a SAM2 model runs: AMG ('auto' or 'amg'); AIS is refused naming the model."""
    if method in ("auto", "amg"):
        return "amg"
    if method == "ais":
        raise FailedPrecondition(f"model '{model.name}' ({model.model_type}) has no AIS decoder: SAM2 models "
                                 "segment automatically with method='amg'")
    raise InvalidInput(f"unknown automatic segmentation method {method!r}; use 'ais' or 'amg'")


def auto_segment_planes(model: Any, image: Any, planes: list[int], features_at: Callable[[int], Sam2Features],
                        params: Sam2AMGParams, progress: Callable[[int, int, str], None] | None = None,
                        cancelled: Callable[[], bool] | None = None) -> tuple[np.ndarray, list]:
    """SAM2's AMG on the given planes of a stored image: (len(planes), H, W) uint32 labels with ids
    unique across planes, and their per-object summaries. Stages: "embedding", "segmenting"."""
    report = progress or (lambda done, total, stage: None)

    def segment_plane(done: int, index: int) -> tuple[np.ndarray, None]:
        features = features_at(index)
        report(done + 1, len(planes), "embedding")
        plane = auto_segment_plane(model, image.plane(index), features, params, None, cancelled)
        report(done + 1, len(planes), "segmenting")
        return plane, None

    labels, objects = label_planes(planes, image.spatial_shape, segment_plane, cancelled)
    return labels, objects
