"""The SAM encoder and mask decoder on token-aligned patches of SAM space.

The encoder sees a patch with the position embeddings of its place in a full image
(global-attention relative positions are cut to the patch); the mask decoder runs on the
patch's token grid.
"""

from __future__ import annotations


import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.modeling.image_encoder import Attention

from ..encoder import block_forward
from .data import (
    PATCH,
)


def _center_rel_pos(rel_pos: torch.Tensor, size: int) -> torch.Tensor:
    """Relative-position table cut to offsets -(size-1)..size-1 (no interpolation)."""
    center = (rel_pos.shape[0] - 1) // 2
    if 2 * size - 1 >= rel_pos.shape[0]:
        return rel_pos
    return rel_pos[center - size + 1 : center + size]


def _cut_tables(attn: Attention, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rel-pos tables cut (not resized) to a patch's H x W grid."""
    return _center_rel_pos(attn.rel_pos_h, height), _center_rel_pos(attn.rel_pos_w, width)


def encode_patch(sam: Sam, rgb: np.ndarray, offset: tuple[int, int],
                 valid: tuple[int, int] | None = None) -> torch.Tensor:
    """Embeddings (1, 256, h/16, w/16) of a uint8 RGB SAM-space patch at pixel ``offset``.

    ``valid`` (rows, columns of image in the patch) zeroes the padding after normalising, as
    SAM's preprocessing does, so patches reaching into the padding look as they do when served.
    """
    device = sam.device
    pixels = torch.as_tensor(np.ascontiguousarray(rgb), device=device).permute(2, 0, 1)[None].float()
    pixels = (pixels - sam.pixel_mean) / sam.pixel_std
    if valid is not None:
        pixels[..., valid[0] :, :] = 0
        pixels[..., :, valid[1] :] = 0
    encoder = sam.image_encoder
    x = encoder.patch_embed(pixels)
    if encoder.pos_embed is not None:
        ty, tx = offset[0] // PATCH, offset[1] // PATCH
        x = x + encoder.pos_embed[:, ty : ty + x.shape[1], tx : tx + x.shape[2]]
    for block in encoder.blocks:
        x = block_forward(block, x, _cut_tables)
    return encoder.neck(x.permute(0, 3, 1, 2))


def dense_pe(sam: Sam, offset: tuple[int, int], grid: tuple[int, int]) -> torch.Tensor:
    """The dense positional encoding of the token grid ``grid`` at ``offset`` (pixels) in SAM space."""
    ty, tx = offset[0] // PATCH, offset[1] // PATCH
    return sam.prompt_encoder.get_dense_pe()[:, :, ty : ty + grid[0], tx : tx + grid[1]]


def decode_patch(sam: Sam, embeddings: torch.Tensor, pe: torch.Tensor, points, box, mask_logits, multimask: bool):
    """Mask decoder on a patch: returns (low-res logits (N, M, 4h, 4w), iou predictions (N, M))."""
    sparse, _ = sam.prompt_encoder(points=points, boxes=box, masks=None)
    n, grid = sparse.shape[0], embeddings.shape[-2:]
    if mask_logits is None:
        dense = sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(n, -1, *grid)
    else:
        dense = sam.prompt_encoder._embed_masks(mask_logits)
    return sam.mask_decoder(
        image_embeddings=embeddings, image_pe=pe, sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense, multimask_output=multimask,
    )


# -- prompts ---------------------------------------------------------------------------------
# All objects of a patch are handled in one batch of tensor operations: on a GPU a per-object
# loop with nonzero()/any() in Python synchronises with the device a few thousand times a step.
