"""The engine's front door: images, models, cached embeddings and object state.

The servicers translate wire messages into calls of a ``Workspace``; every
algorithm lives in the capability modules this class composes.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .prompts import interactive
from .prompts import decoding as prompts
from .automatic.ais import AISMaps, AISParams, ais_segment, default_ais_params, embeddings_ais_maps, prepare_smoothing
from .automatic.ais_decoder import AISDecoder, build_ais_decoder
from .automatic.amg import AMGParams, amg_segment, default_amg_params, embeddings_amg_candidates
from .cache import CacheKey, EmbeddingCache
from .embeddings import TILE_FEATURE_BYTES, ImageEmbeddings, check_options, compute_embeddings
from .errors import Cancelled, FailedPrecondition, InvalidInput, ResourceExhausted
from .images import ImageStore, StoredImage
from .interrupt import interruptible, stops_when
from .labels import ObjectSummary, summarize_labels
from .model_zoo import ModelZoo, StageProgress, default_model_dir, load_registry
from .models import LoadedModel, ModelRegistry, load_checkpoint
from .prompts.objects import ObjectState, ObjectStore
from .shared_work import SharedLRU, progress_while_wanted
from .tiling import Box
from .prompts.windows import in_window

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]


@dataclass(frozen=True)
class EmbeddingRequest:
    """Which embeddings a call uses: image, model (None = default), tiling, precision.

    ``tile_shape=None`` means the model's native tiling (none for SAM / micro_sam checkpoints);
    ``whole_image`` forces one SAM input even for a model that has one.
    """

    image_id: str
    model: str | None = None
    tile_shape: tuple[int, int] | None = None
    halo: tuple[int, int] | None = None
    precision: str | None = None
    whole_image: bool = False

    def with_tiling_of(self, model: LoadedModel) -> "EmbeddingRequest":
        """This request with an unset tiling replaced by ``model``'s native tiling."""
        native = model.native_tiling
        if self.tile_shape is not None or self.whole_image or native is None:
            return self
        return replace(self, tile_shape=native.tile_shape, halo=native.halo)


@dataclass(frozen=True)
class EmbedSummary:
    """Outcome of ``Workspace.embed``."""

    n_tiles: int
    n_slices: int
    n_cached: int
    seconds: float


