"""The Python client: numpy arrays in, numpy arrays out, over the v1 protocol."""

from __future__ import annotations

import os
import uuid
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import grpc
import numpy as np

from sambridge import ctc, wire
from sambridge.v1 import (
    automatic_pb2,
    automatic_pb2_grpc,
    batch_pb2,
    batch_pb2_grpc,
    common_pb2,
    embeddings_pb2,
    embeddings_pb2_grpc,
    images_pb2,
    images_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    prompts_pb2,
    prompts_pb2_grpc,
    tracking_pb2,
    tracking_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
    volume_pb2,
    volume_pb2_grpc,
)

ProgressCallback = Callable[[str, int, int], None]

_MODES = {
    "single_point": volume_pb2.SINGLE_POINT,
    "points": volume_pb2.POINTS,
    "box": volume_pb2.BOX,
    "mask": volume_pb2.MASK,
    "points_and_mask": volume_pb2.POINTS_AND_MASK,
}
_METHODS = {"auto": automatic_pb2.AUTO_METHOD_UNSPECIFIED, "ais": automatic_pb2.AIS, "amg": automatic_pb2.AMG}


class SamBridgeError(RuntimeError):
    """A call failed; ``code`` is the gRPC status code, the message says why."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.details = message


class _TokenAuth(grpc.AuthMetadataPlugin):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, context, callback) -> None:
        callback((("authorization", f"Bearer {self._token}"),), None)


def _box(box: Sequence[float]) -> common_pb2.Box:
    x0, y0, x1, y1 = (float(v) for v in box)
    return common_pb2.Box(x0=x0, y0=y0, x1=x1, y1=y1)


def _points(points, labels=None, default_label: int = 1) -> list[common_pb2.Point]:
    if points is None:
        return []
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    if labels is None:
        labels = np.full(len(points), default_label, dtype=int)
    labels = np.asarray(labels, dtype=int).reshape(-1)
    if len(labels) != len(points):
        raise ValueError(f"{len(points)} points but {len(labels)} point labels")
    return [common_pb2.Point(x=x, y=y, label=int(lab)) for (x, y), lab in zip(points, labels)]


def _tiling(tile_shape, halo) -> common_pb2.Tiling | None:
    """None: the model's native tiling; "whole": one SAM input; (ty, tx): these tiles."""
    if tile_shape is None:
        return None
    if isinstance(tile_shape, str):
        if tile_shape != "whole":
            raise ValueError(f"tile_shape must be None, 'whole' or (y, x), got {tile_shape!r}")
        return common_pb2.Tiling(whole_image=True)
    halo = (0, 0) if halo is None else halo
    return common_pb2.Tiling(tile_shape=[int(v) for v in tile_shape], halo=[int(v) for v in halo])


