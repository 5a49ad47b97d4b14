"""PromptService: interactive decoding of points, boxes and masks."""

from __future__ import annotations

import numpy as np

from sambridge import wire
from sambridge.v1 import prompts_pb2, prompts_pb2_grpc
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.convert import (
    box_xyxy,
    embedding_request,
    mask_array,
    object_info,
    points_xy,
    window_box,
)
from sambridge_server.servicers.rpc import call_cancelled, caller_id, unary

MAX_PROMPTS = 4096


class PromptServicer(prompts_pb2_grpc.PromptServiceServicer):
    """Single-object and many-object prompt decoding."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @unary
    def Segment(self, request, context) -> prompts_pb2.SegmentResponse:
        """Decode one object; keep its logits under object_id (private to the caller) if given."""
        if len(request.points) > MAX_PROMPTS:
            raise InvalidInput(f"{len(request.points)} points is too many (limit {MAX_PROMPTS})")
        points, labels = points_xy(request.points)
        box = box_xyxy(request.box) if request.HasField("box") else None
        mask = mask_array(request.mask) if request.HasField("mask") else None
        result = self.workspace.segment(
            embedding_request(request.key), request.index, points=points, point_labels=labels, box=box,
            mask=mask, multimask=request.multimask, object_id=request.object_id or None,
            owner=caller_id(context), cancelled=call_cancelled(context),
        )
        order = np.argsort(-result.scores, kind="stable")  # the protocol promises best first
        return prompts_pb2.SegmentResponse(
            masks=[wire.to_mask(result.masks[i]) for i in order], scores=[float(result.scores[i]) for i in order],
            object_id=request.object_id, window=window_box(result.window), tile_index=result.tile_index,
        )

    @unary
    def SegmentObjects(self, request, context) -> prompts_pb2.SegmentObjectsResponse:
        """Decode many objects at once into one label image."""
        n = len(request.points) + len(request.boxes)
        if n == 0:
            raise InvalidInput("no objects given: send positive points and/or boxes")
        if n > MAX_PROMPTS or len(request.negative_points) > MAX_PROMPTS:
            raise InvalidInput(f"too many prompts (limit {MAX_PROMPTS} objects and {MAX_PROMPTS} negative points)")
        points, _ = points_xy(request.points)
        negatives, _ = points_xy(request.negative_points)
        boxes = [box_xyxy(b) for b in request.boxes] or None
        labels, objects, missed = self.workspace.segment_objects(
            embedding_request(request.key), request.index, points=points, boxes=boxes, negative_points=negatives,
            cancelled=call_cancelled(context),
        )
        return prompts_pb2.SegmentObjectsResponse(
            labels=wire.to_ndarray(labels, "yx"),
            objects=[object_info(o) for o in objects],
            objects_without_negatives=missed,
        )

    @unary
    def Undo(self, request, context) -> prompts_pb2.SegmentResponse:
        """Step one of the caller's object handles back; answer the restored mask."""
        key = embedding_request(request.key)
        state = self.workspace.undo(key, request.index, _object_id(request), caller_id(context))
        mask = state.mask(self.workspace.image_shape(key.image_id))
        response = prompts_pb2.SegmentResponse(masks=[wire.to_mask(mask)], scores=[state.score],
                                               object_id=request.object_id, tile_index=state.tile_index)
        if state.window is not None:
            response.window.CopyFrom(window_box(state.window))
        return response

    @unary
    def ResetObject(self, request, context) -> prompts_pb2.ResetObjectResponse:
        """Clear one of the caller's object handles (undoable)."""
        self.workspace.reset_object(embedding_request(request.key), request.index, _object_id(request),
                                    caller_id(context))
        return prompts_pb2.ResetObjectResponse()

    @unary
    def ReleaseObject(self, request, context) -> prompts_pb2.ReleaseObjectResponse:
        """Forget one of the caller's object handles."""
        released = self.workspace.release_object(request.object_id, caller_id(context))
        return prompts_pb2.ReleaseObjectResponse(released=released)


def _object_id(request) -> str:
    if not request.object_id:
        raise InvalidInput("object_id is required")
    return request.object_id
