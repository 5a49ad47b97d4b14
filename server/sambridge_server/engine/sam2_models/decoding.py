"""Prompt decoding with SAM2 models: points, boxes, mask logits, multimask, many objects per call.

The arithmetic is ``SAM2ImagePredictor.predict``'s: coordinates are scaled from tile pixels to
the square 1024 input, a box becomes two points labelled 2 and 3 placed before the object's
points, the decoder gets the high-resolution maps, and the 256 x 256 logits are upsampled
bilinearly to the tile and thresholded at 0. Objects with the same prompt layout (number of
points, box or not) are decoded together in one batched decoder call, as
``SAM2ImagePredictor`` does for a batch of boxes; an object with a mask prompt is decoded alone.

Conventions: points (x, y), boxes (x0, y0, x1, y1), in pixels of the whole image; with tiled
features each object is decoded in the tile that holds its prompt (``TileGrid.best_tile``) and
its mask pasted back into the whole image.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InvalidInput
from .features import Sam2Features, decoder_inputs
from .loading import LoadedSam2

LOW_RES = 256  # side of the decoder's mask logits


@dataclass(frozen=True)
class Sam2Prompt:
    """The prompt of one object: points with labels (1 positive, 0 negative), a box, mask logits.

    ``mask_logits`` is a (256, 256) low-resolution logit map from an earlier decoding of the same
    tile (``Sam2Masks.low_res_logits``), as SAM2's ``mask_input``.
    """

    points: np.ndarray | None = None  # (N, 2) x, y
    labels: np.ndarray | None = None  # (N,)
    box: np.ndarray | None = None  # (4,) x0, y0, x1, y1
    mask_logits: np.ndarray | None = None  # (256, 256)

    def extent_yx(self) -> np.ndarray:
        """(K, 2) (y, x) points spanning the prompt (for choosing a tile)."""
        parts = []
        if self.points is not None and len(self.points):
            parts.append(np.asarray(self.points, dtype=np.float64)[:, ::-1])
        if self.box is not None:
            x0, y0, x1, y1 = np.asarray(self.box, dtype=np.float64)
            parts.append(np.array([[y0, x0], [y1, x1]]))
        return np.concatenate(parts) if parts else np.zeros((0, 2))


@dataclass
class Sam2Masks:
    """Decoded masks of n objects with C masks each (C = 3 with multimask, else 1)."""

    masks: np.ndarray  # (n, C, H, W) bool, whole image
    scores: np.ndarray  # (n, C) predicted IoU
    low_res_logits: np.ndarray  # (n, C, 256, 256), clamped to [-32, 32]
    tiles: np.ndarray  # (n,) tile index each object was decoded in


def check_prompt(prompt: Sam2Prompt, image_shape: tuple[int, int]) -> Sam2Prompt:
    """Validated copy of ``prompt`` (float arrays, shapes, finite values); InvalidInput otherwise."""
    points = labels = box = mask = None
    if (prompt.points is None) != (prompt.labels is None):
        raise InvalidInput("points and labels must be given together")
    if prompt.points is not None:
        points = np.asarray(prompt.points, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(prompt.labels, dtype=np.int64).reshape(-1)
        if len(points) != len(labels):
            raise InvalidInput(f"{len(points)} points but {len(labels)} labels")
        if not np.isin(labels, (0, 1)).all():
            raise InvalidInput("point labels must be 1 (positive) or 0 (negative)")
        if len(points) == 0:
            points = labels = None
    if prompt.box is not None:
        box = np.asarray(prompt.box, dtype=np.float64).reshape(-1)
        if box.shape != (4,) or box[2] < box[0] or box[3] < box[1]:
            raise InvalidInput(f"a box is (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1, got {box.tolist()}")
    if prompt.mask_logits is not None:
        mask = np.asarray(prompt.mask_logits, dtype=np.float32)
        if mask.shape != (LOW_RES, LOW_RES):
            raise InvalidInput(f"mask_logits must be ({LOW_RES}, {LOW_RES}) low-resolution logits, got {mask.shape}")
    if points is None and box is None and mask is None:
        raise InvalidInput("an object needs at least one point, a box or mask logits")
    for name, value in (("points", points), ("box", box), ("mask_logits", mask)):
        if value is not None and not np.isfinite(value).all():
            raise InvalidInput(f"{name} contain NaN or infinite values")
    return Sam2Prompt(points, labels, box, mask)


def _layout(prompt: Sam2Prompt) -> tuple:
    """Objects with the same layout can share one batched decoder call."""
    n_points = 0 if prompt.points is None else len(prompt.points)
    return (prompt.box is not None, n_points, prompt.mask_logits is not None)


def _point_tensors(prompts: Sequence[Sam2Prompt], offset_yx: tuple[int, int], tile_hw: tuple[int, int],
                   image_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(B, K, 2) coordinates at the model's input scale and (B, K) labels; boxes first as labels 2, 3."""
    coords, labels = [], []
    for prompt in prompts:
        rows, row_labels = [], []
        if prompt.box is not None:
            rows.append(np.asarray(prompt.box, dtype=np.float64).reshape(2, 2))
            row_labels.append(np.array([2, 3]))
        if prompt.points is not None:
            rows.append(np.asarray(prompt.points, dtype=np.float64))
            row_labels.append(np.asarray(prompt.labels))
        if not rows:
            return None
        coords.append(np.concatenate(rows) - np.array([offset_yx[1], offset_yx[0]]))
        labels.append(np.concatenate(row_labels))
    # SAM2Transforms.transform_coords: divide by (w, h), then multiply by the input size, in float32.
    xy = torch.as_tensor(np.stack(coords), dtype=torch.float, device=device).clone()
    xy[..., 0] = xy[..., 0] / tile_hw[1]
    xy[..., 1] = xy[..., 1] / tile_hw[0]
    return xy * image_size, torch.as_tensor(np.stack(labels), dtype=torch.int, device=device)


