"""VolumeService: propagation through z (one or many objects) and automatic 3D segmentation."""

from __future__ import annotations

import numpy as np

from sambridge import wire
from sambridge.v1 import volume_pb2, volume_pb2_grpc
from sambridge_server.engine.volume import merge3d
from sambridge_server.engine.volume import propagation as volume
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.volume.propagation import CancelledFn
from sambridge_server.engine.workspace import EmbeddingRequest, Workspace
from sambridge_server.servicers.automatic import method_name, set_params
from sambridge_server.servicers.keys import box_xyxy, embedding_request, mask_array, points_xy
from sambridge_server.servicers.prompts import object_info
from sambridge_server.servicers.rpc import stream

MODE_NAMES = {
    volume_pb2.PROJECTION_UNSPECIFIED: "single_point",
    volume_pb2.SINGLE_POINT: "single_point",
    volume_pb2.POINTS: "points",
    volume_pb2.BOX: "box",
    volume_pb2.MASK: "mask",
    volume_pb2.POINTS_AND_MASK: "points_and_mask",
}
MAX_OBJECTS = 4096


def propagation_options(message: volume_pb2.PropagationOptions) -> volume.PropagationOptions:
    """Engine options of wire PropagationOptions (unset fields take the engine defaults)."""
    if message.mode not in MODE_NAMES:
        raise InvalidInput(f"unknown projection mode {message.mode}; use SINGLE_POINT, POINTS, BOX, MASK or "
                           "POINTS_AND_MASK")
    defaults = volume.PropagationOptions()
    return volume.PropagationOptions(
        mode=MODE_NAMES[message.mode],
        iou_threshold=message.iou_threshold if message.HasField("iou_threshold") else defaults.iou_threshold,
        box_extension=message.box_extension if message.HasField("box_extension") else defaults.box_extension,
        stop_slices=frozenset(int(z) for z in message.stop_slices),
        all_planes=message.all_planes,
    )


def merge_options(request: volume_pb2.AutoSegment3DRequest) -> merge3d.MergeOptions:
    """Engine merge options of an AutoSegment3D request (unset fields take the defaults)."""
    defaults = merge3d.MergeOptions()
    return merge3d.MergeOptions(
        min_overlap=request.min_overlap if request.HasField("min_overlap") else defaults.min_overlap,
        gap_closing=request.gap_closing if request.HasField("gap_closing") else defaults.gap_closing,
        min_z_extent=request.min_z_extent if request.HasField("min_z_extent") else defaults.min_z_extent,
    )


def _check_slice(z: int, source: volume.VolumeSource, what: str) -> int:
    if not 0 <= z < source.shape[0]:
        raise InvalidInput(f"{what}: z={z} is outside the volume (0..{source.shape[0] - 1})")
    return int(z)


