"""Translation between wire messages and engine values shared by the servicers: keys, prompts,
object summaries, method and mode names, parameter sets."""

from __future__ import annotations

import numpy as np

from sambridge import wire
from sambridge.v1 import automatic_pb2, common_pb2, training_pb2, volume_pb2
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.requests import EmbeddingRequest

JOB_STATES = {name: getattr(training_pb2, name) for name in ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")}
"""Engine job states (training and batch jobs) to the wire's JobState values."""

MIN_TILE = 16
MAX_TILE = 1 << 16


def embedding_request(key: common_pb2.EmbeddingKey) -> EmbeddingRequest:
    """The engine's embedding request for a wire key (tiling validated)."""
    if not key.image_id:
        raise InvalidInput("image_id is required")
    tile_shape = tuple(key.tiling.tile_shape) if key.HasField("tiling") and key.tiling.tile_shape else None
    halo = tuple(key.tiling.halo) if tile_shape and key.tiling.halo else None
    if tile_shape is not None and len(tile_shape) != 2:
        raise InvalidInput(f"tile_shape must have 2 values (y, x), got {list(tile_shape)}")
    if halo is not None and len(halo) != 2:
        raise InvalidInput(f"halo must have 2 values (y, x), got {list(halo)}")
    # Tiny tiles would turn one image into millions of encoder passes.
    if tile_shape is not None and not all(MIN_TILE <= t <= MAX_TILE for t in tile_shape):
        raise InvalidInput(f"tile_shape values must lie in {MIN_TILE}..{MAX_TILE} pixels, got {list(tile_shape)}")
    if halo is not None and not all(0 <= h <= MAX_TILE for h in halo):
        raise InvalidInput(f"halo values must lie in 0..{MAX_TILE} pixels, got {list(halo)}")
    return EmbeddingRequest(
        image_id=key.image_id, model=key.model or None, tile_shape=tile_shape,
        halo=halo if tile_shape else None, precision=key.precision or None,
        whole_image=tile_shape is None and key.HasField("tiling") and key.tiling.whole_image,
    )


def points_xy(points) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(N, 2) float (x, y) coordinates and (N,) int labels, or (None, None)."""
    if not points:
        return None, None
    coords = np.array([[p.x, p.y] for p in points], dtype=np.float64)
    labels = np.array([p.label for p in points], dtype=np.int64)
    if not np.isfinite(coords).all():
        raise InvalidInput("point coordinates must be finite numbers")
    if not np.isin(labels, (0, 1)).all():
        raise InvalidInput(f"point labels must be 0 (negative) or 1 (positive), got {sorted(set(labels.tolist()))}")
    return coords, labels


def box_xyxy(box: common_pb2.Box) -> np.ndarray:
    """A box as a float (4,) array (x0, y0, x1, y1), validated."""
    values = np.array([box.x0, box.y0, box.x1, box.y1], dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInput("box coordinates must be finite numbers")
    if values[2] <= values[0] or values[3] <= values[1]:
        raise InvalidInput(f"box (x0, y0, x1, y1) = {values.tolist()} is empty: need x1 > x0 and y1 > y0")
    return values


def mask_array(mask: common_pb2.Mask) -> np.ndarray:
    """A wire mask as a 2D bool array."""
    return wire.from_mask(mask)


MODE_NAMES = {
    volume_pb2.PROJECTION_UNSPECIFIED: "single_point",
    volume_pb2.SINGLE_POINT: "single_point",
    volume_pb2.POINTS: "points",
    volume_pb2.BOX: "box",
    volume_pb2.MASK: "mask",
    volume_pb2.POINTS_AND_MASK: "points_and_mask",
}


METHOD_NAMES = {automatic_pb2.AUTO_METHOD_UNSPECIFIED: "auto", automatic_pb2.AIS: "ais", automatic_pb2.AMG: "amg"}


def method_name(method: int) -> str:
    """Engine name of a wire AutoMethod."""
    if method not in METHOD_NAMES:
        raise InvalidInput(f"unknown automatic segmentation method {method}; use AIS or AMG")
    return METHOD_NAMES[method]


def set_params(message) -> dict[str, float]:
    """The explicitly set fields of an AISParams/AMGParams message as a dict."""
    return {field.name: value for field, value in message.ListFields()}


def object_info(obj) -> common_pb2.ObjectInfo:
    """Wire form of an engine ObjectSummary (label, score, bbox (x0, y0, x1, y1), area, index)."""
    x0, y0, x1, y1 = obj.bbox
    return common_pb2.ObjectInfo(
        label=int(obj.label), score=float(obj.score), area=int(obj.area), index=int(obj.index),
        bbox=common_pb2.Box(x0=x0, y0=y0, x1=x1, y1=y1),
    )


def window_box(window) -> common_pb2.Box:
    """Wire box (x0, y0, x1, y1) of an engine (y0, x0, y1, x1) window."""
    y0, x0, y1, x1 = window
    return common_pb2.Box(x0=x0, y0=y0, x1=x1, y1=y1)