@dataclass(frozen=True)
class LabelResult:
    """A label image with its axes, per-object summaries and the method used."""

    labels: np.ndarray
    axes: str
    objects: list[ObjectSummary]
    method: str


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class Workspace:
    """State shared by all clients of one server."""

    def __init__(self, config) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        # bf16 keeps decoded masks at IoU >= 0.98 of fp32 (bench/bench_embeddings.py) at ~2x speed.
        self.precision = "bf16" if config.precision == "auto" else config.precision
        cache_dir = Path(config.cache_dir) if config.cache_dir else None
        self.models = ModelRegistry()
        self.images = ImageStore(config.image_mb * 1024 * 1024, directory=cache_dir / "images" if cache_dir else None)
        self.cache = EmbeddingCache(config.cache_mb * 1024 * 1024, cache_dir / "embeddings" if cache_dir else None)
        self.objects = ObjectStore()
        self._encoder_locks: dict[str, threading.Lock] = {}
        # Full-image decoder passes (AIS maps, AMG candidates) of a model run one at a time too:
        # each holds about a GB of activations on a 1024-px window, so their memory stays bounded.
        self._decoder_locks: dict[str, threading.Lock] = {}
        self._keys: dict[tuple, CacheKey] = {}
        self._decoders: dict[str, AISDecoder] = {}
        # Decoder maps / AMG candidates of recent planes: re-running with other thresholds is cheap.
        self._automatic_cache: SharedLRU = SharedLRU(capacity=8)
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

        self.jobs = JobManager(self, cache_dir / "jobs" if cache_dir else None)

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
        model = load_checkpoint(path, model_type, name, device=self.device, decoder_path=decoder_path, root=root)
        self._encoder_locks[model.name] = threading.Lock()
        self.models.add(model, default=default)
        return model

    def pull_model(self, name: str, progress: StageProgress | None = None) -> LoadedModel:
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
        self._encoder_locks.pop(model.name, None)
        self._decoder_locks.pop(model.name, None)
        self._decoders.pop(model.name, None)

    def capabilities(self) -> list[str]:
        """Names of the capabilities this server implements."""
        return ["images", "models", "embeddings", "prompts", "ais", "amg", "volume", "tracking"]

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
        if precision not in ("fp32", "bf16"):
            raise InvalidInput(f"precision must be 'fp32' or 'bf16', got {precision!r}")
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
        self._check_embedding_size(image.spatial_shape, request)
        key = self._cache_key(image, index, model, request, precision)

        def compute() -> ImageEmbeddings:
            lock = self._encoder_locks.setdefault(model.name, threading.Lock())
            _acquire(lock, cancelled)
            try:
                # A cancel stops the encoder between its blocks, not only between tiles.
                with stops_when(cancelled or _never):
                    return compute_embeddings(interruptible_model(model), plane, request.tile_shape, request.halo,
                                              precision, progress, cancelled)
            finally:
                lock.release()

        return self.cache.get_or_compute(key, compute, cancelled), model, image

    def _check_embedding_size(self, shape: tuple[int, int], request: EmbeddingRequest) -> None:
        """Refuse embeddings that could never stay in the cache (they would be recomputed on every call)."""
        if request.tile_shape is None:
            return
        check_options("fp32", request.tile_shape, request.halo)
        # Counted, not built: this runs on every prompt call.
        n_tiles = math.prod(-(-size // tile) for size, tile in zip(shape, request.tile_shape))
        needed = n_tiles * TILE_FEATURE_BYTES
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
            if cancelled is not None and cancelled():
                raise Cancelled("embedding was cancelled")
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

    def _window_embeddings(self, request: EmbeddingRequest, index: int, window: Box,
                           cancelled: CancelledFn | None) -> ImageEmbeddings:
        """Embeddings of one window of a plane at the request's zoom, cached by its pixels."""
        image, model, precision, _ = self._resolve(request)
        y0, x0, y1, x1 = window
        crop = image.plane(index)[y0:y1, x0:x1]
        key = self.cache.key_for(crop, model.model_hash, None, None, precision)

        def compute() -> ImageEmbeddings:
            lock = self._encoder_locks.setdefault(model.name, threading.Lock())
            _acquire(lock, cancelled)
            try:
                return compute_embeddings(model, crop, None, None, precision, None, cancelled)
            finally:
                lock.release()

        return in_window(self.cache.get_or_compute(key, compute, cancelled), window, image.spatial_shape)

    def segment_objects(self, request: EmbeddingRequest, index: int = 0, points=None, boxes=None,
                        negative_points=None, cancelled: CancelledFn | None = None
                        ) -> tuple[np.ndarray, list[ObjectSummary], int]:
        """Decode many objects at once into a uint32 label image (higher score wins overlaps).

        Also returns how many objects did not see every negative point (outside their tile)."""
        embeddings, model, _ = self.embeddings_for(request, index, cancelled=cancelled)
        labels, scores, missed = prompts.paint_objects(model, embeddings, points=points, boxes=boxes,
                                                       negative_points=negative_points, cancelled=cancelled)
        return labels, summarize_labels(labels, scores, index), missed

    def release_object(self, object_id: str, owner: str = "") -> bool:
        """Forget an object handle of ``owner``."""
        return self.objects.release(object_id, owner)

    # -- automatic segmentation -------------------------------------------------------
    def _decoder(self, model: LoadedModel) -> AISDecoder:
        if model.decoder_state is None:
            raise FailedPrecondition(
                f"model {model.name!r} has no AIS decoder (its checkpoint has no decoder_state); use method AMG "
                "or a micro_sam model with a decoder"
            )
        if model.name not in self._decoders:
            self._decoders[model.name] = interruptible(build_ais_decoder(model.decoder_state).to(model.device))
        return self._decoders[model.name]

    @contextmanager
    def _decoder_pass(self, model: LoadedModel, cancelled: CancelledFn) -> Iterator[None]:
        """Hold the model's decoder-pass lock (Cancelled if the work is abandoned while waiting)."""
        lock = self._decoder_locks.setdefault(model.name, threading.Lock())
        _acquire(lock, cancelled)
        try:
            yield
        finally:
            lock.release()

    def auto_segment(self, request: EmbeddingRequest, method: str = "auto", ais_params: dict | None = None,
                     amg_params: dict | None = None, indices: Sequence[int] = (),
                     progress: Callable | None = None, cancelled: CancelledFn | None = None) -> LabelResult:
        """AIS or AMG on a 2D image or on every requested plane of a stack.

        Stacks are segmented plane by plane; ids are made unique across planes by offsetting.
        ``progress(done, total, stage)`` counts tiles over all planes, per stage: "embedding"
        (encoder tiles, cached ones included), then "decoding" (AIS decoder tiles) or
        "segmenting" (AMG, one step per plane).
        """
        image, model, _, _ = self._resolve(request)
        if method == "auto":
            method = "ais" if model.decoder_state is not None else "amg"
        if method not in ("ais", "amg"):
            raise InvalidInput(f"unknown automatic segmentation method {method!r}; use 'ais' or 'amg'")
        if method == "ais":
            params = ais_parameters(model.name, ais_params or {})
            self._decoder(model)
        else:
            params = amg_parameters(model.name, amg_params or {})
        planes = requested_planes(image, indices)
        labels = np.zeros((len(planes),) + image.spatial_shape, dtype=np.uint32)
        objects: list[ObjectSummary] = []
        offset = 0
        report = progress or (lambda done, total, stage: None)
        for done, index in enumerate(planes):
            if cancelled is not None and cancelled():
                raise Cancelled("automatic segmentation was cancelled")

            def in_stack(stage: str, plane: int = done) -> Callable[[int, int], None]:
                # per-plane tile counts -> counts over all planes of the call
                return lambda tiles_done, n_tiles: report(plane * n_tiles + tiles_done, len(planes) * n_tiles, stage)

            embeddings, _, _ = self.embeddings_for(request, index, progress=in_stack("embedding"), cancelled=cancelled)
            in_stack("embedding")(embeddings.n_tiles, embeddings.n_tiles)  # also when it came from the cache
            plane, scores = self._segment_plane(request, index, model, embeddings, method, params,
                                                in_stack("decoding"), cancelled)
            plane[plane > 0] += offset
            objects += summarize_labels(plane, {k + offset: v for k, v in scores.items()}, index)
            offset = max(offset, int(plane.max()))
            labels[done] = plane
            if method == "ais":
                in_stack("decoding")(embeddings.n_tiles, embeddings.n_tiles)
            else:
                report(done + 1, len(planes), "segmenting")
        axes = image.axes.replace("c", "")
        return LabelResult(labels if image.is_stack else labels[0], axes, objects, method)

    def _segment_plane(self, request, index, model, embeddings, method, params,
                       tile_progress: Callable[[int, int], None] | None = None,
                       cancelled: CancelledFn | None = None) -> tuple[np.ndarray, dict]:
        # Identical concurrent calls share one computation of the maps / candidates; it stops
        # once every caller waiting for it has cancelled.
        key = (self._cache_key(self.images.get(request.image_id), index, model, request,
                               request.precision or self.precision), method)
        # The shared work also stops inside a decoder pass (between layers), see engine/interrupt.py.
        if method == "ais":
            def ais_maps(abandoned: CancelledFn) -> AISMaps:
                with self._decoder_pass(model, abandoned), stops_when(abandoned):
                    return prepare_smoothing(embeddings_ais_maps(
                        self._decoder(model), embeddings, progress_while_wanted(tile_progress, abandoned)), params)

            maps = self._automatic_cache.get(key, ais_maps, cancelled)
            labels = ais_segment(maps, params)
            return labels, _mean_per_label(maps.foreground, labels)
        amg_key = key + (params.points_per_side, params.points_per_batch, params.pred_iou_thresh)

        def amg_candidates(abandoned: CancelledFn) -> list:
            with self._decoder_pass(model, abandoned), stops_when(abandoned):
                return embeddings_amg_candidates(interruptible_model(model).sam, embeddings, params.points_per_side,
                                                 params.points_per_batch, params.pred_iou_thresh)

        candidates = self._automatic_cache.get(amg_key, amg_candidates, cancelled)
        result = amg_segment(candidates, params.filter)
        return result.labels, {i + 1: float(s) for i, s in enumerate(result.pred_iou)}


def _never() -> bool:
    return False


def interruptible_model(model: LoadedModel) -> LoadedModel:
    """``model`` with every layer of its SAM checking the running thread's cancellation (once)."""
    interruptible(model.sam)
    return model


def _acquire(lock: threading.Lock, cancelled: CancelledFn | None) -> None:
    """Take ``lock``, giving up with Cancelled when the caller goes away while waiting."""
    # A cancelled call queued behind a long embedding must free its worker thread promptly.
    while not lock.acquire(timeout=0.1):
        if cancelled is not None and cancelled():
            raise Cancelled("the call was cancelled while waiting for the encoder")


_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


def check_model_name(name: str) -> None:
    """InvalidInput unless ``name`` is 1-64 letters, digits, '.', '_', '+' or '-' (no path parts)."""
    if not _MODEL_NAME.fullmatch(name or "") or ".." in name:
        raise InvalidInput(f"invalid model name {name[:80]!r}: use 1-64 letters, digits, '.', '_', '+' or '-'")


def requested_planes(image: StoredImage, indices: Sequence[int]) -> list[int]:
    """The planes a call works on: ``indices`` (each in range, none twice) or every plane."""
    planes = [int(i) for i in indices]
    if not planes:
        return list(range(image.n_slices))
    # Checked up front: a repeated or huge list must not allocate or loop before failing.
    if len(set(planes)) != len(planes):
        raise InvalidInput("indices must not repeat a plane")
    bad = [i for i in planes if not 0 <= i < image.n_slices]
    if bad:
        raise InvalidInput(f"indices {bad[:5]} out of range for image {image.image_id} with {image.n_slices} planes")
    return planes


def _mean_per_label(values: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    ids = np.unique(labels)
    ids = ids[ids != 0]
    if ids.size == 0:
        return {}
    from scipy import ndimage

    return {int(i): float(m) for i, m in zip(ids, ndimage.mean(values, labels, ids))}


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
