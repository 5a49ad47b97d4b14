"""What a worker does with one chunk's pixels: segment (AIS, AMG, threshold) or embed.

Every segmenter returns labels ``uint32`` numbered 1..n (0 = background) and one score per
label. AIS and AMG follow the server's ``AutoSegment`` path step by step (embeddings through the
cache with the same key, the model's tuned parameters with the caller's overrides), so a chunk
that is a whole plane gives exactly the labels ``AutoSegment`` gives for that plane.
``threshold`` (pixels above ``threshold`` -> connected components, then ``min_size``) needs no
model: a cheap, deterministic baseline that also exercises chunking and stitching.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InvalidInput
from .worker_models import EngineSettings, WorkerModel

OPERATIONS = ("ais", "amg", "threshold", "embed")
MODEL_OPERATIONS = ("ais", "amg", "embed")

Segmentation = tuple[np.ndarray, np.ndarray]  # labels (uint32 1..n), scores (n,)


def sequential(labels: np.ndarray, scores: dict[int, float]) -> Segmentation:
    """Relabel to 1..n in order of the old ids; scores follow (missing: 1.0)."""
    ids = np.unique(labels)
    ids = ids[ids != 0]
    lookup = np.zeros(int(labels.max()) + 1 if labels.size else 1, dtype=np.uint32)
    lookup[ids] = np.arange(1, len(ids) + 1, dtype=np.uint32)
    return lookup[labels], np.array([scores.get(int(i), 1.0) for i in ids], dtype=np.float32)


def check_threshold_params(params: dict) -> None:
    """InvalidInput unless ``threshold`` is given and only threshold/min_size are."""
    unknown = set(params) - {"threshold", "min_size"}
    if unknown:
        raise InvalidInput(f"unknown parameters for method 'threshold': {sorted(unknown)}")
    if "threshold" not in params:
        raise InvalidInput("method 'threshold' needs the parameter threshold (a pixel value)")
    if params.get("min_size", 0) < 0:
        raise InvalidInput("min_size must not be negative")


def threshold_segment(pixels: np.ndarray, params: dict) -> Segmentation:
    """Connected components (8-connected) of ``pixels > threshold``, objects under ``min_size`` dropped."""
    from skimage.measure import label

    labels = label(pixels > params["threshold"], connectivity=2).astype(np.uint32)
    min_size = int(params.get("min_size", 0))
    if min_size > 0:
        sizes = np.bincount(labels.ravel())
        small = np.flatnonzero(sizes < min_size)
        labels[np.isin(labels, small[small > 0])] = 0
    return sequential(labels, {})


def _embeddings(pixels: np.ndarray, worker: WorkerModel, settings: EngineSettings):
    from ..embeddings import compute_embeddings

    tile_shape, halo = worker.tiling(settings)
    model = worker.model
    key = worker.cache.key_for(pixels, model.model_hash, tile_shape, halo, settings.precision)
    return worker.cache.get_or_compute(
        key, lambda: compute_embeddings(model, pixels, tile_shape, halo, settings.precision,
                                        encoder=_encoder(model, settings)))


def _encoder(model: Any, settings: EngineSettings):
    """PyTorch's encoder, or for ``int8`` the OpenVINO one kept beside the shared embeddings folder."""
    if settings.precision != "int8":
        return None
    from ..embeddings import model_encoder
    from ..int8_encoder import encoders_directory, shared_encoders

    encoders = shared_encoders(encoders_directory(Path(settings.cache_dir).parent if settings.cache_dir else None))
    return model_encoder(model.sam, int8=lambda batch: encoders.get(model.sam, model.model_hash)(batch))


def model_params(method: str, model_name: str, params: dict):
    """The model's tuned AIS/AMG parameters with validated overrides (as the server's AutoSegment)."""
    import importlib

    try:
        settings = importlib.import_module("..automatic.settings", __package__)
    except ImportError:  # before the automatic package held its settings (they lived in the Workspace)
        settings = importlib.import_module("..workspace", __package__)
    ais_parameters, amg_parameters = settings.ais_parameters, settings.amg_parameters
    return ais_parameters(model_name, params) if method == "ais" else amg_parameters(model_name, params)


def ais_chunk(pixels: np.ndarray, params: dict, worker: WorkerModel, settings: EngineSettings) -> Segmentation:
    """AIS on the chunk's embeddings; score = mean foreground probability of the object."""
    from scipy import ndimage

    from ..automatic.ais import ais_segment, embeddings_ais_maps, prepare_smoothing

    settings_params = model_params("ais", worker.model.name, params)
    embeddings = _embeddings(pixels, worker, settings)
    maps = prepare_smoothing(embeddings_ais_maps(worker.ais_decoder(), embeddings), settings_params)
    labels = ais_segment(maps, settings_params)
    ids = np.unique(labels)
    ids = ids[ids != 0]
    means = ndimage.mean(maps.foreground, labels, ids) if ids.size else []
    return sequential(labels, {int(i): float(m) for i, m in zip(ids, means)})


def amg_chunk(pixels: np.ndarray, params: dict, worker: WorkerModel, settings: EngineSettings) -> Segmentation:
    """AMG on the chunk's embeddings; score = predicted IoU of the mask."""
    from ..automatic.amg import amg_segment, embeddings_amg_candidates

    amg = model_params("amg", worker.model.name, params)
    embeddings = _embeddings(pixels, worker, settings)
    candidates = embeddings_amg_candidates(worker.model.sam, embeddings, amg.points_per_side, amg.points_per_batch,
                                           amg.pred_iou_thresh)
    result = amg_segment(candidates, amg.filter)
    return sequential(result.labels, {i + 1: float(s) for i, s in enumerate(result.pred_iou)})


def embed_chunk(pixels: np.ndarray, params: dict, worker: WorkerModel, settings: EngineSettings) -> Segmentation:
    """Make sure the plane's embeddings are in the (shared) cache; no labels."""
    _embeddings(pixels, worker, settings)
    return np.zeros((0, 0), np.uint32), np.zeros(0, np.float32)


MODEL_SEGMENTERS: dict[str, Callable[..., Segmentation]] = {"ais": ais_chunk, "amg": amg_chunk, "embed": embed_chunk}
