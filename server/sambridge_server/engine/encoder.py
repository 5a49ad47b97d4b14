"""Forward pass of segment_anything's ViT image encoder with fused (SDPA) attention.

segment_anything materialises ``softmax(q k^T * scale + rel_pos_bias)`` explicitly. Here the
same decomposed relative-position bias is handed to ``torch.nn.functional.scaled_dot_product_attention``
as an additive ``attn_mask``, which is mathematically identical (fp32 results agree to float
tolerance) but lets PyTorch use its fused kernels. The model's modules are only *called*, never
patched, so other users of the same ``Sam`` instance (e.g. micro_sam) are unaffected.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import (
    Attention,
    Block,
    ImageEncoderViT,
    get_rel_pos,
    window_partition,
    window_unpartition,
)

AttentionKind = Literal["sdpa", "reference"]
# (attention, height, width) -> the (rel_pos_h, rel_pos_w) tables to use on that grid.
RelPosTables = Callable[[Attention, int, int], tuple[torch.Tensor, torch.Tensor]]


def model_tables(attn: Attention, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The attention's own relative-position tables (segment_anything resizes them if needed)."""
    return attn.rel_pos_h, attn.rel_pos_w


def relative_position_bias(
    q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """Decomposed rel-pos bias (B, heads, HW, HW) for q of shape (B, heads, HW, C)."""
    height, width = size
    batch, heads, _, channels = q.shape
    rh = get_rel_pos(height, height, rel_pos_h)  # (H, H, C)
    rw = get_rel_pos(width, width, rel_pos_w)  # (W, W, C)
    r_q = q.reshape(batch, heads, height, width, channels)
    rel_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, rh)
    rel_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, rw)
    bias = rel_h[..., :, None] + rel_w[..., None, :]  # (B, n, H, W, kH, kW)
    return bias.reshape(batch, heads, height * width, height * width)


def sdpa_attention(attn: Attention, x: torch.Tensor, tables: RelPosTables = model_tables) -> torch.Tensor:
    """Same result as ``Attention.forward`` (x: (B, H, W, C)) computed with fused SDPA."""
    batch, height, width, _ = x.shape
    qkv = attn.qkv(x).reshape(batch, height * width, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # each (B, heads, HW, C)
    bias = None
    if attn.use_rel_pos:
        rel_pos_h, rel_pos_w = tables(attn, height, width)
        bias = relative_position_bias(q, rel_pos_h, rel_pos_w, (height, width)).to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    out = out.view(batch, attn.num_heads, height, width, -1).permute(0, 2, 3, 1, 4)
    return attn.proj(out.reshape(batch, height, width, -1))


def block_forward(block: Block, x: torch.Tensor, tables: RelPosTables = model_tables) -> torch.Tensor:
    """Same result as ``Block.forward`` with SDPA attention; ``tables`` picks the rel-pos tables."""
    shortcut = x
    x = block.norm1(x)
    if block.window_size > 0:
        height, width = x.shape[1], x.shape[2]
        x, pad_hw = window_partition(x, block.window_size)
    x = sdpa_attention(block.attn, x, tables)
    if block.window_size > 0:
        x = window_unpartition(x, block.window_size, pad_hw, (height, width))
    x = shortcut + x
    return x + block.mlp(block.norm2(x))


def encode(encoder: torch.nn.Module, x: torch.Tensor, attention: AttentionKind = "sdpa") -> torch.Tensor:
    """Run the image encoder on preprocessed (B, 3, 1024, 1024) input -> (B, 256, 64, 64).

    Encoders other than segment_anything's ViT (MobileSAM's TinyViT: small windowed attention
    with a learned bias) run their own forward.
    """
    if attention == "reference" or not isinstance(encoder, ImageEncoderViT):
        return encoder(x)
    x = encoder.patch_embed(x)
    if encoder.pos_embed is not None:
        x = x + encoder.pos_embed
    for block in encoder.blocks:
        x = block_forward(block, x)
    return encoder.neck(x.permute(0, 3, 1, 2))
