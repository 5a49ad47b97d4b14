"""Prompt decoding on precomputed ``ImageEmbeddings`` (points, boxes, mask logits).

One convention everywhere: points are ``(x, y)`` and boxes ``(x0, y0, x1, y1)`` in pixels of the
original image (micro_sam mixes (y, x) and (x, y)). Results match micro_sam's
``segment_from_points`` / ``segment_from_box`` / ``segment_from_box_and_points`` /
``segment_from_mask`` on identical weights:

* a lone positive point is decoded multimask and the best-scoring mask is kept (micro_sam's
  ``use_best_multimask``); every other prompt is decoded single-mask unless ``multimask``;
* boxes are clipped to the image (tile) and rounded to whole pixels, as micro_sam does;
* tiled embeddings: the prompt goes to the tile whose inner block holds its centre (micro_sam)
  when that tile holds every point and the box; otherwise to the tile nearest that centre that
  holds them all (``windows.choose_tile``). ``decode`` never drops a point: prompts that no tile
  holds raise InvalidInput naming them (the Workspace then decodes them in a window centred on
  them). ``drop_outside=True`` restores micro_sam's rule (points outside the tile are dropped);
  ``decode_objects`` applies it to the negatives shared by all objects. Masks come back in
  full-image coordinates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from segment_anything.utils.transforms import ResizeLongestSide

from ..embeddings import ImageEmbeddings
from ..errors import InvalidInput
from ..models import LoadedModel, sam_of
from .shared_decoder import (
    SharedImage,
    predict_masks,
    shared_image,
    sparse_embeddings,
)
from ..tiling import BoxXYXY, Tile
from .upsampling import threshold_low_res
from .windows import ObjectPrompt, choose_tile, describe, holds, outside

_LOG = logging.getLogger(__name__)
LOW_RES = 256
_MASK_EPS = 1e-3


@dataclass
class DecodeResult:
    """Masks (K, H, W) bool in full-image pixels, scores (K,), low-res logits (K, 256, 256).

    ``logits`` live in the frame of tile ``tile_index`` and can be fed back as ``mask_logits``
    (with the same ``tile_index``) for iterative refinement.
    """

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray
    tile_index: int = 0
    dropped_points: int = 0  # shared negatives outside the object's tile (decode_objects)


@dataclass
class TilePrompt:
    """One object's prompt in the coordinates of the tile it is decoded on."""

    coords: np.ndarray | None  # (N, 2) x, y in tile pixels
    labels: np.ndarray | None  # (N,)
    box: BoxXYXY | None  # (4,) x0, y0, x1, y1 in tile pixels, rounded


# ---------------------------------------------------------------- validation


def as_points(points: np.ndarray | None, name: str, shape: tuple[int, int]) -> np.ndarray:
    """(N, 2) float (x, y) points inside an image of ``shape``; InvalidInput names the bad one."""
    if points is None:
        return np.zeros((0, 2), dtype=np.float64)
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if array.ndim == 1 and array.shape[0] == 2:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 2:
        raise InvalidInput(f"{name} must have shape (N, 2) as (x, y), got {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidInput(f"{name} contains NaN or infinite coordinates")
    height, width = shape
    for i, (x, y) in enumerate(array):
        if not (0 <= x < width and 0 <= y < height):
            raise InvalidInput(
                f"{name}[{i}] = (x={x:g}, y={y:g}) lies outside the image (width {width}, height {height})"
            )
    return array


def as_labels(labels: np.ndarray | None, n_points: int) -> np.ndarray:
    """(N,) int64 point labels, 1 positive / 0 negative (default: all positive)."""
    if labels is None:
        return np.ones(n_points, dtype=np.int64)
    array = np.asarray(labels).reshape(-1)
    if array.shape[0] != n_points:
        raise InvalidInput(f"point_labels has {array.shape[0]} entries for {n_points} points")
    if not np.isin(array, (0, 1)).all():
        raise InvalidInput("point_labels must be 1 (positive) or 0 (negative)")
    return array.astype(np.int64)


def as_box(box: BoxXYXY, name: str, shape: tuple[int, int]) -> BoxXYXY:
    """A finite, non-empty (x0, y0, x1, y1) box overlapping the image, clipped to it."""
    array = np.asarray(box, dtype=np.float64).reshape(-1)
    if array.shape[0] != 4 or not np.isfinite(array).all():
        raise InvalidInput(f"{name} must be 4 finite numbers (x0, y0, x1, y1), got {np.asarray(box).tolist()}")
    x0, y0, x1, y1 = array
    if x1 <= x0 or y1 <= y0:
        raise InvalidInput(f"{name} = {array.tolist()} is empty: need x0 < x1 and y0 < y1")
    height, width = shape
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise InvalidInput(f"{name} = {array.tolist()} lies outside the image (width {width}, height {height})")
    # Boxes overlapping the border are clipped, as micro_sam does.
    return np.array([max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)])


