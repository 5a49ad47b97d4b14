"""Tracking calls on stored images: link a label series (segmenting every frame first when none is
given) or follow one annotated object with SAM; both return a ``TrackingOutcome``.

Images, embeddings and automatic segmentation come from the caller (the Workspace) as functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..callbacks import CancelledFn, StageProgressFn
from ..errors import InvalidInput
from ..images import StoredImage
from ..model_families import MEMORY_PROPAGATION, PROMPT_PROPAGATION, family_of, require_capability
from ..models import LoadedModel
from ..sam2_models.tracking import follow_with_memory
from .costs import TrackingCosts
from .interactive import Division, FollowOptions, ObjectAnnotation, track_object
from .linking import track_labels

DEFAULT_TIME_LIMIT_S = 60.0
MAX_TIME_LIMIT_S = 3600.0  # the solver is always bounded; an hour is the most a call may ask
DEFAULT_MAX_DISTANCE = 50.0


@dataclass(frozen=True)
class LinkOptions:
    """How automatic linking runs: the objective, the candidate radius (pixels) and the solver's time limit."""

    costs: TrackingCosts = field(default_factory=TrackingCosts)
    max_distance: float = DEFAULT_MAX_DISTANCE
    time_limit_s: float = DEFAULT_TIME_LIMIT_S

    def validate(self) -> None:
        """InvalidInput for non-finite weights, a time limit outside (0, 1 h] or a negative radius."""
        for name, value in {**self.costs.__dict__, "max_distance": self.max_distance,
                            "time_limit_s": self.time_limit_s}.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInput(f"costs.{name} must be a finite number, got {value}")
        if not 0 < self.time_limit_s <= MAX_TIME_LIMIT_S:
            raise InvalidInput(f"costs.time_limit_s must be in (0, {MAX_TIME_LIMIT_S:g}] seconds, "
                               f"got {self.time_limit_s:g}")
        if self.max_distance < 0:
            raise InvalidInput(f"costs.max_distance must be >= 0 pixels, got {self.max_distance:g}")


@dataclass(frozen=True)
class TrackingOutcome:
    """What a tracking call returns, whichever method produced it.

    ``labels`` (t, y, x) uint32 painted with track ids; ``tracks`` the CTC (n, 4) table
    (id, begin, end, parent); ``optimal`` whether the solver proved optimality; ``status`` a
    one-line account; ``stop_reasons`` why each followed track ended.
    """

    labels: np.ndarray
    tracks: np.ndarray
    optimal: bool
    status: str
    stop_reasons: dict[int, str] = field(default_factory=dict)

    @property
    def n_divisions(self) -> int:
        """Mothers with at least two daughters (one child is a gap, not a division)."""
        parents = [int(p) for *_, p in self.tracks.tolist() if p]
        return sum(1 for p in set(parents) if parents.count(p) >= 2)


ImageFn = Callable[[str], StoredImage]
"""An image id -> the stored image (NotFound otherwise)."""
EmbeddingsFn = Callable[..., tuple[Any, LoadedModel, StoredImage]]
"""``(request, index, cancelled=)`` -> a frame's embeddings, model and image."""
AutoSegmentFn = Callable[..., Any]
"""``(request, method, ais_params=, amg_params=, progress=, cancelled=)`` -> a LabelResult."""
ModelFn = Callable[[str | None], LoadedModel]
"""A model name (None = the default) -> the loaded model."""


def check_series(image: StoredImage, image_id: str, what: str) -> StoredImage:
    """``image`` when it is a time series (axes starting with t), else InvalidInput."""
    if not image.axes.startswith("t"):
        raise InvalidInput(
            f"tracking needs a time series with axes 'tyx' (or 'tyxc'); {what} {image_id} has axes "
            f"{image.axes!r} and shape {tuple(image.array.shape)}"
        )
    return image


