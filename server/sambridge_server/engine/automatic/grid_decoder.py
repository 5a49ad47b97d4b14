"""SAM's mask decoder for many single-point prompts on one image, rewritten to cost a third.

SAM's two-way transformer lets a handful of prompt tokens (IoU token, 4 mask tokens, the point
and its padding point: T = 7) and the N = 4096 image tokens attend to each other. Run as written,
every prompt pushes the (N x 256) image through the 256 -> 128 attention projections ten times
(~1.3 GMAC per prompt), which is what AMG spends its time on. Three exact rewrites of the same
function (only the order of floating-point sums changes) remove most of that:

1. **Shared first layer.** Before the first layer the image side is the image embedding plus the
   no-mask embedding, the same for every point prompt: its key, value and query projections are
   computed once per image instead of once per prompt.
2. **Tokens attending to the image** in the token's rank: ``q . (x W_k + b_k) = (q W_k) . x + q . b_k``
   and, since attention rows sum to 1, ``A (x W_v + b_v) = (A x) W_v + b_v``.
3. **The image attending to the tokens**: ``(x W_q + b_q) . k = x . (W_q k) + b_q . k``, and the
   output projection is applied to the T value rows before they are mixed.

What remains per prompt are (N x 256) @ (256 x heads*T) products: ~0.4 GMAC. Finally, masks are
upscaled (the second largest cost) only for prompts with at least one mask whose predicted IoU
passes the caller's pre-filter, since the rest would be dropped anyway.

Works on segment_anything's ``MaskDecoder`` and its copies (mobile_sam for vit_t);
``supports_grid_decoding`` says whether a decoder has that structure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["GridImage", "decode_points", "prepare_grid_image", "supports_grid_decoding"]


@dataclass(frozen=True)
class GridImage:
    """One image's decoder inputs with the first layer's image-side projections done once.

    Token layout (1, N, C): ``keys`` image embedding + dense (no-mask) embedding, ``key_pe`` its
    positional encoding; ``first_keys`` / ``first_values`` (1, N, Ci) the first token-to-image
    attention's key and value projections, ``first_queries`` (1, N, Ci) the first image-to-token
    attention's query projection; ``size`` (h, w) of the embedding grid.
    """

    keys: torch.Tensor
    key_pe: torch.Tensor
    first_keys: torch.Tensor
    first_values: torch.Tensor
    first_queries: torch.Tensor
    size: tuple[int, int]


def supports_grid_decoding(decoder: nn.Module) -> bool:
    """True when ``decoder`` is SAM's MaskDecoder layout (two-way transformer, 4 mask tokens)."""
    transformer = getattr(decoder, "transformer", None)
    layers = getattr(transformer, "layers", None)
    if layers is None or not hasattr(transformer, "final_attn_token_to_image"):
        return False
    if getattr(decoder, "num_mask_tokens", None) != 4 or not hasattr(decoder, "output_upscaling"):
        return False
    attention_names = ("self_attn", "cross_attn_token_to_image", "cross_attn_image_to_token")
    return len(layers) > 0 and all(
        all(hasattr(getattr(layer, name, None), "internal_dim") for name in attention_names)
        and hasattr(layer, "skip_first_layer_pe") for layer in layers
    )


@torch.inference_mode()
def prepare_grid_image(decoder: nn.Module, embeddings: torch.Tensor, image_pe: torch.Tensor,
                       dense: torch.Tensor) -> GridImage:
    """Flatten one image's (1, C, h, w) embedding, PE and dense embedding and project layer 0's image side."""
    h, w = embeddings.shape[-2:]
    keys = (embeddings + dense).flatten(2).transpose(1, 2)
    key_pe = image_pe.flatten(2).transpose(1, 2)
    first = decoder.transformer.layers[0]
    with_pe = keys + key_pe
    return GridImage(
        keys=keys, key_pe=key_pe,
        first_keys=first.cross_attn_token_to_image.k_proj(with_pe),
        first_values=first.cross_attn_token_to_image.v_proj(keys),
        first_queries=first.cross_attn_image_to_token.q_proj(with_pe),
        size=(int(h), int(w)),
    )


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, n, Ci) -> (B, heads, n, Ci / heads), as SAM's Attention._separate_heads."""
    b, n, c = x.shape
    return x.reshape(b, n, heads, c // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, n, d) -> (B, n, heads * d)."""
    b, heads, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, heads * d)


def _tokens_to_image(attention: nn.Module, queries: torch.Tensor, keys_pe: torch.Tensor,
                     keys: torch.Tensor) -> torch.Tensor:
    """Tokens (B, T, C) attend to the image (B, N, C) without projecting the image (rewrite 2)."""
    heads = attention.num_heads
    q = _heads(attention.q_proj(queries), heads)  # (B, H, T, d)
    d = q.shape[-1]
    channels = keys.shape[-1]
    key_weight = attention.k_proj.weight.view(heads, d, channels)
    query_keys = q @ key_weight  # (B, H, T, C): the query pulled back through k_proj
    bias = q @ attention.k_proj.bias.view(heads, d, 1)  # (B, H, T, 1)
    b, _, t, _ = q.shape
    logits = (query_keys.reshape(b, heads * t, channels) @ keys_pe.transpose(1, 2)).view(b, heads, t, -1)
    weights = torch.softmax((logits + bias) / math.sqrt(d), dim=-1)
    mixed = (weights.reshape(b, heads * t, -1) @ keys).view(b, heads, t, channels)  # (B, H, T, C)
    value_weight = attention.v_proj.weight.view(heads, d, channels)
    out = mixed @ value_weight.transpose(1, 2) + attention.v_proj.bias.view(heads, 1, d)
    return attention.out_proj(_merge_heads(out))