class VolumeServicer(volume_pb2_grpc.VolumeServiceServicer):
    """Streams progress, then one uint32 (z, y, x) label volume."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _annotation_mask(self, request: EmbeddingRequest, annotation, source: volume.VolumeSource,
                         cancelled: CancelledFn | None = None) -> np.ndarray:
        """A slice annotation as a mask: the given mask, or the prompts decoded on that slice
        (``cancelled`` is polled while that slice's embeddings are computed or waited for)."""
        z = _check_slice(annotation.z, source, "annotation")
        has_prompts = bool(annotation.points) or annotation.HasField("box")
        if annotation.HasField("mask") == has_prompts:
            raise InvalidInput(f"annotation on z={z}: give either a mask or prompts (points and/or a box)")
        if annotation.HasField("mask"):
            return mask_array(annotation.mask)  # shape and emptiness are checked by the engine
        points, labels = points_xy(annotation.points)
        box = box_xyxy(annotation.box) if annotation.HasField("box") else None
        result = self.workspace.segment(request, z, points=points, point_labels=labels, box=box,
                                        cancelled=cancelled)
        mask = result.masks[int(np.argmax(result.scores))]
        if not mask.any():
            raise InvalidInput(f"the prompts on z={z} decode to an empty mask; nothing to propagate")
        return mask

    def Propagate(self, request, context):
        """One object from its annotated slices."""

        def work(control):
            key = embedding_request(request.key)
            source = volume.workspace_source(self.workspace, key, control.cancelled)
            if not request.annotations:
                raise InvalidInput("no annotations: send at least one annotated slice (mask or prompts)")
            zs = [a.z for a in request.annotations]
            if len(set(zs)) != len(zs):
                raise InvalidInput(f"slices annotated more than once: {sorted({z for z in zs if zs.count(z) > 1})}")
            annotations = {a.z: self._annotation_mask(key, a, source, control.cancelled)
                           for a in request.annotations}
            return volume.propagate_object(
                source, annotations, propagation_options(request.options),
                progress=lambda done, total: control.progress(done, total, "propagating"),
                cancelled=control.cancelled,
            )

        def result(r: volume.PropagationResult) -> volume_pb2.VolumeEvent:
            z_begin, z_end = r.z_ranges[1]
            return volume_pb2.VolumeEvent(result=volume_pb2.VolumeResult(
                labels=wire.to_ndarray(r.labels, "zyx"), z_begin=z_begin, z_end=z_end,
                objects=[object_info(o) for o in volume.summarize_volume(r.labels, r.scores, {1: min(zs_of(request))})],
            ))

        return stream(context, work, lambda p: volume_pb2.VolumeEvent(progress=p), result)

    def PropagateObjects(self, request, context):
        """Every object of a 2D label image on slice z, decoded in batches per slice."""

        def work(control):
            key = embedding_request(request.key)
            source = volume.workspace_source(self.workspace, key, control.cancelled)
            z = _check_slice(request.z, source, "labels")
            if not request.HasField("labels"):
                raise InvalidInput("labels (a uint32 'yx' label image of slice z) are required")
            labels, axes = wire.from_ndarray(request.labels, max_bytes=4 * source.shape[1] * source.shape[2] * 2)
            if axes != "yx" or labels.dtype.kind not in "ui":
                raise InvalidInput(f"labels must be a 2D integer 'yx' image, got {labels.dtype} with axes {axes!r}")
            if labels.shape != source.shape[1:]:
                raise InvalidInput(f"labels have shape {labels.shape} but slices are {source.shape[1:]}")
            objects = volume.objects_from_labels(labels, z)
            if not objects:
                raise InvalidInput(f"the label image of z={z} holds no objects (all zero)")
            if len(objects) > MAX_OBJECTS:
                raise InvalidInput(f"{len(objects)} objects is too many (limit {MAX_OBJECTS})")
            result = volume.propagate_objects(
                source, objects, propagation_options(request.options),
                progress=lambda done, total: control.progress(done, total, "propagating"),
                cancelled=control.cancelled,
            )
            return result, {label: z for label in objects}

        def result(outcome) -> volume_pb2.VolumeEvent:
            r, seeds = outcome
            return volume_pb2.VolumeEvent(result=volume_pb2.VolumeResult(
                labels=wire.to_ndarray(r.labels, "zyx"),
                objects=[object_info(o) for o in volume.summarize_volume(r.labels, r.scores, seeds)],
                z_begin=min((b for b, _ in r.z_ranges.values()), default=0),
                z_end=max((e for _, e in r.z_ranges.values()), default=0),
            ))

        return stream(context, work, lambda p: volume_pb2.VolumeEvent(progress=p), result)

    def AutoSegment3D(self, request, context):
        """Per-slice automatic segmentation (AIS/AMG) merged across slices into 3D objects."""

        def work(control):
            key = embedding_request(request.key)
            source = volume.workspace_source(self.workspace, key, control.cancelled)  # rejects 2D images
            options = merge_options(request)
            options.validate()
            slices = self.workspace.auto_segment(
                key, method_name(request.method), ais_params=set_params(request.ais),
                amg_params=set_params(request.amg),
                progress=lambda done, total, stage="segmenting": control.progress(done, total, stage),
                cancelled=control.cancelled,
            )
            control.progress(0, 1, "merging")
            labels = merge3d.merge_slices(slices.labels, options)
            if request.all_planes:
                labels = volume.refine_all_planes(source, labels, volume.PropagationOptions(), control.cancelled)
            return labels

        return stream(
            context, work, lambda p: volume_pb2.VolumeEvent(progress=p),
            lambda labels: volume_pb2.VolumeEvent(result=volume_pb2.VolumeResult(
                labels=wire.to_ndarray(labels, "zyx"),
                objects=[object_info(o) for o in volume.summarize_volume(labels)],
                z_begin=0, z_end=int(labels.shape[0]),
            )),
        )


def zs_of(request) -> list[int]:
    """Annotated slices of a Propagate request."""
    return [int(a.z) for a in request.annotations]