class Client:
    """A connection to a SAMBridge server.

    Images can be given as numpy arrays (uploaded once, addressed by content id
    afterwards) or as image ids returned by :meth:`upload`. Points are (x, y),
    boxes (x0, y0, x1, y1), in pixels; stacks are (z, y, x) or (t, y, x).
    ``tile_shape`` (y, x) with ``halo`` tiles large images; left at None the server uses the
    model's native tiling (``models()``; none for SAM checkpoints), and ``tile_shape="whole"``
    forces the whole image into one SAM input.
    """

    def __init__(
        self,
        address: str = "127.0.0.1:50051",
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
        timeout: float | None = None,
        max_message_mb: int = 256,
        session: str | None = None,
    ) -> None:
        options = [
            ("grpc.max_send_message_length", max_message_mb * 1024 * 1024),
            ("grpc.max_receive_message_length", max_message_mb * 1024 * 1024),
        ]
        if tls:
            credentials = grpc.ssl_channel_credentials(root_certificates)
            if token:
                credentials = grpc.composite_channel_credentials(
                    credentials, grpc.metadata_call_credentials(_TokenAuth(token))
                )
            self._channel = grpc.secure_channel(address, credentials, options=options)
            self._metadata: tuple = ()
        else:
            self._channel = grpc.insecure_channel(address, options=options)
            self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        # Object handles live in this session only: another Client's "cell-1" is another object.
        # A named session (the CLI's) lets separate processes continue the same objects.
        self.session = session or uuid.uuid4().hex
        self._metadata += (("sambridge-session", self.session),)
        self.timeout = timeout
        self._images = images_pb2_grpc.ImageServiceStub(self._channel)
        self._models = models_pb2_grpc.ModelServiceStub(self._channel)
        self._embeddings = embeddings_pb2_grpc.EmbeddingServiceStub(self._channel)
        self._prompts = prompts_pb2_grpc.PromptServiceStub(self._channel)
        self._automatic = automatic_pb2_grpc.AutomaticServiceStub(self._channel)
        self._volume = volume_pb2_grpc.VolumeServiceStub(self._channel)
        self._tracking = tracking_pb2_grpc.TrackingServiceStub(self._channel)
        self._training = training_pb2_grpc.TrainingServiceStub(self._channel)
        self._batch = batch_pb2_grpc.BatchServiceStub(self._channel)
        self._known_ids: set[str] = set()

    # -- plumbing ---------------------------------------------------------
    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _error(self, err: grpc.RpcError) -> SamBridgeError:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            # The server may have dropped an image (memory budget, restart without cache):
            # forget what we think it has, so that passing the array again re-uploads it.
            self._known_ids.clear()
        return SamBridgeError(err.code(), err.details())

    def _call(self, method, request, timeout: float | None = None):
        try:
            return method(request, metadata=self._metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as err:
            raise self._error(err) from None

    def _stream(self, method, request, progress: ProgressCallback | None, timeout: float | None = None):
        """Consume a progress stream; return the result field of the last event."""
        result = None
        try:
            for event in method(request, metadata=self._metadata, timeout=timeout or self.timeout):
                kind = event.WhichOneof("event")
                if kind == "progress":
                    if progress is not None:
                        progress(event.progress.stage, event.progress.done, event.progress.total)
                else:
                    result = getattr(event, kind)  # the last event: read on to the stream's end (status OK)
        except grpc.RpcError as err:
            raise self._error(err) from None
        if result is None:
            raise SamBridgeError(grpc.StatusCode.UNKNOWN, "the server closed the stream without a result")
        return result

    # -- images and models -------------------------------------------------
    def upload(self, array: np.ndarray, axes: str | None = None, channels: Sequence[int] | None = None,
               timepoint: int | None = None) -> str:
        """Upload an array (skipped if the server already has it); return its id.

        ``axes``: yx, yxc, zyx, zyxc, tyx, tyxc, czyx, zcyx, tzyx or tczyx (default by rank; a 4D
        array other than (z, y, x, c) must say). ``channels`` keeps these channels (one: grayscale),
        ``timepoint`` one time point (required for tzyx/tczyx). The selection is made here, so only
        the selected pixels travel; the id is that of the selected, channels-last array.
        """
        try:
            array = np.asarray(array)
            axes = axes or wire.guess_axes(array.shape)
            array, axes = wire.normalize(array, axes, channels, timepoint)
        except wire.WireError as err:
            raise SamBridgeError(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from None
        image_id = wire.image_id(array, axes)
        if image_id in self._known_ids:
            return image_id
        try:
            self._images.GetImage(images_pb2.ImageRef(image_id=image_id), metadata=self._metadata, timeout=self.timeout)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise SamBridgeError(err.code(), err.details()) from None
            try:
                info = self._images.Upload(wire.upload_chunks(array, axes), metadata=self._metadata, timeout=self.timeout)
            except grpc.RpcError as err2:
                raise SamBridgeError(err2.code(), err2.details()) from None
            image_id = info.image_id
        self._known_ids.add(image_id)
        return image_id

    def _image_id(self, image, axes: str | None = None) -> str:
        return image if isinstance(image, str) else self.upload(image, axes)

    def _key(self, image, model, tile_shape=None, halo=None, precision=None, axes=None) -> common_pb2.EmbeddingKey:
        key = common_pb2.EmbeddingKey(image_id=self._image_id(image, axes), model=model or "", precision=precision or "")
        tiling = _tiling(tile_shape, halo)
        if tiling is not None:
            key.tiling.CopyFrom(tiling)
        return key

    def models(self) -> list[dict]:
        """The models the server serves, as dicts (name, model_type, has_decoder, family ("sam" or "sam2"),
        capabilities (what each model supports: "prompts", "amg", "ais", "prompt_propagation",
        "memory_propagation"), ...)."""
        response = self._call(self._models.ListModels, models_pb2.ListModelsRequest())
        return [
            {
                "name": m.name, "model_type": m.model_type, "model_hash": m.model_hash,
                "has_decoder": m.has_decoder, "device": m.device, "precision": m.precision,
                "is_default": m.is_default,
                "native_tiling": ({"tile_shape": tuple(m.native_tiling.tile_shape), "halo": tuple(m.native_tiling.halo)}
                                  if m.HasField("native_tiling") else None),
                "family": m.family or "sam", "capabilities": list(m.capabilities),
            }
            for m in response.models
        ]

    def server_info(self) -> models_pb2.ServerInfo:
        """Version, device, limits and capabilities of the server."""
        return self._call(self._models.GetServerInfo, models_pb2.ServerInfoRequest())

    def unload_model(self, name: str) -> None:
        """Have the server stop serving a model (not its default one)."""
        self._call(self._models.UnloadModel, models_pb2.ModelRef(name=name))

    def load_model(self, name: str, checkpoint_path: str = "", model_type: str = "",
                   progress: ProgressCallback | None = None, timeout: float | None = None) -> dict:
        """Ask the server to serve a model: a checkpoint from one of its model roots, or without
        ``checkpoint_path`` the registry model ``name`` (``available_models()``), which the server
        downloads first if needed; ``progress(stage, done, total)`` follows the download (bytes).
        """
        if checkpoint_path:
            request = models_pb2.LoadModelRequest(name=name, checkpoint_path=checkpoint_path, model_type=model_type)
            info = self._call(self._models.LoadModel, request)
        else:
            info = self._stream(self._models.PullModel, models_pb2.LoadModelRequest(name=name), progress, timeout)
        return {"name": info.name, "model_type": info.model_type, "has_decoder": info.has_decoder}

    def available_models(self) -> list[dict]:
        """The server's registry models (servable by name), as dicts: name, model_type,
        has_decoder, downloaded (files present on the server), loaded, description, url."""
        response = self._call(self._models.ListAvailableModels, models_pb2.ListAvailableModelsRequest())
        return [
            {"name": m.name, "model_type": m.model_type, "has_decoder": m.has_decoder, "downloaded": m.downloaded,
             "loaded": m.loaded, "description": m.description, "url": m.url}
            for m in response.models
        ]

    # -- embeddings and prompts ---------------------------------------------
    def embed(self, image, model=None, tile_shape=None, halo=None, progress: ProgressCallback | None = None,
              precision=None, axes=None, indices: Iterable[int] = ()) -> embeddings_pb2.EmbedResult:
        """Compute (or fetch from the cache) the embeddings of an image or stack."""
        request = embeddings_pb2.EmbedRequest(
            key=self._key(image, model, tile_shape, halo, precision, axes), indices=list(indices)
        )
        return self._stream(self._embeddings.Embed, request, progress)

    def segment(self, image, points=None, point_labels=None, box=None, mask=None, multimask: bool = False,
                model=None, tile_shape=None, halo=None, index: int = 0, object_id: str = "",
                return_scores: bool = False, axes=None):
        """Segment one object; return a bool mask (or (masks, scores) with return_scores/multimask).

        With ``object_id`` the server keeps the object's prompts: each call adds its points (a box
        replaces the box) and decodes with all of them plus the previous logits; ``undo`` steps back.
        """
        result = self.segment_result(image, points, point_labels, box, mask, multimask, model, tile_shape, halo,
                                     index, object_id, axes)
        if multimask or return_scores:
            return result.masks, result.scores
        return result.masks[0]

    def segment_result(self, image, points=None, point_labels=None, box=None, mask=None, multimask: bool = False,
                       model=None, tile_shape=None, halo=None, index: int = 0, object_id: str = "",
                       axes=None) -> "SegmentResult":
        """``segment`` with everything the server answered: masks, scores and the decoding window."""
        request = prompts_pb2.SegmentRequest(
            key=self._key(image, model, tile_shape, halo, axes=axes), index=index,
            points=_points(points, point_labels), multimask=multimask, object_id=object_id,
        )
        if box is not None:
            request.box.CopyFrom(_box(box))
        if mask is not None:
            request.mask.CopyFrom(wire.to_mask(mask))
        return SegmentResult.from_message(self._call(self._prompts.Segment, request))

    def undo(self, image, object_id: str, model=None, tile_shape=None, halo=None, index: int = 0,
             axes=None) -> np.ndarray:
        """Return the object to its state before its last call and return that mask (empty before the first)."""
        request = prompts_pb2.ObjectRequest(key=self._key(image, model, tile_shape, halo, axes=axes), index=index,
                                            object_id=object_id)
        return SegmentResult.from_message(self._call(self._prompts.Undo, request)).masks[0]

    def reset_object(self, image, object_id: str, model=None, tile_shape=None, halo=None, index: int = 0,
                     axes=None) -> None:
        """Clear the object's prompts and logits on the server (``undo`` brings them back)."""
        request = prompts_pb2.ObjectRequest(key=self._key(image, model, tile_shape, halo, axes=axes), index=index,
                                            object_id=object_id)
        self._call(self._prompts.ResetObject, request)

    def segment_objects(self, image, points=None, boxes=None, negative_points=None, model=None,
                        tile_shape=None, halo=None, index: int = 0, return_objects: bool = False, axes=None):
        """Segment many objects in one call; return a uint32 label image."""
        request = prompts_pb2.SegmentObjectsRequest(
            key=self._key(image, model, tile_shape, halo, axes=axes), index=index,
            points=_points(points), negative_points=_points(negative_points, default_label=0),
            boxes=[_box(b) for b in (boxes if boxes is not None else [])],
        )
        response = self._call(self._prompts.SegmentObjects, request)
        labels, _ = wire.from_ndarray(response.labels)
        return (labels, list(response.objects)) if return_objects else labels

    def release_object(self, object_id: str) -> bool:
        """Forget the server-side state of an object handle."""
        return self._call(self._prompts.ReleaseObject, prompts_pb2.ObjectRef(object_id=object_id)).released

    # -- automatic segmentation ----------------------------------------------
    def auto_segment(self, image, method: str = "auto", model=None, tile_shape=None, halo=None,
                     progress: ProgressCallback | None = None, axes=None, **params) -> np.ndarray:
        """Automatic instance segmentation (AIS or AMG); uint32 labels like the image's spatial axes."""
        if method not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
        request = automatic_pb2.AutoSegmentRequest(key=self._key(image, model, tile_shape, halo, axes=axes),
                                                   method=_METHODS[method])
        _set_params(request, params)
        result = self._stream(self._automatic.AutoSegment, request, progress)
        return wire.from_ndarray(result.labels)[0]

    # -- volumes ---------------------------------------------------------------
    def propagate(self, image, masks: dict | None = None, prompts: dict | None = None,
                  projection: str = "single_point", iou_threshold: float | None = None,
                  box_extension: float | None = None, stop_slices: Iterable[int] = (), all_planes: bool = False,
                  model=None, progress: ProgressCallback | None = None, mode: str | None = None,
                  method: str | None = None) -> np.ndarray:
        """Propagate one object through z from annotated slices; uint32 (z, y, x) with the object = 1.

        ``masks`` maps z -> 2D mask; ``prompts`` maps z -> dict(points=, point_labels=, box=).
        ``projection`` says how each next slice is prompted from the previous mask (``single_point``,
        ``points``, ``box``, ``mask``, ``points_and_mask``); ``mode`` is its deprecated old name.
        ``method``: ``"prompts"`` (SAM1-family models) or ``"memory"`` (SAM2's memory propagation,
        SAM2 models); None: the model's own (see ``models()``'s capabilities).
        """
        request = volume_pb2.PropagateRequest(key=self._key(image, model, axes="zyx"))
        for z, mask in (masks or {}).items():
            request.annotations.add(z=int(z), mask=wire.to_mask(mask))
        for z, prompt in (prompts or {}).items():
            ann = request.annotations.add(z=int(z), points=_points(prompt.get("points"), prompt.get("point_labels")))
            if prompt.get("box") is not None:
                ann.box.CopyFrom(_box(prompt["box"]))
        _set_propagation(request.options, _projection(projection, mode), iou_threshold, box_extension, stop_slices,
                         all_planes, method)
        result = self._stream(self._volume.Propagate, request, progress)
        return wire.from_ndarray(result.labels)[0]

    def propagate_objects(self, image, labels_2d: np.ndarray, z: int, projection: str = "single_point",
                          iou_threshold: float | None = None, box_extension: float | None = None,
                          stop_slices: Iterable[int] = (), all_planes: bool = False, model=None,
                          progress: ProgressCallback | None = None, mode: str | None = None,
                          method: str | None = None) -> np.ndarray:
        """Propagate all objects of a 2D label image on slice z through the volume at once.

        Returns uint32 (z, y, x) labels keeping each object's id; where objects overlap the one
        with the higher decoder score wins, and slice z keeps ``labels_2d`` as given.
        ``method`` as for ``propagate`` (``"memory"``: SAM2 tracks every object in one pass).
        """
        request = volume_pb2.PropagateObjectsRequest(
            key=self._key(image, model, axes="zyx"), z=int(z),
            labels=wire.to_ndarray(np.asarray(labels_2d, dtype=np.uint32), "yx"),
        )
        _set_propagation(request.options, _projection(projection, mode), iou_threshold, box_extension, stop_slices,
                         all_planes, method)
        result = self._stream(self._volume.PropagateObjects, request, progress)
        return wire.from_ndarray(result.labels)[0]

    def auto_segment_3d(self, image, method: str = "auto", model=None, min_overlap: float | None = None,
                        gap_closing: int | None = None, min_z_extent: int | None = None,
                        all_planes: bool = False, progress: ProgressCallback | None = None, **params) -> np.ndarray:
        """Automatic 3D segmentation: per-slice segmentation merged into 3D objects."""
        request = volume_pb2.AutoSegment3DRequest(key=self._key(image, model, axes="zyx"), method=_METHODS[method],
                                                  all_planes=all_planes)
        _set_given(request, min_overlap=min_overlap, gap_closing=gap_closing, min_z_extent=min_z_extent)
        _set_params(request, params)
        result = self._stream(self._volume.AutoSegment3D, request, progress)
        return wire.from_ndarray(result.labels)[0]

    # -- tracking ----------------------------------------------------------------
    def track(self, image, labels=None, model=None, time_limit_s: float | None = None,
              progress: ProgressCallback | None = None, segmentation_method: str = "auto", tile_shape=None,
              halo=None, axes: str = "tyx", method: str = "auto", **costs) -> TrackingResult:
        """Link the objects of a (t, y, x) series into tracks with divisions; labels (one id per track)
        and the track table.

        Links ``labels`` (a (t, y, x) integer array or an uploaded image id) or, without labels,
        segments every frame first (``segmentation_method``). Costs of the linking (``max_distance``,
        ``edge_distance_weight``, ``edge_iou_weight``, ``appear_cost``, ``split_cost``,
        ``disappear_cost``, ``edge_constant``, ``selection_reward``) are keyword arguments;
        ``time_limit_s`` bounds the solver (server default 60 s). To follow one annotated object
        with SAM instead, use ``follow`` (``method="interactive"`` is its deprecated spelling).
        """
        if method == "interactive":
            warnings.warn("track(method='interactive') is deprecated: use follow()", DeprecationWarning, stacklevel=2)
            return self.follow(image, model=model, progress=progress, tile_shape=tile_shape, halo=halo, axes=axes,
                               **costs)
        if method != "auto":
            raise ValueError(f"method must be 'auto' (use follow() to follow one object), got {method!r}")
        if segmentation_method not in _METHODS:
            raise ValueError(f"segmentation_method must be one of {sorted(_METHODS)}, got {segmentation_method!r}")
        request = tracking_pb2.TrackRequest(
            key=self._key(image, model, tile_shape, halo, axes=axes), method=tracking_pb2.AUTO,
            segmentation_method=_METHODS[segmentation_method],
        )
        if labels is not None:
            request.labels_image_id = self._image_id(
                labels if isinstance(labels, str) else np.asarray(labels, dtype=np.uint32), "tyx")
        if time_limit_s is not None:
            request.costs.time_limit_s = time_limit_s
        for name, value in costs.items():
            if name not in tracking_pb2.TrackingCosts.DESCRIPTOR.fields_by_name:
                raise TypeError(f"unknown tracking cost {name!r}")
            setattr(request.costs, name, value)
        return _tracking_result(self._stream(self._tracking.Track, request, progress))

    def follow(self, image, start: dict | None, divisions: Iterable[dict] = (), model=None,
               iou_threshold: float | None = None, backward: bool = False, projection: str = "single_point",
               box_extension: float | None = None, motion_smoothing: float | None = None,
               progress: ProgressCallback | None = None, tile_shape=None, halo=None,
               axes: str = "tyx", method: str | None = None) -> TrackingResult:
        """Follow one annotated object (and its declared daughters) through a (t, y, x) series with SAM.

        ``start`` is ``dict(t=, mask=)`` or ``dict(t=, points=, point_labels=, box=)``; ``divisions``
        are ``dict(t=, daughters=[a, b])`` with ``a``/``b`` annotations like ``start`` on frame t.
        Each next frame is prompted from the previous mask moved by the motion model
        (``projection`` as in ``propagate``); the object is lost when the IoU with the predicted mask
        drops below ``iou_threshold`` (server default 0.5); ``backward`` also follows it back in time.
        ``method="memory"`` follows with SAM2's memory propagation instead (SAM2 models, their default;
        ``"prompts"`` is the SAM1-family method above).
        """
        if method not in (None, "prompts", "memory"):
            raise ValueError(f"method must be 'prompts' or 'memory' (or None: the model's own), got {method!r}")
        request = tracking_pb2.TrackRequest(key=self._key(image, model, tile_shape, halo, axes=axes),
                                            method=tracking_pb2.INTERACTIVE, backward=backward,
                                            follow_method=method or "")
        if start is not None:
            request.start.CopyFrom(_frame_annotation(start))
        for division in divisions:
            daughter_a, daughter_b = division["daughters"]
            request.divisions.add(t=int(division["t"]), daughter_a=_frame_annotation(daughter_a, division["t"]),
                                  daughter_b=_frame_annotation(daughter_b, division["t"]))
        if projection not in _MODES:
            raise ValueError(f"projection must be one of {sorted(_MODES)}, got {projection!r}")
        request.projection = _MODES[projection]
        _set_given(request, iou_threshold=iou_threshold, box_extension=box_extension,
                   motion_smoothing=motion_smoothing)
        return _tracking_result(self._stream(self._tracking.Track, request, progress))

    @staticmethod
    def export_ctc(labels: np.ndarray, tracks: np.ndarray, folder) -> None:
        """Write tracked labels and their track table in Cell Tracking Challenge result layout."""
        ctc.write_result(folder, labels, tracks)

    # -- training jobs --------------------------------------------------------------
    def train(self, output_model: str, pairs: Sequence[tuple] = (), data_dir: str = "", base_model: str = "",
              preset: str = "auto", epochs: int = 0, time_budget_s: float = 0.0,
              validation_fraction: float = 0.1, lora_rank: int = 0, n_objects_per_batch: int = 0,
              train_decoder: bool = True, lr: float | None = None, steps_per_epoch: int | None = None,
              patch_size: int | None = None, freeze_encoder: bool = False) -> "Job":
        """Start a finetuning job on (image, labels) pairs (arrays or uploaded ids) or a server data_dir.

        Returns at once with the queued job; the job runs on the server whether or not this client
        stays connected. Follow it with :meth:`watch`, stop it with :meth:`cancel_job`; when it
        succeeds, ``output_model`` is served like any other model. ``lr``, ``steps_per_epoch`` and
        ``patch_size`` (a multiple of 16) default to the server's hardware preset. ``freeze_encoder``
        trains only the prompt encoder and mask decoder (much faster on CPU).
        """
        request = training_pb2.StartTrainingRequest(
            output_model=output_model, base_model=base_model, data_dir=data_dir, preset=preset, epochs=epochs,
            time_budget_s=time_budget_s, validation_fraction=validation_fraction, lora_rank=lora_rank,
            train_decoder=train_decoder, n_objects_per_batch=n_objects_per_batch, freeze_encoder=freeze_encoder,
        )
        _set_given(request, lr=lr, steps_per_epoch=steps_per_epoch, patch_size=patch_size)
        for image, labels in pairs:
            labels_id = labels if isinstance(labels, str) else self._image_id(np.asarray(labels, dtype=np.uint32))
            request.pairs.add(image_id=self._image_id(image), labels_id=labels_id)
        return Job.from_message(self._call(self._training.StartTraining, request))

    def watch(self, job) -> Iterable[dict]:
        """Yield the job's events until it ends: ``{"job": Job}`` or ``{"progress": dict}``.

        A progress dict has ``epoch``, ``step``, ``total_steps``, ``losses`` (empty at an epoch's end,
        after its checkpoint), ``val_msa`` (NaN before the first validation), ``eta_s`` and ``lr``.

        Breaking out of the loop (or losing the connection) does not stop the job.
        """
        request = training_pb2.JobRef(job_id=_job_id(job))
        try:
            for event in self._training.WatchJob(request, metadata=self._metadata):
                if event.WhichOneof("event") == "job":
                    yield {"job": Job.from_message(event.job)}
                else:
                    p = event.progress
                    yield {"progress": dict(epoch=p.epoch, step=p.step, total_steps=p.total_steps,
                                            losses=dict(p.losses), val_msa=p.val_msa, eta_s=p.eta_s, lr=p.lr)}
        except grpc.RpcError as err:
            raise SamBridgeError(err.code(), err.details()) from None

    def cancel_job(self, job) -> "Job":
        """Ask the server to stop a job; returns its state right after."""
        return Job.from_message(self._call(self._training.CancelJob, training_pb2.JobRef(job_id=_job_id(job))))

    def job(self, job) -> "Job":
        """Current state of a job."""
        return Job.from_message(self._call(self._training.GetJob, training_pb2.JobRef(job_id=_job_id(job))))

    def jobs(self) -> list["Job"]:
        """All training jobs of the server, oldest first."""
        response = self._call(self._training.ListJobs, training_pb2.ListJobsRequest())
        return [Job.from_message(j) for j in response.jobs]

    # -- batch jobs ------------------------------------------------------------------
    def batch(self, inputs, output: str = "", method: str = "ais", model: str | None = None, level: int = 0,
              chunk_size: int = 0, overlap: int = 0, auto_3d: bool = False, tile_shape=None, halo=None,
              precision: str = "", wait: bool = True, progress: ProgressCallback | None = None,
              **params) -> "BatchJob":
        """Segment many images (or whole slides, in stitched chunks) as a server job on Dask.

        ``inputs``: server-side paths under the server's ``--data-root`` (TIFF, OME-TIFF, OME-Zarr,
        folders, globs) and/or arrays (uploaded first). ``output``: a ``.zarr`` folder under a data
        root (OME-Zarr labels per input plus ``objects.csv``). ``method``: ais, amg, auto,
        threshold or embed; ``params`` as for :meth:`auto_segment`. With ``wait`` (default) this
        follows the job (``progress(stage, done, total)``) and returns it finished; a failed job
        raises. Without, it returns the queued job (see :meth:`watch_batch`, :meth:`cancel_batch`).
        """
        items = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray)) else list(inputs)
        request = batch_pb2.StartBatchRequest(
            output=str(output), method=method, model=model or "", level=level, chunk_size=chunk_size,
            overlap=overlap, auto_3d=auto_3d, precision=precision,
            tiling=common_pb2.Tiling(tile_shape=list(tile_shape or ()), halo=list(halo or ())),
            inputs=[str(i) for i in items if not isinstance(i, np.ndarray)],
            image_ids=[self._image_id(i) for i in items if isinstance(i, np.ndarray)],
        )
        for name, value in params.items():
            request.params[name] = float(value)
        job = BatchJob.from_message(self._call(self._batch.StartBatch, request))
        if not wait:
            return job
        for event in self.watch_batch(job):
            if "job" in event:
                job = event["job"]
            elif progress is not None:
                progress(event["progress"]["stage"], event["progress"]["done"], event["progress"]["total"])
        if job.state == "FAILED":
            raise SamBridgeError(grpc.StatusCode.ABORTED, f"batch {job.job_id} failed: {job.message}")
        return job

    def watch_batch(self, job) -> Iterable[dict]:
        """Yield a batch job's events until it ends: ``{"job": BatchJob}`` or ``{"progress": dict}``
        (stage, done, total, chunks_computed, chunks_reused, eta_s). Leaving does not stop the job."""
        try:
            for event in self._batch.WatchJob(training_pb2.JobRef(job_id=_job_id(job)), metadata=self._metadata):
                if event.WhichOneof("event") == "job":
                    yield {"job": BatchJob.from_message(event.job)}
                else:
                    p = event.progress
                    yield {"progress": dict(stage=p.progress.stage, done=p.progress.done, total=p.progress.total,
                                            chunks_computed=p.chunks_computed, chunks_reused=p.chunks_reused,
                                            eta_s=p.eta_s)}
        except grpc.RpcError as err:
            raise SamBridgeError(err.code(), err.details()) from None

    def cancel_batch(self, job) -> "BatchJob":
        """Stop a batch job; done chunks stay recorded, so starting it again resumes."""
        return BatchJob.from_message(self._call(self._batch.CancelJob, training_pb2.JobRef(job_id=_job_id(job))))

    def batch_jobs(self) -> list["BatchJob"]:
        """This caller's batch jobs, oldest first."""
        response = self._call(self._batch.ListJobs, training_pb2.ListJobsRequest())
        return [BatchJob.from_message(j) for j in response.jobs]


