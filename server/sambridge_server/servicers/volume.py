"""VolumeService: propagation through z (one or many objects) and automatic 3D segmentation."""

from __future__ import annotations

from sambridge import wire
from sambridge.v1 import volume_pb2, volume_pb2_grpc
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.volume import MergeOptions, PropagationOptions, SliceAnnotation, VolumeLabels
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.convert import (
    MODE_NAMES,
    box_xyxy,
    embedding_request,
    mask_array,
    method_name,
    object_info,
    points_xy,
    set_params,
)
from sambridge_server.servicers.rpc import stream




def propagation_options(message: volume_pb2.PropagationOptions) -> PropagationOptions:
    """Engine options of wire PropagationOptions (unset fields take the engine defaults)."""
    projection = message.projection or message.mode  # ``mode``: the deprecated name of the field
    if projection not in MODE_NAMES:
        raise InvalidInput(f"unknown projection mode {projection}; use SINGLE_POINT, POINTS, BOX, MASK or "
                           "POINTS_AND_MASK")
    defaults = PropagationOptions()
    return PropagationOptions(
        projection=MODE_NAMES[projection],
        iou_threshold=message.iou_threshold if message.HasField("iou_threshold") else defaults.iou_threshold,
        box_extension=message.box_extension if message.HasField("box_extension") else defaults.box_extension,
        stop_slices=frozenset(int(z) for z in message.stop_slices),
        all_planes=message.all_planes,
        method=message.method,
    )


def merge_options(request: volume_pb2.AutoSegment3DRequest) -> MergeOptions:
    """Engine merge options of an AutoSegment3D request (unset fields take the defaults)."""
    defaults = MergeOptions()
    return MergeOptions(
        min_overlap=request.min_overlap if request.HasField("min_overlap") else defaults.min_overlap,
        gap_closing=request.gap_closing if request.HasField("gap_closing") else defaults.gap_closing,
        min_z_extent=request.min_z_extent if request.HasField("min_z_extent") else defaults.min_z_extent,
    )


def slice_annotation(message: volume_pb2.SliceAnnotation) -> SliceAnnotation:
    """Engine annotation of a wire one (a mask, or points and/or a box)."""
    points, labels = points_xy(message.points) if message.points else (None, None)
    return SliceAnnotation(
        z=int(message.z),
        mask=mask_array(message.mask) if message.HasField("mask") else None,
        points=points, point_labels=labels,
        box=box_xyxy(message.box) if message.HasField("box") else None,
    )


def volume_event(outcome: VolumeLabels) -> volume_pb2.VolumeEvent:
    """The final event of a volume call."""
    return volume_pb2.VolumeEvent(result=volume_pb2.VolumeResult(
        labels=wire.to_ndarray(outcome.labels, "zyx"), z_begin=outcome.z_begin, z_end=outcome.z_end,
        objects=[object_info(o) for o in outcome.objects],
    ))


def progress_event(progress) -> volume_pb2.VolumeEvent:
    """A progress event of a volume call."""
    return volume_pb2.VolumeEvent(progress=progress)


class VolumeServicer(volume_pb2_grpc.VolumeServiceServicer):
    """Streams progress, then one uint32 (z, y, x) label volume."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def Propagate(self, request, context):
        """One object from its annotated slices."""

        def work(control):
            return self.workspace.volume.propagate(
                embedding_request(request.key), [slice_annotation(a) for a in request.annotations],
                propagation_options(request.options),
                progress=lambda done, total: control.progress(done, total, "propagating"),
                cancelled=control.cancelled,
            )

        return stream(context, work, progress_event, volume_event)

    def PropagateObjects(self, request, context):
        """Every object of a 2D label image on slice z, decoded in batches per slice."""

        def work(control):
            if not request.HasField("labels"):
                raise InvalidInput("labels (a uint32 'yx' label image of slice z) are required")
            key = embedding_request(request.key)
            height, width = self.workspace.image_shape(key.image_id)
            labels, axes = wire.from_ndarray(request.labels, max_bytes=4 * height * width * 2)
            if axes != "yx":
                raise InvalidInput(f"labels must be a 2D integer 'yx' image, got axes {axes!r}")
            return self.workspace.volume.propagate_labels(
                key, int(request.z), labels, propagation_options(request.options),
                progress=lambda done, total: control.progress(done, total, "propagating"),
                cancelled=control.cancelled,
            )

        return stream(context, work, progress_event, volume_event)

    def AutoSegment3D(self, request, context):
        """Per-slice automatic segmentation (AIS/AMG) merged across slices into 3D objects."""

        def work(control):
            return self.workspace.volume.auto_segment_3d(
                embedding_request(request.key), method_name(request.method), merge_options(request),
                all_planes=request.all_planes, ais_params=set_params(request.ais), amg_params=set_params(request.amg),
                progress=lambda done, total, stage="segmenting": control.progress(done, total, stage),
                cancelled=control.cancelled,
            )

        return stream(context, work, progress_event, volume_event)
