"""Per-call parameters of automatic segmentation: the model's defaults plus validated overrides."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput
from .ais import AISParams, default_ais_params
from .amg import AMGParams, default_amg_params


_UNIT_INTERVAL = ("center_distance_threshold", "boundary_distance_threshold", "foreground_threshold",
                  "pred_iou_thresh", "stability_score_thresh", "box_nms_thresh")


def _check_ranges(values: dict) -> None:
    for name, value in values.items():
        if not np.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number, got {value}")
        if name in _UNIT_INTERVAL and not 0.0 <= value <= 1.0:
            raise InvalidInput(f"{name} must lie in [0, 1], got {value}")
        if value < 0:
            raise InvalidInput(f"{name} must not be negative, got {value}")


def ais_parameters(model_name: str, overrides: dict) -> AISParams:
    """The model's AIS defaults with validated per-call overrides."""
    _check_ranges(overrides)
    for name in ("foreground_smoothing", "distance_smoothing"):
        if overrides.get(name, 0) > 50:
            raise InvalidInput(f"{name} of {overrides[name]} is too large (at most 50)")
    values = {**default_ais_params(model_name).__dict__, **overrides}
    values["min_size"] = int(values["min_size"])
    return AISParams(**values)


@dataclass(frozen=True)
class AMGSettings:
    """AMG grid settings plus the filtering parameters of ``amg_segment``."""

    points_per_side: int
    points_per_batch: int
    pred_iou_thresh: float
    filter: AMGParams


def amg_parameters(model_name: str, overrides: dict) -> AMGSettings:
    """The model's AMG defaults with validated per-call overrides."""
    _check_ranges(overrides)
    overrides = dict(overrides)
    points_per_side = int(overrides.pop("points_per_side", 32))
    points_per_batch = int(overrides.pop("points_per_batch", 64))
    if not 1 <= points_per_side <= 128:
        raise InvalidInput(f"points_per_side must be in 1..128, got {points_per_side}")
    if not 1 <= points_per_batch <= 1024:
        raise InvalidInput(f"points_per_batch must be in 1..1024, got {points_per_batch}")
    base = default_amg_params(model_name)
    values = {**base.__dict__, **overrides}
    values["min_mask_region_area"] = int(values["min_mask_region_area"])
    params = AMGParams(**values)
    return AMGSettings(points_per_side, points_per_batch, params.pred_iou_thresh, params)