@dataclass(frozen=True)
class Job:
    """A training job as the server reports it (state: QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)."""

    job_id: str
    state: str
    output_model: str
    message: str
    epoch: int
    step: int
    best_val_msa: float
    checkpoint_path: str

    @property
    def done(self) -> bool:
        """True once the job succeeded, failed or was cancelled."""
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @classmethod
    def from_message(cls, message) -> "Job":
        """Build from a ``training_pb2.Job``."""
        return cls(message.job_id, training_pb2.JobState.Name(message.state), message.output_model,
                   message.message, message.epoch, message.step, message.best_val_msa, message.checkpoint_path)


@dataclass(frozen=True)
class SegmentResult:
    """A Segment answer: masks (K, H, W) bool best first, scores (K,), the object's handle and the
    window it was decoded in ((x0, y0, x1, y1) image pixels; ``tile_index`` -1 = centred on the prompts)."""

    masks: np.ndarray
    scores: np.ndarray
    object_id: str
    window: tuple[int, int, int, int]
    tile_index: int

    @classmethod
    def from_message(cls, message) -> "SegmentResult":
        """From a SegmentResponse."""
        box = message.window
        return cls(np.stack([wire.from_mask(m) for m in message.masks]), np.asarray(message.scores, dtype=np.float32),
                   message.object_id, (int(box.x0), int(box.y0), int(box.x1), int(box.y1)), message.tile_index)


