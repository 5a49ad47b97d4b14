"""Interactive segmentation of one object with a SAM2 model: object handles' accumulated prompts.

The same semantics as SAM1's ``prompts.interactive.segment_object``: the call's points are
appended to the object's points, a new box replaces the old one, and the object is decoded with
all of them plus the previous low-resolution logits as the mask prompt (a mask given in the call
replaces those logits). Decoding is ``decoding.decode_prompts``'s, so a call through a handle
equals one call with every prompt so far and the previous logits.

Each object is decoded in the tile that holds all its prompts (``TileGrid.best_tile``, as
``decode_prompts`` chooses). When that tile changes between calls (tiled features only), the
previous logits belong to another tile's frame, so the previous mask, cut to the new tile, is
turned into logits instead, as SAM1 handles do when their window moves.

A mask prompt is either a bool mask of the image's shape (what the wire carries) or (256, 256)
low-resolution logits of an earlier result of the same tile.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InvalidInput
from ..prompts.interactive import SegmentResult, accumulate
from ..prompts.objects import ObjectState
from ..prompts.windows import ObjectPrompt
from ..tiling import Tile
from .decoding import LOW_RES, Sam2Prompt, decode_prompts
from .features import Sam2Features

_MASK_EPS = 1e-3  # a binary mask becomes +-logit(1 - 1e-3), as SAM1's prompts.decoding.logits_from_mask


def logits_from_mask(mask: np.ndarray) -> np.ndarray:
    """Binary mask (h, w) in tile pixels -> (256, 256) mask-prompt logits in SAM2's frame.

    SAM2 resizes every tile to the square model input without keeping its aspect ratio, so the
    low-resolution frame is the whole tile stretched to 256 x 256 (no padding, unlike SAM1).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise InvalidInput(f"mask must be a non-empty 2D array, got shape {mask.shape}")
    binary = torch.from_numpy(mask.astype(bool).astype(np.float32))[None, None]
    if mask.shape != (LOW_RES, LOW_RES):
        binary = F.interpolate(binary, (LOW_RES, LOW_RES), mode="bilinear", align_corners=False, antialias=True)
    logit = float(np.log((1 - _MASK_EPS) / _MASK_EPS))
    return np.where(binary[0, 0].numpy() > 0.5, logit, -logit).astype(np.float32)


def segment_object(model: Any, features: Sam2Features, new: ObjectPrompt, mask: np.ndarray | None = None,
                   multimask: bool = False, previous: ObjectState | None = None
                   ) -> tuple[SegmentResult, ObjectState]:
    """Decode one object from its previous state plus this call's prompts (see the module doc).

    ``new`` holds the call's validated points and box (``prompts.interactive.object_prompt``).
    Returns the result (masks in whole-image pixels, the tile decoded in as the window) and the
    object's next state.
    """
    previous = previous or ObjectState.empty()
    prompt = accumulate(previous.prompt, new)
    if prompt.is_empty and mask is None and previous.is_empty:
        raise InvalidInput("no prompt given: send points, a box or a mask")
    tile = _tile(features, prompt, mask, previous)
    logits = _mask_prompt(features, tile, mask, previous)
    has_points = len(prompt.points) > 0
    sam2_prompt = Sam2Prompt(points=prompt.points if has_points else None,
                             labels=prompt.labels if has_points else None,
                             box=None if prompt.box is None else np.asarray(prompt.box, dtype=float),
                             mask_logits=logits)
    result = decode_prompts(model, features, [sam2_prompt], multimask=multimask, tiles=[tile.index])
    masks, scores, low_res = result.masks[0], result.scores[0], result.low_res_logits[0]
    best = int(np.argmax(scores))
    state = ObjectState.decoded(prompt, low_res[best], tile.outer, tile.index, masks[best], float(scores[best]))
    return SegmentResult(masks, scores, low_res, tile.outer, tile.index), state


def _tile(features: Sam2Features, prompt: ObjectPrompt, mask: np.ndarray | None, previous: ObjectState) -> Tile:
    """The tile holding the object's prompts, else the given binary mask's, else the previous one's."""
    grid = features.grid
    extent = Sam2Prompt(points=prompt.points, labels=prompt.labels, box=prompt.box).extent_yx()
    if len(extent):
        return grid.best_tile(extent)
    if mask is not None and _is_binary(mask, features):
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            raise InvalidInput("mask prompt is empty")
        return grid.best_tile(np.array([[ys.min(), xs.min()], [ys.max(), xs.max()]], dtype=np.float64))
    return grid.tiles[max(previous.tile_index, 0)]


def _is_binary(mask: np.ndarray, features: Sam2Features) -> bool:
    """True for a bool mask of the image's shape (as opposed to low-resolution logits)."""
    array = np.asarray(mask)
    return array.dtype == bool and array.shape == tuple(features.image_shape)


def _mask_prompt(features: Sam2Features, tile: Tile, mask: np.ndarray | None, previous: ObjectState
                 ) -> np.ndarray | None:
    """The call's mask as logits, else the previous logits (re-derived from the previous mask when
    the tile changed), else none."""
    if mask is not None:
        if _is_binary(mask, features):
            if not np.asarray(mask).any():
                raise InvalidInput("mask prompt is empty")
            return logits_from_mask(np.asarray(mask)[tile.outer_slices()])
        if np.asarray(mask).shape != (LOW_RES, LOW_RES):
            raise InvalidInput(f"a SAM2 mask prompt is a bool mask of the image's shape "
                               f"{tuple(features.image_shape)} or the ({LOW_RES}, {LOW_RES}) logits of an "
                               f"earlier result, got shape {np.asarray(mask).shape}")
        return np.asarray(mask, dtype=np.float32)
    if previous.is_empty:
        return None
    if previous.tile_index == tile.index:
        return previous.logits
    return logits_from_mask(previous.mask(features.image_shape)[tile.outer_slices()])
