"""TrackingService: link label series (AUTO) or follow one object (INTERACTIVE) through (t, y, x)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sambridge import wire
from sambridge.v1 import tracking_pb2, tracking_pb2_grpc
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.images import StoredImage
from sambridge_server.engine.tracking.linking import track_labels
from sambridge_server.engine.tracking.interactive import (
    Division,
    FollowOptions,
    ObjectAnnotation,
    track_object,
)
from sambridge_server.engine.tracking.solve import TrackingCosts
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.automatic import method_name, set_params
from sambridge_server.servicers.keys import box_xyxy, embedding_request, mask_array, points_xy
from sambridge_server.servicers.rpc import CallControl, stream
from sambridge_server.servicers.volume import MODE_NAMES

DEFAULT_TIME_LIMIT_S = 60.0
MAX_TIME_LIMIT_S = 3600.0  # the solver is always bounded; an hour is the most a call may ask
DEFAULT_MAX_DISTANCE = 50.0


@dataclass(frozen=True)
class Outcome:
    """What a Track call returns, whichever method produced it."""

    labels: np.ndarray
    tracks: np.ndarray
    optimal: bool
    status: str
    stop_reasons: dict[int, str] = field(default_factory=dict)


class TrackingServicer(tracking_pb2_grpc.TrackingServiceServicer):
    """Tracking in time series with progress; cancelling the call stops the engine."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def Track(self, request, context):
        """Stream progress, then the tracked labels and the CTC track table."""

        def work(control: CallControl) -> Outcome:
            if request.method in (tracking_pb2.TRACK_METHOD_UNSPECIFIED, tracking_pb2.AUTO):
                return self._link(request, control)
            if request.method == tracking_pb2.INTERACTIVE:
                return self._follow(request, control)
            raise InvalidInput(f"unknown tracking method {request.method}; use AUTO or INTERACTIVE")

        return stream(context, work, lambda p: tracking_pb2.TrackEvent(progress=p), track_event)

    # -- AUTO ------------------------------------------------------------------
    def _link(self, request, control: CallControl) -> Outcome:
        """Link an uploaded label series, or segment every frame first and link the result."""
        costs, max_distance, time_limit_s = tracking_costs(request.costs)
        image = series_image(self.workspace, request.key.image_id, "image")
        scores = None
        if request.labels_image_id:
            labels = label_series(self.workspace, request.labels_image_id, image)
        else:
            labels, scores = self._segment_frames(request, control)
        result = track_labels(
            labels, costs, max_distance=max_distance, time_limit_s=time_limit_s, scores=scores,
            progress=lambda done, total: control.progress(done, total, "linking"),
            cancelled=control.cancelled, image=image.array,  # division evidence: mothers brighten
        )
        return Outcome(result.labels, result.tracks, result.optimal, result.status)

    def _segment_frames(self, request, control: CallControl) -> tuple[np.ndarray, dict[tuple[int, int], float]]:
        """Automatic segmentation of every frame, with each object's score for the linker."""
        segmented = self.workspace.auto_segment(
            embedding_request(request.key), method_name(request.segmentation_method),
            ais_params=set_params(request.ais), amg_params=set_params(request.amg), indices=[],
            progress=lambda done, total, stage="segmenting": control.progress(done, total, stage),
            cancelled=control.cancelled,
        )
        scores = {(int(o.index), int(o.label)): float(o.score) for o in segmented.objects}
        return segmented.labels, scores

    # -- INTERACTIVE -------------------------------------------------------------
    def _follow(self, request, control: CallControl) -> Outcome:
        """Follow the annotated object (and its declared daughters) frame by frame."""
        image = series_image(self.workspace, request.key.image_id, "image")
        if not request.HasField("start"):
            raise InvalidInput("INTERACTIVE tracking needs start: the object as a mask, points or a box on one frame")
        if request.projection not in MODE_NAMES:
            raise InvalidInput(f"unknown projection mode {request.projection}")
        options = FollowOptions(
            iou_threshold=request.iou_threshold if request.HasField("iou_threshold") else FollowOptions.iou_threshold,
            projection=MODE_NAMES[request.projection],
            box_extension=request.box_extension if request.HasField("box_extension") else FollowOptions.box_extension,
            motion_smoothing=(request.motion_smoothing if request.HasField("motion_smoothing")
                              else FollowOptions.motion_smoothing),
            backward=request.backward,
        )
        key = embedding_request(request.key)
        model = self.workspace.models.get(key.model)
        start = annotation(request.start)
        divisions = [
            Division(d.t, (annotation(d.daughter_a, d.t), annotation(d.daughter_b, d.t)))
            for d in request.divisions
        ]

        def embeddings_at(t: int):
            return self.workspace.embeddings_for(key, t, cancelled=control.cancelled)[0]

        result = track_object(
            model, embeddings_at, image.array.shape[:3], start, divisions, options,
            progress=lambda done, total: control.progress(done, total, "tracking"),
            cancelled=control.cancelled,
        )
        reasons = {int(i): why for i, why in result.stop_reasons.items()}
        status = "interactive" + (f"; track 1 backward: {result.backward_stop}" if result.backward_stop else "")
        return Outcome(result.labels, result.tracks, False, status, reasons)


