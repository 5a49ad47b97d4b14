"""Many objects in one call: each object's tile, decoding in batches per tile, painting into labels.

Every object is decoded as ``decoding.decode`` would decode it alone; objects that share a tile
share one pass of the image side of the mask decoder (``shared_decoder``). Negative points are
shared by all objects and dropped per object where they fall outside its tile (micro_sam's rule).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from segment_anything.modeling import Sam

from ..callbacks import raise_if_cancelled
from ..embeddings import ImageEmbeddings
from ..models import LoadedModel, sam_of
from .shared_decoder import (
    SharedImage,
    default_batch_size,
    shared_image,
)
from .windows import ObjectPrompt

from .decoding import (
    DecodeResult,
    TilePrompt,
    as_box,
    as_points,
    box_in_tile,
    is_lone_positive_point,
    points_in_tile,
    run_decoder,
    to_results,
)


def _plan_objects(embeddings: ImageEmbeddings, points, boxes, negative_points):
    """Validate many-object prompts and group them by (tile, prompt structure).

    Returns (groups {(tile index, structure): [(object index, tile prompt)]}, shared negatives each
    object's tile does not hold, number of objects). Order: point objects first, then boxes.
    """
    shape = embeddings.image_shape
    positives = as_points(points, "points", shape)
    negatives = as_points(negative_points, "negative_points", shape)
    box_list = [] if boxes is None else list(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    box_list = [as_box(b, f"boxes[{i}]", shape) for i, b in enumerate(box_list)]
    objects: list[tuple[np.ndarray | None, np.ndarray | None]] = [(p[None], None) for p in positives]
    objects += [(None, b) for b in box_list]
    groups: dict[tuple[int, str], list[tuple[int, TilePrompt]]] = {}
    dropped = [0] * len(objects)
    for index, (pos, obj_box) in enumerate(objects):
        pos = np.zeros((0, 2)) if pos is None else pos
        tile = embeddings.grid.best_tile(ObjectPrompt(pos, np.ones(len(pos)), obj_box).locating_yx())
        local_pos, _ = points_in_tile(pos, np.ones(len(pos), dtype=np.int64), tile)
        local_neg, _ = points_in_tile(negatives, np.zeros(len(negatives), dtype=np.int64), tile)
        dropped[index] = len(negatives) - len(local_neg)
        coords = np.concatenate([local_pos, local_neg])
        labels = np.concatenate([np.ones(len(local_pos)), np.zeros(len(local_neg))]).astype(np.int64)
        prompt = TilePrompt(
            coords=coords if len(coords) else None,
            labels=labels if len(coords) else None,
            box=None if obj_box is None else box_in_tile(obj_box, tile),
        )
        # Objects in one decoder call must share prompt structure (point count, box or not).
        structure = f"{0 if prompt.coords is None else len(prompt.coords)}-{prompt.box is not None}"
        groups.setdefault((tile.index, structure), []).append((index, prompt))
    return groups, dropped, len(objects)


def _decoded_chunks(sam: Sam, embeddings: ImageEmbeddings, groups, batch_size: int):
    """Decode planned objects chunk by chunk: yields (object indices, tile, tile-local masks
    (B, K, h, w), scores (B, K), low-res logits (B, K, 256, 256)); one chunk in memory at a time."""
    shared: dict[int, SharedImage | None] = {}  # image-side decoder work, once per tile
    for (tile_index, _), members in groups.items():
        tile = embeddings.grid.tiles[tile_index]
        if tile_index not in shared:
            shared[tile_index] = shared_image(sam, embeddings.tile_features(tile_index))
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            prompts = [prompt for _, prompt in chunk]
            use_best = is_lone_positive_point(prompts[0], False)
            masks, scores, low_res = run_decoder(sam, embeddings, tile, prompts, None, use_best, keep_best=use_best,
                                                  shared=shared[tile_index])
            yield [index for index, _ in chunk], tile, masks, scores, low_res


def decode_objects(
    model: LoadedModel | Sam,
    embeddings: ImageEmbeddings,
    points: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    negative_points: np.ndarray | None = None,
    batch_size: int | None = None,
) -> list[DecodeResult]:
    """Segment many objects at once: every positive point and every box is its own object, and
    all negative points are added to every object (those outside an object's tile are dropped).

    Objects are batched through the decoder per tile (default batch: 64 on a GPU, 1 on CPU) and
    share the tile's image-side decoder work;
    result i is the same as ``decode(points=[p_i] + negatives, ...)`` / ``decode(box=b_i, points=negatives, ...)``.
    Order: point objects first, then box objects. Every result holds full-image masks: for many
    objects on a large image use ``paint_objects``.
    """
    sam = sam_of(model)
    groups, dropped, n_objects = _plan_objects(embeddings, points, boxes, negative_points)
    results: list[DecodeResult | None] = [None] * n_objects
    for indices, tile, masks, scores, low_res in _decoded_chunks(sam, embeddings, groups,
                                                                   batch_size or default_batch_size(sam)):
        for index, result in zip(indices, to_results(embeddings, tile, masks, scores, low_res)):
            result.dropped_points = dropped[index]
            results[index] = result
    return [result for result in results if result is not None]


def paint_objects(
    model: LoadedModel | Sam,
    embeddings: ImageEmbeddings,
    points: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    negative_points: np.ndarray | None = None,
    batch_size: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, dict[int, float], int]:
    """``paint_labels(decode_objects(...))`` in O(image + batch) memory: each chunk's best masks
    are painted as they are decoded (higher score wins overlaps; ties: the later object).

    Returns the uint32 labels, {label: best score} and how many objects missed a shared negative.
    Cancelled between chunks once ``cancelled()`` is True.
    """
    sam = sam_of(model)
    groups, dropped, _ = _plan_objects(embeddings, points, boxes, negative_points)
    labels = np.zeros(embeddings.image_shape, dtype=np.uint32)
    best = np.full(embeddings.image_shape, -np.inf, dtype=np.float32)
    scores_of: dict[int, float] = {}
    for indices, tile, masks, scores, _ in _decoded_chunks(sam, embeddings, groups,
                                                           batch_size or default_batch_size(sam)):
        raise_if_cancelled(cancelled, "the call was cancelled while its objects were decoded")
        region = tile.outer_slices()
        tile_labels, tile_best = labels[region], best[region]  # views: painting writes through
        scores_np = scores.float().cpu().numpy()
        for row, index in enumerate(indices):
            k = int(scores_np[row].argmax())
            score = np.float32(scores_np[row, k])
            mask = masks[row, k].cpu().numpy()
            wins = mask & ((score > tile_best) | ((score == tile_best) & (tile_labels < index + 1)))
            tile_labels[wins], tile_best[wins] = index + 1, score
            scores_of[index + 1] = float(score)
    return labels, scores_of, sum(1 for count in dropped if count)


def paint_labels(results: list[DecodeResult], image_shape: tuple[int, int]) -> np.ndarray:
    """uint32 label image, object i -> label i + 1 (its best mask).

    Overlap rule: where objects overlap the one with the higher score wins (ties: later object).
    """
    labels = np.zeros(tuple(image_shape), dtype=np.uint32)
    best_scores = [float(result.scores.max()) if len(result.scores) else -np.inf for result in results]
    for index in np.argsort(best_scores, kind="stable"):
        result = results[index]
        labels[result.masks[int(result.scores.argmax())]] = index + 1
    return labels
