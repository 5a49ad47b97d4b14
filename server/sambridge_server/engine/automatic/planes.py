"""Automatic segmentation of the planes of an uploaded image with one model (AIS or AMG).

The segmenter owns what full-image decoding shares between calls: each model's AIS decoder,
one decoder pass per model at a time (each holds about a GB of activations on a 1024-px
window, so memory stays bounded), and the decoder maps / AMG candidates of recent planes
(re-running with other thresholds is cheap; identical concurrent calls compute them once).
Images, models and embeddings come from the caller (the Workspace) as functions.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..callbacks import CancelledFn, StageProgressFn, acquire_unless_cancelled
from ..embeddings import ImageEmbeddings
from ..errors import FailedPrecondition, InvalidInput
from ..images import StoredImage, requested_planes
from ..interrupt import interruptible, interruptible_model, stops_when
from ..labels import ObjectSummary, label_planes
from ..models import LoadedModel
from ..shared_work import SharedLRU, progress_while_wanted
from .ais import AISMaps, ais_segment, embeddings_ais_maps, prepare_smoothing
from .ais_decoder import AISDecoder, build_ais_decoder
from .amg import amg_segment, embeddings_amg_candidates
from .settings import ais_parameters, amg_parameters

ResolveFn = Callable[[Any], tuple[StoredImage, LoadedModel]]
"""An embedding request -> its image and model."""
EmbeddingsFn = Callable[..., tuple[ImageEmbeddings, LoadedModel, StoredImage]]
"""``(request, index, progress=, cancelled=)`` -> a plane's embeddings (cached)."""
PlaneKeyFn = Callable[[Any, int, LoadedModel], Any]
"""``(request, index, model)`` -> a hashable id of that plane's embeddings."""


@dataclass(frozen=True)
class LabelResult:
    """A label image with its axes, per-object summaries and the method used."""

    labels: np.ndarray
    axes: str
    objects: list[ObjectSummary]
    method: str


class AutomaticSegmenter:
    """AIS / AMG over the planes of stored images, sharing decoders and decoder results."""

    def __init__(self, resolve: ResolveFn, embeddings_for: EmbeddingsFn, plane_key: PlaneKeyFn,
                 recent_planes: int = 8) -> None:
        self._resolve = resolve
        self._embeddings_for = embeddings_for
        self._plane_key = plane_key
        self._decoders: dict[str, AISDecoder] = {}
        self._decoder_locks: dict[str, threading.Lock] = {}
        self.recent: SharedLRU = SharedLRU(capacity=recent_planes)

    def forget_model(self, name: str) -> None:
        """Drop the decoder and lock of a model that is no longer served."""
        self._decoders.pop(name, None)
        self._decoder_locks.pop(name, None)

    def decoder(self, model: LoadedModel) -> AISDecoder:
        """The model's AIS decoder (built once); FailedPrecondition when its checkpoint has none."""
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
        acquire_unless_cancelled(lock, cancelled)
        try:
            yield
        finally:
            lock.release()

    def segment(self, request, method: str = "auto", ais_params: dict | None = None,
                amg_params: dict | None = None, indices: Sequence[int] = (),
                progress: StageProgressFn | None = None, cancelled: CancelledFn | None = None) -> LabelResult:
        """AIS or AMG on a 2D image or on every requested plane of a stack.

        Stacks are segmented plane by plane; ids are made unique across planes by offsetting.
        ``progress(done, total, stage)`` counts tiles over all planes, per stage: "embedding"
        (encoder tiles, cached ones included), then "decoding" (AIS decoder tiles) or
        "segmenting" (AMG, one step per plane).
        """
        image, model = self._resolve(request)
        if method == "auto":
            method = "ais" if model.decoder_state is not None else "amg"
        if method not in ("ais", "amg"):
            raise InvalidInput(f"unknown automatic segmentation method {method!r}; use 'ais' or 'amg'")
        if method == "ais":
            params = ais_parameters(model.name, ais_params or {})
            self.decoder(model)
        else:
            params = amg_parameters(model.name, amg_params or {})
        planes = requested_planes(image, indices)
        report = progress or (lambda done, total, stage: None)

        def segment_plane(done: int, index: int) -> tuple[np.ndarray, dict]:
            def in_stack(stage: str) -> Callable[[int, int], None]:
                # per-plane tile counts -> counts over all planes of the call
                return lambda tiles_done, n_tiles: report(done * n_tiles + tiles_done, len(planes) * n_tiles, stage)

            embeddings, _, _ = self._embeddings_for(request, index, progress=in_stack("embedding"),
                                                    cancelled=cancelled)
            in_stack("embedding")(embeddings.n_tiles, embeddings.n_tiles)  # also when it came from the cache
            labels_and_scores = self._segment_plane(request, index, model, embeddings, method, params,
                                                    in_stack("decoding"), cancelled)
            if method == "ais":
                in_stack("decoding")(embeddings.n_tiles, embeddings.n_tiles)
            else:
                report(done + 1, len(planes), "segmenting")
            return labels_and_scores

        labels, objects = label_planes(planes, image.spatial_shape, segment_plane, cancelled)
        axes = image.axes.replace("c", "")
        return LabelResult(labels if image.is_stack else labels[0], axes, objects, method)

    def _segment_plane(self, request, index, model, embeddings, method, params,
                       tile_progress: Callable[[int, int], None] | None = None,
                       cancelled: CancelledFn | None = None) -> tuple[np.ndarray, dict]:
        # Identical concurrent calls share one computation of the maps / candidates; it stops
        # once every caller waiting for it has cancelled, also inside a decoder pass (between
        # layers, see engine/interrupt.py).
        key = (self._plane_key(request, index, model), method)
        if method == "ais":
            def ais_maps(abandoned: CancelledFn) -> AISMaps:
                with self._decoder_pass(model, abandoned), stops_when(abandoned):
                    return prepare_smoothing(embeddings_ais_maps(
                        self.decoder(model), embeddings, progress_while_wanted(tile_progress, abandoned)), params)

            maps = self.recent.get(key, ais_maps, cancelled)
            labels = ais_segment(maps, params)
            return labels, mean_per_label(maps.foreground, labels)
        amg_key = key + (params.points_per_side, params.points_per_batch, params.pred_iou_thresh)

        def amg_candidates(abandoned: CancelledFn) -> list:
            with self._decoder_pass(model, abandoned), stops_when(abandoned):
                return embeddings_amg_candidates(interruptible_model(model).sam, embeddings, params.points_per_side,
                                                 params.points_per_batch, params.pred_iou_thresh)

        candidates = self.recent.get(amg_key, amg_candidates, cancelled)
        result = amg_segment(candidates, params.filter)
        return result.labels, {i + 1: float(s) for i, s in enumerate(result.pred_iou)}


def mean_per_label(values: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """Mean of ``values`` over each object of ``labels`` (its score)."""
    from scipy import ndimage

    ids = np.unique(labels)
    ids = ids[ids != 0]
    if ids.size == 0:
        return {}
    return {int(i): float(m) for i, m in zip(ids, ndimage.mean(values, labels, ids))}
