"""Interactive segmentation of one object: accumulate its prompts, pick its window, decode.

micro_sam's iterative prompting decodes every correction with all prompts given so far plus the
previous low-res logits as the mask prompt. ``segment_object`` does the same from an object's
previous ``ObjectState``: the call's points are appended to the object's points, a new box
replaces the old one, a mask prompt replaces the previous logits. The window (``windows``) is
chosen from all of the object's prompts, so no click is ever dropped; when the window changes
between calls the previous mask is carried over as a mask prompt in the new window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import decoding as prompts
from ..embeddings import ImageEmbeddings
from ..errors import InvalidInput
from ..models import LoadedModel
from .objects import ObjectState
from ..tiling import Block, Tile
from .windows import ObjectPrompt, centred_window, choose_tile, describe, holds

WindowEmbeddingsFn = Callable[[Block], ImageEmbeddings]


@dataclass(frozen=True)
class SegmentResult:
    """Masks (K, H, W) bool, scores (K,), low-res logits (K, 256, 256) and the window used:
    ``window`` (y0, x0, y1, x1) in image pixels, ``tile_index`` its tile (-1: centred window)."""

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray
    window: Block
    tile_index: int


def object_prompt(points, point_labels, box, image_shape: tuple[int, int]) -> ObjectPrompt:
    """Validated prompts of one call (points (x, y), labels 1/0, box clipped to the image)."""
    coords = prompts.as_points(points, "points", image_shape)
    labels = prompts.as_labels(point_labels, len(coords))
    clipped = None if box is None else prompts.as_box(box, "box", image_shape)
    return ObjectPrompt(coords, labels, clipped)


def accumulate(previous: ObjectPrompt, new: ObjectPrompt) -> ObjectPrompt:
    """``previous`` with ``new``'s points appended and its box (if any) replacing the old box."""
    return ObjectPrompt(
        np.concatenate([previous.points, new.points]),
        np.concatenate([previous.labels, new.labels]),
        new.box if new.box is not None else previous.box,
    )


def segment_object(
    model: LoadedModel,
    embeddings: ImageEmbeddings,
    window_embeddings: WindowEmbeddingsFn,
    new: ObjectPrompt,
    mask: np.ndarray | None = None,
    multimask: bool = False,
    previous: ObjectState | None = None,
) -> tuple[SegmentResult, ObjectState]:
    """Decode one object from its previous state plus this call's prompts.

    Returns the result and the object's next state. ``window_embeddings(window)`` gives the
    embeddings of a centred window (computed once, then cached) when no tile holds the prompts.
    """
    previous = previous or ObjectState.empty()
    prompt = accumulate(previous.prompt, new)
    if prompt.is_empty and mask is None and previous.is_empty:
        raise InvalidInput("no prompt given: send points, a box or a mask")
    view, tile_index, window = _window(embeddings, window_embeddings, prompt, mask, previous)
    tile = view.grid.tiles[tile_index if tile_index >= 0 else 0]
    logits = _mask_prompt(view, tile, mask, previous, window, embeddings.image_shape)
    result = prompts.decode(
        model, view, points=prompt.points if len(prompt.points) else None,
        point_labels=prompt.labels if len(prompt.points) else None, box=prompt.box, mask_logits=logits,
        multimask=multimask, tile_index=tile.index,
    )
    best = int(np.argmax(result.scores))
    state = ObjectState.decoded(prompt, result.logits[best], window, tile_index, result.masks[best],
                                float(result.scores[best]))
    return SegmentResult(result.masks, result.scores, result.logits, window, tile_index), state


def _window(embeddings: ImageEmbeddings, window_embeddings: WindowEmbeddingsFn, prompt: ObjectPrompt,
            mask: np.ndarray | None, previous: ObjectState) -> tuple[ImageEmbeddings, int, Block]:
    """(embeddings to decode on, tile index in the request's grid or -1, window box)."""
    grid = embeddings.grid
    if prompt.is_empty:
        if mask is not None:
            tile = grid.best_tile(_mask_extent(mask))
            return embeddings, tile.index, tile.outer
        if previous.tile_index >= 0:
            return embeddings, previous.tile_index, grid.tiles[previous.tile_index].outer
        return window_embeddings(previous.window), -1, previous.window
    tile = choose_tile(grid, prompt)
    if tile is not None:
        return embeddings, tile.index, tile.outer
    window = centred_window(grid, prompt)
    if not holds(window, prompt):
        raise InvalidInput(f"no window at this tiling holds all prompts of the object: {describe(prompt)}")
    return window_embeddings(window), -1, window


def _mask_prompt(view: ImageEmbeddings, tile: Tile, mask: np.ndarray | None, previous: ObjectState, window: Block,
                 image_shape: tuple[int, int]) -> np.ndarray | None:
    """The mask prompt: a given mask, else the previous logits (re-derived from the previous mask
    when the window moved), else none."""
    if mask is not None:
        if mask.shape != tuple(image_shape):
            raise InvalidInput(f"mask prompt has shape {mask.shape} but the image plane is {tuple(image_shape)}")
        if not mask.any():
            raise InvalidInput("mask prompt is empty")
        return prompts.logits_from_mask(mask[tile.outer_slices()])
    if previous.is_empty:
        return None
    if previous.window == window:
        return previous.logits
    return prompts.logits_from_mask(previous.mask(image_shape)[tile.outer_slices()])


def _mask_extent(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise InvalidInput("mask prompt is empty")
    return np.array([[ys.min(), xs.min()], [ys.max(), xs.max()]], dtype=np.float64)