def track_event(outcome: Outcome) -> tracking_pb2.TrackEvent:
    """The final event of a Track call."""
    tracks = [
        tracking_pb2.Track(id=int(i), begin=int(b), end=int(e), parent=int(p)) for i, b, e, p in outcome.tracks.tolist()
    ]
    parents = [int(p) for *_, p in outcome.tracks.tolist() if p]
    n_divisions = sum(1 for p in set(parents) if parents.count(p) >= 2)  # one child: a gap, not a division
    return tracking_pb2.TrackEvent(result=tracking_pb2.TrackResult(
        labels=wire.to_ndarray(outcome.labels.astype(np.uint32, copy=False), "tyx"), tracks=tracks,
        optimal=outcome.optimal, solver_status=outcome.status, n_divisions=n_divisions,
        stop_reasons=outcome.stop_reasons,
    ))


def tracking_costs(message) -> tuple[TrackingCosts, float, float]:
    """The engine's costs, candidate radius and time limit from the wire TrackingCosts (validated).

    Unset fields keep the engine's defaults.
    """
    values = {field.name: float(value) for field, value in message.ListFields()}
    for name, value in values.items():
        if not math.isfinite(value):
            raise InvalidInput(f"costs.{name} must be a finite number, got {value}")
    time_limit_s = values.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
    if not 0 < time_limit_s <= MAX_TIME_LIMIT_S:
        raise InvalidInput(f"costs.time_limit_s must be in (0, {MAX_TIME_LIMIT_S:g}] seconds, got {time_limit_s:g}")
    max_distance = values.get("max_distance", DEFAULT_MAX_DISTANCE)
    if max_distance < 0:
        raise InvalidInput(f"costs.max_distance must be >= 0 pixels, got {max_distance:g}")
    renamed = {
        "edge_distance_weight": "distance_weight",
        "edge_iou_weight": "iou_weight",
        "appear_cost": "appear_cost",
        "split_cost": "split_cost",
        "disappear_cost": "disappear_cost",
        "edge_constant": "edge_constant",
        "selection_reward": "selection_reward",
    }
    fields = {engine: values[wire_name] for wire_name, engine in renamed.items() if wire_name in values}
    return TrackingCosts(**fields), max_distance, time_limit_s


def series_image(workspace: Workspace, image_id: str, what: str) -> StoredImage:
    """An uploaded image that is a time series (axes starting with t); NotFound / InvalidInput."""
    if not image_id:
        raise InvalidInput(f"the {what} id is required")
    image = workspace.images.get(image_id)
    if not image.axes.startswith("t"):
        raise InvalidInput(
            f"tracking needs a time series with axes 'tyx' (or 'tyxc'); {what} {image_id} has axes "
            f"{image.axes!r} and shape {tuple(image.array.shape)}"
        )
    return image


def label_series(workspace: Workspace, labels_id: str, image: StoredImage) -> np.ndarray:
    """The uploaded label series for ``image``: integer 'tyx' of the same (t, y, x) shape."""
    labels = series_image(workspace, labels_id, "labels image")
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


def annotation(message, default_t: int = 0) -> ObjectAnnotation:
    """An engine ObjectAnnotation from a wire FrameAnnotation.

    A daughter whose ``t`` is unset (0) is on its division's frame ``default_t``.
    """
    points, labels = points_xy(message.points)
    return ObjectAnnotation(
        t=message.t or default_t,
        mask=mask_array(message.mask) if message.HasField("mask") else None,
        points=points,
        point_labels=labels,
        box=box_xyxy(message.box) if message.HasField("box") else None,
    )