@dataclass(frozen=True)
class BatchJob:
    """A batch job as the server reports it: state, chunk counts, objects found, output and tables."""

    job_id: str
    state: str
    message: str
    chunks_total: int
    chunks_done: int
    chunks_computed: int
    chunks_reused: int
    n_objects: int
    output: str
    tables: tuple[str, ...]

    @property
    def done(self) -> bool:
        """True once the job succeeded, failed or was cancelled."""
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @classmethod
    def from_message(cls, message) -> "BatchJob":
        """Build from a ``batch_pb2.BatchJob``."""
        return cls(message.job_id, training_pb2.JobState.Name(message.state), message.message,
                   message.chunks_total, message.chunks_done, message.chunks_computed, message.chunks_reused,
                   message.n_objects, message.output, tuple(message.tables))


def _job_id(job) -> str:
    return job if isinstance(job, str) else job.job_id


@dataclass(frozen=True)
class TrackingResult:
    """Outcome of :meth:`Client.track`.

    ``labels``: uint32 (t, y, x), one id per track; ``tracks``: (n, 4) int64 rows
    ``(id, begin, end, parent)`` (CTC ``res_track.txt``); ``lineage``: ``{mother: [daughters]}``;
    ``optimal``: the linking is proven optimal; ``solver_status``: the solver's status;
    ``stop_reasons``: for interactive tracking, why each track stopped.
    """

    labels: np.ndarray
    tracks: np.ndarray
    lineage: dict[int, list[int]]
    optimal: bool
    solver_status: str
    n_divisions: int
    stop_reasons: dict[int, str]

    def export_ctc(self, folder) -> None:
        """Write this result as ``mask###.tif`` + ``res_track.txt`` into ``folder``."""
        ctc.write_result(folder, self.labels, self.tracks)


