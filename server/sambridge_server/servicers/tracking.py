"""TrackingService: link label series (AUTO) or follow one object (INTERACTIVE) through (t, y, x)."""

from __future__ import annotations

import numpy as np

from sambridge import wire
from sambridge.v1 import tracking_pb2, tracking_pb2_grpc
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.tracking import (
    Division,
    FollowOptions,
    LinkOptions,
    ObjectAnnotation,
    TrackingCosts,
    TrackingOutcome,
)
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.convert import (
    MODE_NAMES,
    box_xyxy,
    embedding_request,
    mask_array,
    method_name,
    points_xy,
    set_params,
)
from sambridge_server.servicers.rpc import CallControl, stream

# wire TrackingCosts field -> engine TrackingCosts field
COST_NAMES = {
    "edge_distance_weight": "distance_weight",
    "edge_iou_weight": "iou_weight",
    "appear_cost": "appear_cost",
    "split_cost": "split_cost",
    "disappear_cost": "disappear_cost",
    "edge_constant": "edge_constant",
    "selection_reward": "selection_reward",
}


class TrackingServicer(tracking_pb2_grpc.TrackingServiceServicer):
    """Tracking in time series with progress; cancelling the call stops the engine."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def Track(self, request, context):
        """Stream progress, then the tracked labels and the CTC track table."""

        def work(control: CallControl) -> TrackingOutcome:
            report = lambda done, total, stage="segmenting": control.progress(done, total, stage)  # noqa: E731
            if request.method in (tracking_pb2.TRACK_METHOD_UNSPECIFIED, tracking_pb2.AUTO):
                return self.workspace.tracking.link(
                    embedding_request(request.key), link_options(request.costs), request.labels_image_id,
                    method_name(request.segmentation_method), ais_params=set_params(request.ais),
                    amg_params=set_params(request.amg), progress=report, cancelled=control.cancelled,
                )
            if request.method == tracking_pb2.INTERACTIVE:
                if not request.HasField("start"):
                    raise InvalidInput("INTERACTIVE tracking needs start: the object as a mask, points or a box "
                                       "on one frame")
                divisions = [Division(d.t, (annotation(d.daughter_a, d.t), annotation(d.daughter_b, d.t)))
                             for d in request.divisions]
                return self.workspace.tracking.follow(
                    embedding_request(request.key), annotation(request.start), divisions, follow_options(request),
                    progress=report, cancelled=control.cancelled,
                )
            raise InvalidInput(f"unknown tracking method {request.method}; use AUTO or INTERACTIVE")

        return stream(context, work, lambda p: tracking_pb2.TrackEvent(progress=p), track_event)


def track_event(outcome: TrackingOutcome) -> tracking_pb2.TrackEvent:
    """The final event of a Track call."""
    tracks = [
        tracking_pb2.Track(id=int(i), begin=int(b), end=int(e), parent=int(p)) for i, b, e, p in outcome.tracks.tolist()
    ]
    return tracking_pb2.TrackEvent(result=tracking_pb2.TrackResult(
        labels=wire.to_ndarray(outcome.labels.astype(np.uint32, copy=False), "tyx"), tracks=tracks,
        optimal=outcome.optimal, solver_status=outcome.status, n_divisions=outcome.n_divisions,
        stop_reasons=outcome.stop_reasons,
    ))


def link_options(message) -> LinkOptions:
    """Engine link options of the wire TrackingCosts; unset fields keep the engine's defaults."""
    values = {field.name: float(value) for field, value in message.ListFields()}
    costs = TrackingCosts(**{engine: values[name] for name, engine in COST_NAMES.items() if name in values})
    defaults = LinkOptions()
    return LinkOptions(costs, values.get("max_distance", defaults.max_distance),
                       values.get("time_limit_s", defaults.time_limit_s))


def follow_options(request) -> FollowOptions:
    """Engine options of an INTERACTIVE Track request; unset fields keep the engine's defaults."""
    if request.projection not in MODE_NAMES:
        raise InvalidInput(f"unknown projection mode {request.projection}")
    return FollowOptions(
        iou_threshold=request.iou_threshold if request.HasField("iou_threshold") else FollowOptions.iou_threshold,
        projection=MODE_NAMES[request.projection],
        box_extension=request.box_extension if request.HasField("box_extension") else FollowOptions.box_extension,
        motion_smoothing=(request.motion_smoothing if request.HasField("motion_smoothing")
                          else FollowOptions.motion_smoothing),
        backward=request.backward,
        method=request.follow_method,
    )


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