def _tokens_to_shared_image(attention: nn.Module, queries: torch.Tensor, image_keys: torch.Tensor,
                            image_values: torch.Tensor) -> torch.Tensor:
    """Tokens (B, T, C) attend to an image whose projections (1, N, Ci) are shared (rewrite 1)."""
    heads = attention.num_heads
    q = _heads(attention.q_proj(queries), heads)
    k = _heads(image_keys, heads)
    v = _heads(image_values, heads)
    weights = torch.softmax((q @ k.transpose(2, 3)) / math.sqrt(q.shape[-1]), dim=-1)
    return attention.out_proj(_merge_heads(weights @ v))


def _image_to_tokens(attention: nn.Module, keys_pe: torch.Tensor, token_keys: torch.Tensor,
                     token_values: torch.Tensor, image_queries: torch.Tensor | None = None) -> torch.Tensor:
    """The image (B or 1, N, C) attends to the tokens (B, T, C) (rewrite 3); returns (B, N, C).

    ``image_queries`` (1, N, Ci): the image's query projection when shared (rewrite 1).
    """
    heads = attention.num_heads
    k = _heads(attention.k_proj(token_keys), heads)  # (B, H, T, d)
    v = _heads(attention.v_proj(token_values), heads)
    b, _, t, d = k.shape
    channels = keys_pe.shape[-1]
    if image_queries is None:
        query_weight = attention.q_proj.weight.view(heads, d, channels)
        pulled = query_weight.transpose(1, 2) @ k.transpose(2, 3)  # (B, H, C, T)
        pulled = pulled.permute(0, 2, 1, 3).reshape(b, channels, heads * t)
        bias = (attention.q_proj.bias.view(heads, 1, d) @ k.transpose(2, 3)).view(b, 1, heads, t)
        logits = (keys_pe @ pulled).view(b, -1, heads, t) + bias  # (B, N, H, T)
    else:
        q = _heads(image_queries, heads)  # (1, H, N, d)
        logits = (q @ k.transpose(2, 3)).transpose(1, 2)  # (B, N, H, T)
    weights = torch.softmax(logits / math.sqrt(d), dim=-1)
    out_weight = attention.out_proj.weight.view(channels, heads, d).permute(1, 2, 0)  # (H, d, C)
    projected_values = (v @ out_weight).reshape(b, heads * t, channels)  # (B, H*T, C)
    return weights.reshape(b, -1, heads * t) @ projected_values + attention.out_proj.bias


def _two_way_transformer(transformer: nn.Module, image: GridImage,
                         tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM's TwoWayTransformer.forward on the prepared image: (tokens out, image tokens out)."""
    queries, keys, token_pe = tokens, image.keys, tokens
    for index, layer in enumerate(transformer.layers):
        shared = index == 0
        if layer.skip_first_layer_pe:
            queries = layer.self_attn(q=queries, k=queries, v=queries)
        else:
            with_pe = queries + token_pe
            queries = queries + layer.self_attn(q=with_pe, k=with_pe, v=queries)
        queries = layer.norm1(queries)
        if shared:
            attended = _tokens_to_shared_image(layer.cross_attn_token_to_image, queries + token_pe,
                                               image.first_keys, image.first_values)
        else:
            attended = _tokens_to_image(layer.cross_attn_token_to_image, queries + token_pe,
                                        keys + image.key_pe, keys)
        queries = layer.norm2(queries + attended)
        queries = layer.norm3(queries + layer.mlp(queries))
        image_update = _image_to_tokens(layer.cross_attn_image_to_token, keys + image.key_pe,
                                        queries + token_pe, queries,
                                        image.first_queries if shared else None)
        keys = layer.norm4(keys + image_update)
    attended = _tokens_to_image(transformer.final_attn_token_to_image, queries + token_pe,
                                keys + image.key_pe, keys)
    queries = transformer.norm_final_attn(queries + attended)
    return queries, keys


@torch.inference_mode()
def decode_points(decoder: nn.Module, image: GridImage, sparse: torch.Tensor,
                  min_pred_iou: float = -math.inf) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Multimask outputs for B single-point prompts (sparse embeddings (B, T', C)) on ``image``.

    Returns ``(logits, iou_preds, upscaled)``: logits (B', 3, 4h, 4w) of the prompts listed in
    ``upscaled`` (B',) — those with a mask whose predicted IoU exceeds ``min_pred_iou`` — and
    iou_preds (B, 3) of every prompt. With the default every prompt is upscaled, and the
    outputs equal ``decoder(..., multimask_output=True)`` up to float rounding.
    """
    b = sparse.shape[0]
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat([output_tokens.unsqueeze(0).expand(b, -1, -1), sparse], dim=1)
    hs, keys = _two_way_transformer(decoder.transformer, image, tokens)
    iou_preds = decoder.iou_prediction_head(hs[:, 0])[:, 1:]
    upscaled = torch.nonzero((iou_preds > min_pred_iou).any(dim=1)).flatten()
    channels = keys.shape[-1]
    h, w = image.size
    if len(upscaled) == 0:
        return keys.new_zeros((0, 3, 4 * h, 4 * w)), iou_preds, upscaled
    src = keys[upscaled].transpose(1, 2).reshape(len(upscaled), channels, h, w)
    embedding = decoder.output_upscaling(src)
    mask_tokens = hs[upscaled, 2:2 + 3]  # the multimask tokens; token 1 is the single-mask one
    hyper = torch.stack([decoder.output_hypernetworks_mlps[i + 1](mask_tokens[:, i]) for i in range(3)], dim=1)
    n, c, uh, uw = embedding.shape
    logits = (hyper @ embedding.view(n, c, uh * uw)).view(n, 3, uh, uw)
    return logits, iou_preds, upscaled