def lineage_of(tracks: np.ndarray) -> dict[int, list[int]]:
    """``{mother id: [daughter ids]}`` of the divisions in a CTC track table.

    A parent with a single child is the same cell continued after a gap, not a division: left out.
    """
    lineage: dict[int, list[int]] = {}
    for track_id, _, _, parent in np.asarray(tracks).reshape(-1, 4).tolist():
        if parent:
            lineage.setdefault(int(parent), []).append(int(track_id))
    return {mother: sorted(daughters) for mother, daughters in sorted(lineage.items()) if len(daughters) >= 2}


def _frame_annotation(annotation: dict, default_t: int = 0) -> tracking_pb2.FrameAnnotation:
    """A wire FrameAnnotation from ``dict(t=, mask=)`` or ``dict(t=, points=, point_labels=, box=)``."""
    unknown = set(annotation) - {"t", "mask", "points", "point_labels", "box"}
    if unknown:
        raise TypeError(f"unknown annotation keys {sorted(unknown)}; use t, mask, points, point_labels, box")
    message = tracking_pb2.FrameAnnotation(
        t=int(annotation.get("t", default_t)),
        points=_points(annotation.get("points"), annotation.get("point_labels")),
    )
    if annotation.get("mask") is not None:
        message.mask.CopyFrom(wire.to_mask(annotation["mask"]))
    if annotation.get("box") is not None:
        message.box.CopyFrom(_box(annotation["box"]))
    return message