def _as_mask_logits(mask_logits: np.ndarray) -> np.ndarray:
    array = np.asarray(mask_logits, dtype=np.float32)
    if array.shape == (1, LOW_RES, LOW_RES):
        array = array[0]
    if array.shape != (LOW_RES, LOW_RES):
        raise InvalidInput(f"mask_logits must have shape (256, 256), got {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidInput("mask_logits contains NaN or infinite values")
    return array


# ---------------------------------------------------------------- tile mapping


def points_in_tile(coords: np.ndarray, labels: np.ndarray, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """Shift (x, y) points into the tile and drop those outside it (micro_sam's rule)."""
    oy, ox = tile.offset
    height, width = tile.shape
    local = coords - np.array([ox, oy], dtype=np.float64)
    inside = (local >= 0).all(axis=1) & (local[:, 0] < width) & (local[:, 1] < height)
    if not inside.all():
        _LOG.debug("%d prompt point(s) outside tile %d were dropped", int((~inside).sum()), tile.index)
    return local[inside], labels[inside]


def box_in_tile(box: BoxXYXY, tile: Tile) -> BoxXYXY:
    """Shift a clipped (x0, y0, x1, y1) box into the tile, clip to it and round (micro_sam)."""
    oy, ox = tile.offset
    height, width = tile.shape
    local = box - np.array([ox, oy, ox, oy], dtype=np.float64)
    local = np.array([max(local[0], 0), max(local[1], 0), min(local[2], width), min(local[3], height)])
    return np.round(local).astype(np.int64)


# ---------------------------------------------------------------- decoder


def run_decoder(
    sam: Sam,
    embeddings: ImageEmbeddings,
    tile: Tile,
    prompts: list[TilePrompt],
    mask_logits: np.ndarray | None,
    multimask: bool,
    keep_best: bool = False,
    shared: SharedImage | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decode a batch of same-structured prompts on one tile -> (masks, scores, low-res logits).

    ``keep_best`` keeps only the best-scoring output per prompt, chosen before upsampling
    (micro_sam upsamples all three and then picks; the kept mask is the same). With ``shared``
    (the tile's image-side tensors) the decoder runs through ``shared_decoder``.
    """
    transform = ResizeLongestSide(sam.image_encoder.img_size)
    device = sam.device
    original_size = tile.shape
    input_size = embeddings.input_sizes[tile.index]
    points = None
    if prompts[0].coords is not None:
        coords = np.stack([transform.apply_coords(p.coords, original_size) for p in prompts])
        labels = np.stack([p.labels for p in prompts])
        points = (
            torch.as_tensor(coords, dtype=torch.float, device=device),
            torch.as_tensor(labels, dtype=torch.int, device=device),
        )
    boxes = None
    if prompts[0].box is not None:
        stacked = np.stack([transform.apply_boxes(p.box[None], original_size)[0] for p in prompts])
        boxes = torch.as_tensor(stacked, dtype=torch.float, device=device)
    masks_in = None
    if mask_logits is not None:
        masks_in = torch.as_tensor(mask_logits, dtype=torch.float, device=device)[None, None]
    if shared is None:
        shared = shared_image(sam, embeddings.tile_features(tile.index))
    with torch.inference_mode():
        if shared is not None:
            sparse = sparse_embeddings(sam, points, boxes, len(prompts))
            low_res, scores = predict_masks(sam, shared, sparse, masks_in, multimask)
        else:
            features = torch.from_numpy(embeddings.tile_features(tile.index)).to(device)
            sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=masks_in)
            low_res, scores = sam.mask_decoder(
                image_embeddings=features,
                image_pe=sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
            )
        if keep_best:
            low_res, scores = _pick_best(low_res, scores)
        masks = threshold_low_res(sam, low_res, input_size, original_size)
    return masks, scores, low_res


def is_lone_positive_point(prompt: TilePrompt, has_mask: bool) -> bool:
    """True for one positive point without box or mask: decoded multimask, best kept (micro_sam)."""
    return (
        not has_mask
        and prompt.box is None
        and prompt.coords is not None
        and len(prompt.coords) == 1
        and int(prompt.labels[0]) == 1
    )


def _pick_best(low_res: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the best-scoring of the multimask outputs of every prompt."""
    best = scores.argmax(dim=1)
    rows = torch.arange(scores.shape[0])
    return low_res[rows, best][:, None], scores[rows, best][:, None]


def to_results(embeddings, tile, masks, scores, low_res) -> list[DecodeResult]:
    """Per-prompt results with tile masks pasted into full-image coordinates."""
    grid = embeddings.grid
    return [
        DecodeResult(
            masks=grid.paste(masks[i].cpu().numpy(), tile),
            scores=scores[i].float().cpu().numpy(),
            logits=low_res[i].float().cpu().numpy(),
            tile_index=tile.index,
        )
        for i in range(masks.shape[0])
    ]


def decode(
    model: LoadedModel | Sam,
    embeddings: ImageEmbeddings,
    points: np.ndarray | None = None,
    point_labels: np.ndarray | None = None,
    box: BoxXYXY | None = None,
    mask_logits: np.ndarray | None = None,
    multimask: bool = False,
    tile_index: int | None = None,
    drop_outside: bool = False,
) -> DecodeResult:
    """Segment one object from points (N, 2) (x, y) with labels, a box (x0, y0, x1, y1) and/or
    previous low-res mask logits (256, 256).

    Returns K=1 mask (K=3 with ``multimask``; then the best is ``scores.argmax()``). On tiled
    embeddings ``tile_index`` forces the tile (needed when only ``mask_logits`` is given). Points
    or a box outside the tile raise InvalidInput naming them, unless ``drop_outside`` (micro_sam's
    rule: such points are dropped, the box clipped).
    """
    sam = sam_of(model)
    shape = embeddings.image_shape
    coords = as_points(points, "points", shape)
    labels = as_labels(point_labels, len(coords))
    clipped_box = None if box is None else as_box(box, "box", shape)
    logits_in = None if mask_logits is None else _as_mask_logits(mask_logits)
    if len(coords) == 0 and clipped_box is None and logits_in is None:
        raise InvalidInput("no prompt given: pass points, a box or mask_logits")
    whole = ObjectPrompt(coords, labels, clipped_box)
    tile = choose_object_tile(embeddings, whole, tile_index, drop_outside)
    if not drop_outside and not holds(tile.outer, whole):
        raise InvalidInput(f"prompts outside the decoding window (tile {tile.index}, y0 x0 y1 x1 = "
                           f"{tile.outer}): {outside(tile.outer, whole)}")
    local_coords, local_labels = points_in_tile(coords, labels, tile)
    if len(local_coords) == 0 and clipped_box is None and logits_in is None:
        raise InvalidInput(f"all points lie outside tile {tile.index}; nothing left to decode")
    prompt = TilePrompt(
        coords=local_coords if len(local_coords) else None,
        labels=local_labels if len(local_coords) else None,
        box=None if clipped_box is None else box_in_tile(clipped_box, tile),
    )
    use_best = not multimask and is_lone_positive_point(prompt, logits_in is not None)
    masks, scores, low_res = run_decoder(
        sam, embeddings, tile, [prompt], logits_in, multimask or use_best, keep_best=use_best
    )
    return to_results(embeddings, tile, masks, scores, low_res)[0]


def choose_object_tile(embeddings: ImageEmbeddings, prompt: ObjectPrompt, tile_index: int | None,
                       drop_outside: bool) -> Tile:
    """The tile that decodes ``prompt``: ``tile_index`` if given, else micro_sam's tile or the nearest holding it."""
    grid = embeddings.grid
    if tile_index is not None:
        if not 0 <= tile_index < len(grid.tiles):
            raise InvalidInput(f"tile_index {tile_index} out of range (0..{len(grid.tiles) - 1})")
        return grid.tiles[tile_index]
    if prompt.is_empty:
        if grid.is_tiled:
            raise InvalidInput("a mask-only prompt on tiled embeddings needs tile_index")
        return grid.tiles[0]
    if drop_outside:
        return grid.best_tile(prompt.locating_yx())
    tile = choose_tile(grid, prompt)
    if tile is None:
        raise InvalidInput(f"no tile holds all prompts of the object: {describe(prompt)}")
    return tile


def logits_from_mask(mask: np.ndarray, input_size: tuple[int, int] | None = None) -> np.ndarray:
    """Binary mask (h, w) in tile pixels -> (256, 256) mask-prompt logits (+-logit(1 - 1e-3)).

    The mask is resized into the low-res frame the decoder uses (longest side 256, zero padded),
    then re-binarised. micro_sam's ``_compute_logits_from_mask`` stretches non-square masks to
    256x256 (its resize reads the batch dims as the image size); for square tiles both agree.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise InvalidInput(f"mask must be a non-empty 2D array, got shape {mask.shape}")
    height, width = mask.shape
    scale = LOW_RES / max(height, width)
    target = (int(height * scale + 0.5), int(width * scale + 0.5))
    binary = torch.from_numpy((mask == 1).astype(np.float32))[None, None]
    if target != (height, width):
        binary = F.interpolate(binary, target, mode="bilinear", align_corners=False, antialias=True)
    frame = np.zeros((LOW_RES, LOW_RES), dtype=np.float32)
    frame[: target[0], : target[1]] = binary[0, 0].numpy()
    logit = float(np.log((1 - _MASK_EPS) / _MASK_EPS))
    return np.where(frame > 0.5, logit, -logit).astype(np.float32)
