"""The engine's front door: images, models, cached embeddings and object state.

The servicers translate wire messages into calls of a ``Workspace``; every
algorithm lives in the capability modules this class composes.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .automatic.planes import AutomaticSegmenter, LabelResult
from .cache import CacheKey, EmbeddingCache
from .callbacks import CancelledFn, ProgressFn, StageProgressFn, acquire_unless_cancelled, raise_if_cancelled
from .embeddings import (PRECISIONS, TILE_FEATURE_BYTES, BatchEncoder, ImageEmbeddings, check_options,
                         compute_embeddings, model_encoder)
from .compiled_encoder import compile_encoder, warm_up
from .encoder_batching import EncoderBatcher, auto_max_batch, parse_encoder_batch
from .sam2_models.features import TILE_BYTES as SAM2_TILE_BYTES
from .errors import FailedPrecondition, InvalidInput, ResourceExhausted
from .files import confine
from .images import ImageStore, StoredImage, requested_planes
from .int8_encoder import check_int8, encoders_directory, shared_encoders
from .interrupt import interruptible_model
from .labels import ObjectSummary, summarize_labels
from .model_zoo import ModelZoo, default_model_dir, load_registry
from .model_families import family_of, load_any_checkpoint
from .model_registry import ModelRegistry
from .models import LoadedModel, sam_of
from .prompts.many_objects import paint_objects
from .prompts import interactive
from .prompts.objects import ObjectState, ObjectStore
from .prompts.windows import in_window
from .precision import resolve_precision
from .sam2_models import compute_sam2_features
from .sam2_models import serving as sam2_serving
from .sam2_models.features import Sam2Features
from .tiling import Block
from .requests import EmbeddingRequest, EmbedSummary, check_model_name, resolve_device
from .tracking.tracker import Tracker
from .volume.calls import VolumeCalls


def _sam2_forward(batch: torch.Tensor, precision: str) -> np.ndarray:
    """The forward of a SAM2 model's batcher: never run, SAM2 embeddings only take the batcher's lock."""
    raise NotImplementedError("SAM2 embeddings are not batched")


class Workspace:
    """State shared by all clients of one server."""

    def __init__(self, config) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        # "auto": bf16 where the device computes it natively (masks IoU >= 0.98 of fp32 at ~2x speed), else fp32.
        self.precision = resolve_precision(config.precision, self.device)
        if self.precision == "int8":
            check_int8(self.device)
        cache_dir = Path(config.cache_dir) if config.cache_dir else None
        self.models = ModelRegistry()
        self.images = ImageStore(config.image_mb * 1024 * 1024, directory=cache_dir / "images" if cache_dir else None)
        self.cache = EmbeddingCache(config.cache_mb * 1024 * 1024, cache_dir / "embeddings" if cache_dir else None)
        self.int8_encoders = shared_encoders(encoders_directory(cache_dir))
        self.objects = ObjectStore()
        # One encoder batcher per model: concurrent embeddings share forwards (--encoder-batch).
        self._encoder_batch = parse_encoder_batch(config.encoder_batch)
        self._batchers: dict[str, EncoderBatcher] = {}
        self._batchers_lock = threading.Lock()
        self._keys: dict[tuple, CacheKey] = {}
        self.automatic = AutomaticSegmenter(lambda request: self._resolve(request)[:2], self.embeddings_for,
                                            self._plane_key)
        # Late-bound: the capabilities always call the workspace's current methods.
        self.volume = VolumeCalls(self.images, self.models, lambda request: self._resolve(request),
                                  lambda *a, **k: self.embeddings_for(*a, **k), lambda *a, **k: self.segment(*a, **k),
                                  lambda *a, **k: self.auto_segment(*a, **k))
        self.tracking = Tracker(self.images.get, self.models.get, lambda *a, **k: self.embeddings_for(*a, **k),
                                lambda *a, **k: self.auto_segment(*a, **k))
        self.zoo = ModelZoo(load_registry(config.model_registry),
                            Path(config.model_dir) if config.model_dir else default_model_dir())
        self._pull_lock = threading.Lock()
        for source in config.models:
            if source.from_registry:
                self.pull_model(source.name)
            else:
                self.load_model(source.path, source.model_type, source.name, decoder_path=source.decoder_path)
        # After the models: restoring jobs re-registers finished models and resumes unfinished runs.
        from .training.jobs import JobManager  # local import: training pulls in heavier modules

        self._batch = None
        self._batch_lock = threading.Lock()
        self.jobs = JobManager(self.models, lambda checkpoint, name: self.load_model(checkpoint, name=name),
                               cache_dir / "jobs" if cache_dir else None)

    @property
    def batch(self):
        """Batch jobs on Dask (a ``batch.BatchManager``), built on first use: no cluster starts before."""
        with self._batch_lock:
            if self._batch is None:
                from .batch.service import build_batch_manager  # local import: dask is heavy

                self._batch = build_batch_manager(self.config, self.device, self.precision, self.models, self.images)
            return self._batch

    # -- models -------------------------------------------------------------------
    def load_model(self, path: Path, model_type: str | None = None, name: str | None = None,
                   default: bool = False, decoder_path: Path | None = None,
                   root: Path | None = None) -> LoadedModel:
        """Load a checkpoint (plus a separate AIS decoder file) and serve it under ``name`` (default: the
        file stem); with ``root`` the file must be a regular file inside it as opened."""
        name = name or Path(path).stem
        check_model_name(name)
        loaded = self.models.list()
        if any(m.name == name for m in loaded):
            raise InvalidInput(f"a model named {name!r} is already loaded")
        if len(loaded) >= self.config.max_models:
            raise ResourceExhausted(f"{len(loaded)} models are loaded, the server's limit (--max-models "
                                    f"{self.config.max_models}): unload one first")
        model = load_any_checkpoint(path, model_type, name, device=self.device, decoder_path=decoder_path, root=root)
        self.models.add(model, default=default)
        return model

    def load_model_from_roots(self, checkpoint_path: str, model_type: str | None, name: str) -> LoadedModel:
        """Load a client-named checkpoint that must lie inside one of the configured model roots."""
        path = confine(checkpoint_path, self.config.model_roots, "checkpoint path")
        # Confined again as opened: a path swapped for a symlink after the check is refused.
        roots = [Path(r).resolve() for r in self.config.model_roots]
        root = next((r for r in roots if r == path or r in path.parents), None)
        return self.load_model(path, model_type, name, root=root)

    def pull_model(self, name: str, progress: StageProgressFn | None = None) -> LoadedModel:
        """Serve the registry model ``name``, downloading and verifying its files first if needed.

        Idempotent: a model already served under ``name`` is returned as is. ``progress``
        receives ``(done, total, stage)`` (stages ``download <file>``, ``verify <file>``, ``load``).
        """
        for model in self.models.list():
            if model.name == name:
                return model
        files = self.zoo.fetch(name, progress)
        with self._pull_lock:
            for model in self.models.list():
                if model.name == name:
                    return model
            if progress is not None:
                progress(0, 1, "load")
            model = self.load_model(files.checkpoint, self.zoo.entry(name).model_type, name,
                                    decoder_path=files.decoder)
            if progress is not None:
                progress(1, 1, "load")
            return model

    def unload_model(self, name: str) -> None:
        """Stop serving a model (not the default) and free what it holds; its cache entries stay."""
        model = self.models.remove(name)
        with self._batchers_lock:
            self._batchers.pop(model.name, None)
        self.automatic.forget_model(model.name)

    def capabilities(self) -> list[str]:
        """Names of the capabilities this server implements."""
        return ["images", "models", "embeddings", "prompts", "ais", "amg", "volume", "tracking", "batch"]

    # -- images and embeddings ----------------------------------------------------------
    def forget_image(self, image_id: str) -> None:
        """Drop memoised cache keys of an image (its disk entries stay)."""
        for key in [k for k in self._keys if k[0] == image_id]:
            self._keys.pop(key, None)

    def _resolve(self, request: EmbeddingRequest) -> tuple[StoredImage, LoadedModel, str, EmbeddingRequest]:
        """Image, model and precision of a request, and the request with its tiling settled."""
        image = self.images.get(request.image_id)
        model = self.models.get(request.model)
        precision = request.precision or self.precision
        if precision not in PRECISIONS:
            raise InvalidInput(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
        if precision == "int8":
            check_int8(model.device)
        return image, model, precision, request.with_tiling_of(model)

    def _cache_key(self, image: StoredImage, index: int, model: LoadedModel, request: EmbeddingRequest,
                   precision: str) -> CacheKey:
        # Hashing the pixels costs milliseconds per plane: do it once per (image, plane, setting).
        memo = (image.image_id, index, model.model_hash, request.tile_shape, request.halo, precision)
        key = self._keys.get(memo)
        if key is None:
            key = self.cache.key_for(image.plane(index), model.model_hash, request.tile_shape, request.halo, precision)
            self._keys[memo] = key
        return key

    def embeddings_for(self, request: EmbeddingRequest, index: int = 0, progress: ProgressFn | None = None,
                       cancelled: CancelledFn | None = None) -> tuple[ImageEmbeddings, LoadedModel, StoredImage]:
        """Embeddings of one plane (computed once, then from the cache)."""
        image, model, precision, request = self._resolve(request)
        plane = image.plane(index)
        self._check_embedding_size(image.spatial_shape, request,
                                   SAM2_TILE_BYTES if family_of(model) == "sam2" else TILE_FEATURE_BYTES)
        key = self._cache_key(image, index, model, request, precision)

        def compute() -> ImageEmbeddings:
            batcher = self.encoder_batcher(model)
            if family_of(model) != "sam2":
                with batcher.caller():
                    return compute_embeddings(model, plane, request.tile_shape, request.halo, precision, progress,
                                              cancelled, encoder=self._encoder_of(batcher, cancelled))
            acquire_unless_cancelled(batcher.lock, cancelled)
            try:
                return compute_sam2_features(model, plane, request.tile_shape, request.halo, precision, progress,
                                             cancelled)
            finally:
                batcher.lock.release()

        return self.cache.get_or_compute(key, compute, cancelled), model, image

    def encoder_batcher(self, model: LoadedModel) -> EncoderBatcher:
        """The model's encoder batcher, made on first use (SAM2 models only take its lock)."""
        with self._batchers_lock:
            batcher = self._batchers.get(model.name)
            if batcher is None:
                if family_of(model) == "sam2":
                    batcher = EncoderBatcher(_sam2_forward, 1)
                else:
                    max_batch = self._encoder_batch or auto_max_batch(model.sam.image_encoder,
                                                                      torch.device(model.device))
                    # A cancel stops the encoder between its blocks, not only between tiles.
                    sam = sam_of(interruptible_model(model))
                    compiled = compile_encoder(sam.image_encoder) if self.config.compile else None
                    batcher = EncoderBatcher(model_encoder(sam, int8=self._int8_forward(model), compiled=compiled),
                                             max_batch)
                self._batchers[model.name] = batcher
            return batcher

    def prepare_compiled(self) -> dict[str, float]:
        """Compile (``--compile``) and run once the encoder of every loaded SAM model in the server's
        precision; the seconds each took, by model name."""
        seconds = {}
        for model in self.models.list():
            if family_of(model) != "sam2" and self.precision != "int8":
                batcher = self.encoder_batcher(model)
                seconds[model.name] = warm_up(lambda batch, precision: batcher.encode(batch, precision),
                                              model.sam.image_encoder.img_size, model.device, self.precision)
        return seconds

    def prepare_int8(self) -> None:
        """Quantise (or read) the int8 encoder of every loaded SAM model now rather than at its first call."""
        for model in self.models.list():
            if family_of(model) != "sam2":
                self.int8_encoders.get(model.sam, model.model_hash)

    def _int8_forward(self, model: LoadedModel) -> Callable[[torch.Tensor], np.ndarray]:
        """The model's int8 encoder forward; the encoder is quantised (or read) at its first call."""
        return lambda batch: self.int8_encoders.get(model.sam, model.model_hash)(batch)

    @staticmethod
    def _encoder_of(batcher: EncoderBatcher, cancelled: CancelledFn | None) -> BatchEncoder:
        """``compute_embeddings``' encoder: forwards through ``batcher`` for a caller with ``cancelled``."""
        return lambda batch, precision: batcher.encode(batch, precision, cancelled)

    def _check_embedding_size(self, shape: tuple[int, int], request: EmbeddingRequest,
                              tile_bytes: int = TILE_FEATURE_BYTES) -> None:
        """Refuse embeddings that could never stay in the cache (they would be recomputed on every call)."""
        if request.tile_shape is None:
            return
        check_options("fp32", request.tile_shape, request.halo)
        # Counted, not built: this runs on every prompt call.
        n_tiles = math.prod(-(-size // tile) for size, tile in zip(shape, request.tile_shape))
        needed = n_tiles * tile_bytes
        if needed > self.cache.memory_budget_bytes:
            raise ResourceExhausted(
                f"the embeddings of this {shape[0]} x {shape[1]} image in tiles of {tuple(request.tile_shape)} "
                f"are {n_tiles} tiles = {needed / 2**20:.0f} MiB, more than the embedding cache budget "
                f"({self.cache.memory_budget_bytes / 2**20:.0f} MiB): use larger tiles or raise --cache-mb"
            )

    def embed(self, request: EmbeddingRequest, indices: Sequence[int] = (), progress: ProgressFn | None = None,
              cancelled: CancelledFn | None = None) -> EmbedSummary:
        """Make sure the embeddings of the requested planes exist; report what was cached."""
        start = time.perf_counter()
        image, model, precision, request = self._resolve(request)
        planes = requested_planes(image, indices)
        n_cached, n_tiles = 0, 0
        for done, index in enumerate(planes):
            raise_if_cancelled(cancelled, "embedding was cancelled")
            key = self._cache_key(image, index, model, request, precision)
            cached = self.cache.get(key) is not None
            embeddings, _, _ = self.embeddings_for(
                request, index, progress=(lambda d, t: progress(done * t + d, len(planes) * t)) if progress else None,
                cancelled=cancelled,
            )
            n_cached += cached
            n_tiles = embeddings.n_tiles
            if progress is not None:
                progress(done + 1, len(planes))
        return EmbedSummary(n_tiles, len(planes), n_cached, time.perf_counter() - start)

    # -- prompts ----------------------------------------------------------------------
    def segment(self, request: EmbeddingRequest, index: int = 0, points=None, point_labels=None, box=None,
                mask=None, multimask: bool = False, object_id: str | None = None, owner: str = "",
                cancelled: CancelledFn | None = None) -> interactive.SegmentResult:
        """Decode one object; with ``object_id`` continue ``owner``'s object with all its prompts so far."""
        embeddings, model, image = self.embeddings_for(request, index, cancelled=cancelled)
        context = (request, index)
        previous = self.objects.current(object_id, context, owner) if object_id else None
        new = interactive.object_prompt(points, point_labels, box, image.spatial_shape)
        if isinstance(embeddings, Sam2Features):
            result, state = sam2_serving.segment(model, embeddings, new, mask, multimask, previous)
        else:
            result, state = interactive.segment_object(
                model, embeddings, lambda window: self._window_embeddings(request, index, window, cancelled),
                new, mask=mask, multimask=multimask, previous=previous,
            )
        if object_id:
            self.objects.push(object_id, context, state, owner)
        return result

    def undo(self, request: EmbeddingRequest, index: int, object_id: str, owner: str = "") -> ObjectState:
        """Return ``owner``'s object to its state before its last call; that state (its mask: ``.mask(shape)``)."""
        return self.objects.undo(object_id, (request, index), owner)

    def reset_object(self, request: EmbeddingRequest, index: int, object_id: str, owner: str = "") -> None:
        """Clear the prompts and logits of ``owner``'s object (undoable)."""
        self.objects.reset(object_id, (request, index), owner)

    def image_shape(self, image_id: str) -> tuple[int, int]:
        """(H, W) of an uploaded image's planes."""
        return self.images.get(image_id).spatial_shape

    def _window_embeddings(self, request: EmbeddingRequest, index: int, window: Block,
                           cancelled: CancelledFn | None) -> ImageEmbeddings:
        """Embeddings of one window of a plane at the request's zoom, cached by its pixels."""
        image, model, precision, _ = self._resolve(request)
        y0, x0, y1, x1 = window
        crop = image.plane(index)[y0:y1, x0:x1]
        key = self.cache.key_for(crop, model.model_hash, None, None, precision)

        def compute() -> ImageEmbeddings:
            batcher = self.encoder_batcher(model)
            with batcher.caller():
                return compute_embeddings(model, crop, None, None, precision, None, cancelled,
                                          encoder=self._encoder_of(batcher, cancelled))

        return in_window(self.cache.get_or_compute(key, compute, cancelled), window, image.spatial_shape)

    def segment_objects(self, request: EmbeddingRequest, index: int = 0, points=None, boxes=None,
                        negative_points=None, cancelled: CancelledFn | None = None
                        ) -> tuple[np.ndarray, list[ObjectSummary], int]:
        """Decode many objects at once into a uint32 label image (higher score wins overlaps).

        Also returns how many objects did not see every negative point (outside their tile)."""
        embeddings, model, _ = self.embeddings_for(request, index, cancelled=cancelled)
        if isinstance(embeddings, Sam2Features):
            labels, scores, missed = sam2_serving.segment_objects(model, embeddings, points, boxes, negative_points,
                                                                   cancelled)
            return labels, summarize_labels(labels, scores, index), missed
        labels, scores, missed = paint_objects(model, embeddings, points=points, boxes=boxes,
                                                       negative_points=negative_points, cancelled=cancelled)
        return labels, summarize_labels(labels, scores, index), missed

    def release_object(self, object_id: str, owner: str = "") -> bool:
        """Forget an object handle of ``owner``."""
        return self.objects.release(object_id, owner)

    # -- automatic segmentation -------------------------------------------------------
    def auto_segment(self, request: EmbeddingRequest, method: str = "auto", ais_params: dict | None = None,
                     amg_params: dict | None = None, indices: Sequence[int] = (),
                     progress: StageProgressFn | None = None, cancelled: CancelledFn | None = None) -> LabelResult:
        """AIS or AMG on a 2D image or on every requested plane of a stack (see ``AutomaticSegmenter.segment``)."""
        if family_of(self.models.get(request.model)) == "sam2":
            return self._auto_segment_sam2(request, method, amg_params, indices, progress, cancelled)
        return self.automatic.segment(request, method, ais_params, amg_params, indices, progress, cancelled)

    def _auto_segment_sam2(self, request: EmbeddingRequest, method: str, amg_params: dict | None,
                           indices: Sequence[int], progress: StageProgressFn | None,
                           cancelled: CancelledFn | None) -> LabelResult:
        """SAM2's automatic mask generator on every requested plane (ids unique across planes)."""
        image, model, _, _ = self._resolve(request)
        method = sam2_serving.check_method(model, method)
        planes = requested_planes(image, indices)
        labels, objects = sam2_serving.auto_segment_planes(
            model, image, planes, lambda index: self.embeddings_for(request, index, cancelled=cancelled)[0],
            sam2_serving.amg_params(amg_params), progress, cancelled)
        return LabelResult(labels if image.is_stack else labels[0], image.axes.replace("c", ""), objects, method)

    def _plane_key(self, request: EmbeddingRequest, index: int, model: LoadedModel) -> CacheKey:
        return self._cache_key(self.images.get(request.image_id), index, model, request,
                               request.precision or self.precision)

    # -- training ---------------------------------------------------------------------
    def start_training(self, spec, pairs: Sequence[tuple[str, str]] = (), data_dir: str = "",
                       owner: str = ""):
        """Queue a finetuning job (a ``training.JobSpec``) on uploaded (image id, labels id) pairs or on
        a server-side folder under the data roots; returns its ``JobRecord`` (QUEUED)."""
        from .training.data import pairs_from_folder, pairs_from_images

        if data_dir and pairs:
            raise InvalidInput("give either pairs or data_dir, not both")
        base = self.models.get(spec.base_model or None)
        if family_of(base) == "sam2":
            raise FailedPrecondition(f"model '{base.name}' ({base.model_type}) is a SAM2 model: finetuning is "
                                     "implemented for SAM1-family models only")
        if data_dir:
            samples = pairs_from_folder(confine(data_dir, self.config.data_roots, "data_dir"))
        else:
            samples = pairs_from_images([(self.images.get(i), self.images.get(j)) for i, j in pairs])
        return self.jobs.submit(spec, samples, owner=owner)