def _set_params(request, params: dict) -> None:
    """Copy keyword parameters into the request's AIS/AMG parameter messages."""
    ais_fields = set(automatic_pb2.AISParams.DESCRIPTOR.fields_by_name)
    amg_fields = set(automatic_pb2.AMGParams.DESCRIPTOR.fields_by_name)
    for name, value in params.items():
        if name in ais_fields:
            setattr(request.ais, name, value)
        elif name in amg_fields:
            setattr(request.amg, name, value)
        else:
            raise TypeError(f"unknown segmentation parameter {name!r}")


def _set_given(message, **fields) -> None:
    """Set the optional fields that were given (None leaves a field unset: the server's default)."""
    for name, value in fields.items():
        if value is not None:
            setattr(message, name, value)


def _tracking_result(result) -> TrackingResult:
    """The client's view of a wire TrackResult."""
    tracks = np.array([[t.id, t.begin, t.end, t.parent] for t in result.tracks], dtype=np.int64).reshape(-1, 4)
    return TrackingResult(
        labels=wire.from_ndarray(result.labels)[0], tracks=tracks, lineage=lineage_of(tracks),
        optimal=result.optimal, solver_status=result.solver_status, n_divisions=result.n_divisions,
        stop_reasons={int(k): v for k, v in result.stop_reasons.items()},
    )


def _projection(projection: str, mode: str | None) -> str:
    """The projection asked for, also under its deprecated name ``mode``."""
    if mode is not None:
        warnings.warn("'mode' is deprecated: use 'projection'", DeprecationWarning, stacklevel=3)
        return mode
    return projection


def _set_propagation(options, projection, iou_threshold, box_extension, stop_slices, all_planes,
                     method: str | None = None) -> None:
    if projection not in _MODES:
        raise ValueError(f"projection must be one of {sorted(_MODES)}, got {projection!r}")
    if method not in (None, "prompts", "memory"):
        raise ValueError(f"method must be 'prompts' or 'memory' (or None: the model's own), got {method!r}")
    options.method = method or ""
    options.projection = _MODES[projection]
    _set_given(options, iou_threshold=iou_threshold, box_extension=box_extension)
    options.stop_slices.extend(int(z) for z in stop_slices)
    options.all_planes = all_planes