def _decode_group(net: Any, features: Sam2Features, tile_index: int, prompts: Sequence[Sam2Prompt],
                  multimask: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batched decoder call for prompts of one layout in one tile -> (masks, scores, low-res logits)."""
    device = net.device
    tile = features.grid.tiles[tile_index]
    tile_hw = features.original_sizes[tile_index]
    points = _point_tensors(prompts, tile.offset, tile_hw, net.image_size, device)
    mask_input = None
    if prompts[0].mask_logits is not None:
        mask_input = torch.as_tensor(np.stack([p.mask_logits for p in prompts])[:, None], device=device)
    image_embed, high_res = decoder_inputs(net, features, tile_index)
    with torch.inference_mode():
        sparse, dense = net.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
        low_res, scores, _, _ = net.sam_mask_decoder(
            image_embeddings=image_embed,
            image_pe=net.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=points is not None and points[0].shape[0] > 1,
            high_res_features=high_res,
        )
        masks = F.interpolate(low_res.float(), tile_hw, mode="bilinear", align_corners=False) > 0.0
        low_res = torch.clamp(low_res, -32.0, 32.0)
    return masks.cpu().numpy(), scores.float().cpu().numpy(), low_res.float().cpu().numpy()


def decode_prompts(
    model: LoadedSam2 | Any,
    features: Sam2Features,
    prompts: Sequence[Sam2Prompt],
    multimask: bool = False,
    tiles: Sequence[int] | None = None,
) -> Sam2Masks:
    """Masks for every object's prompt (see the module doc); objects keep their order.

    ``tiles`` gives the tile each object is decoded in (default: the tile holding its prompt, or
    the first tile for an object with mask logits only).
    """
    net = model.model if isinstance(model, LoadedSam2) else model
    if not prompts:
        raise InvalidInput("no objects to decode")
    checked = [check_prompt(prompt, features.image_shape) for prompt in prompts]
    if tiles is not None and len(tiles) != len(checked):
        raise InvalidInput(f"{len(checked)} objects but {len(tiles)} tiles")
    n_masks = 3 if multimask else 1
    height, width = features.image_shape
    masks = np.zeros((len(checked), n_masks, height, width), dtype=bool)
    scores = np.zeros((len(checked), n_masks), dtype=np.float32)
    logits = np.zeros((len(checked), n_masks, LOW_RES, LOW_RES), dtype=np.float32)
    tile_of = np.zeros(len(checked), dtype=np.int64)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, prompt in enumerate(checked):
        extent = prompt.extent_yx()
        if tiles is not None:
            tile = features.grid.tiles[int(tiles[i])]
        else:
            tile = features.grid.best_tile(extent) if len(extent) else features.grid.tiles[0]
        tile_of[i] = tile.index
        layout = _layout(prompt)
        # mask prompts (and objects without points) are decoded one at a time, as SAM2's predictor does
        key = (tile.index, layout, i if layout[2] or (not layout[0] and not layout[1]) else -1)
        groups[key].append(i)
    for (tile_index, _, _), members in groups.items():
        tile = features.grid.tiles[tile_index]
        group_masks, group_scores, group_logits = _decode_group(
            net, features, tile_index, [checked[i] for i in members], multimask)
        for row, i in enumerate(members):
            masks[(i, slice(None)) + tile.outer_slices()] = group_masks[row]
            scores[i] = group_scores[row]
            logits[i] = group_logits[row]
    return Sam2Masks(masks=masks, scores=scores, low_res_logits=logits, tiles=tile_of)