def check_label_series(labels: StoredImage, labels_id: str, image: StoredImage) -> np.ndarray:
    """The label series for ``image``: integer 'tyx' of the same (t, y, x) shape."""
    check_series(labels, labels_id, "labels image")
    if labels.axes != "tyx":
        raise InvalidInput(f"labels image {labels_id} must have axes 'tyx', got {labels.axes!r}")
    if not np.issubdtype(labels.array.dtype, np.integer):
        raise InvalidInput(f"labels image {labels_id} must hold integer labels, got {labels.array.dtype}")
    if labels.array.shape != image.array.shape[:3]:
        raise InvalidInput(
            f"labels shape {tuple(labels.array.shape)} does not match the image's (t, y, x) shape "
            f"{tuple(image.array.shape[:3])}"
        )
    return labels.array


class Tracker:
    """Automatic and interactive tracking over the workspace's stored series."""

    def __init__(self, image: ImageFn, model: ModelFn, embeddings_for: EmbeddingsFn,
                 auto_segment: AutoSegmentFn) -> None:
        self._image = image
        self._model = model
        self._embeddings_for = embeddings_for
        self._auto_segment = auto_segment

    def series(self, image_id: str, what: str = "image") -> StoredImage:
        """The stored time series ``image_id``; InvalidInput when missing or not a series."""
        if not image_id:
            raise InvalidInput(f"the {what} id is required")
        return check_series(self._image(image_id), image_id, what)

    def link(self, request, options: LinkOptions, labels_id: str = "", method: str = "auto",
             ais_params: dict | None = None, amg_params: dict | None = None,
             progress: StageProgressFn | None = None, cancelled: CancelledFn | None = None) -> TrackingOutcome:
        """Link the uploaded label series ``labels_id``, or segment every frame (``method``) and link that."""
        options.validate()
        report = progress or (lambda done, total, stage: None)
        image = self.series(request.image_id)
        scores = None
        if labels_id:
            labels = check_label_series(self._image(labels_id), labels_id, image)
        else:
            segmented = self._auto_segment(request, method, ais_params=ais_params, amg_params=amg_params,
                                           progress=report, cancelled=cancelled)
            labels = segmented.labels
            scores = {(int(o.index), int(o.label)): float(o.score) for o in segmented.objects}
        result = track_labels(
            labels, options.costs, max_distance=options.max_distance, time_limit_s=options.time_limit_s,
            scores=scores, progress=lambda done, total: report(done, total, "linking"),
            cancelled=cancelled, image=image.array,  # division evidence: mothers brighten
            fill_gaps=not labels_id,  # a cell our own segmentation missed is drawn in; a user's labels stay theirs
        )
        return TrackingOutcome(result.labels, result.tracks, result.optimal, result.status)

    def follow(self, request, start: ObjectAnnotation, divisions: Sequence[Division], options: FollowOptions,
               progress: StageProgressFn | None = None, cancelled: CancelledFn | None = None) -> TrackingOutcome:
        """Follow the annotated object (and its declared daughters) frame by frame with SAM."""
        image = self.series(request.image_id)
        report = progress or (lambda done, total, stage: None)

        def embeddings_at(t: int):
            return self._embeddings_for(request, t, cancelled=cancelled)[0]

        model = self._model(request.model)
        method = options.method or ("memory" if family_of(model) == "sam2" else "prompts")
        if method not in ("prompts", "memory"):
            raise InvalidInput(f"unknown interactive tracking method {method!r}; use 'prompts' or 'memory'")
        require_capability(model, MEMORY_PROPAGATION if method == "memory" else PROMPT_PROPAGATION)
        if method == "memory":
            labels, tracks, reasons = follow_with_memory(
                model, image.array.shape[:3], embeddings_at, start, list(divisions), options.backward,
                progress=lambda done, total: report(done, total, "tracking"), cancelled=cancelled)
            return TrackingOutcome(labels, tracks, False, "interactive (SAM2 memory)", reasons)
        result = track_object(
            model, embeddings_at, image.array.shape[:3], start, list(divisions), options,
            progress=lambda done, total: report(done, total, "tracking"), cancelled=cancelled,
        )
        reasons = {int(i): why for i, why in result.stop_reasons.items()}
        status = "interactive" + (f"; track 1 backward: {result.backward_stop}" if result.backward_stop else "")
        return TrackingOutcome(result.labels, result.tracks, False, status, reasons)
