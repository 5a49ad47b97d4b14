"""segment_anything's mask decoder with the image-side work of one image shared by all prompts.

``MaskDecoder.predict_masks`` copies the (256, 64, 64) image embedding once per prompt
(``repeat_interleave``) and then projects the 4096 image tokens through 128-wide attention
projections in every layer. This module computes the same function, reordered:

* per image (``SharedImage``): the image tokens plus the dense prompt constant, their
  positional encoding and the first layer's image-side projections (``k_proj`` / ``v_proj`` of
  the token-to-image attention, ``q_proj`` of the image-to-token attention). Before the first
  image-to-token attention the image side does not depend on the prompt, except for a mask
  prompt, whose dense embedding is a 1x1 convolution of 16 channels: that enters every
  projection as a rank-16 term;
* per prompt, every later attention is applied with the projection folded into the few
  prompt tokens (8 heads x ~7 tokens = 56 columns instead of 128): the token-to-image scores
  are ``(keys + pe) @ (W_k^T q)``, its values ``(A @ keys) W_v^T`` (attention rows sum to 1),
  and the image-to-token update ``A @ (V W_out^T)``; with more than 16 tokens (many point
  prompts) the stock order is cheaper and is used;
* the output upscaling (two 2x2 stride-2 transposed convolutions) is pixel-local: a matmul per
  image token, and only the selected mask tokens' hypernetwork outputs are applied.

Results equal the stock decoder up to float32 rounding (the order of sums differs); masks are
thresholded by callers exactly as before. ``supports`` says whether a model has the stock
architecture this relies on (otherwise callers use ``sam.mask_decoder``).
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder, Sam, TwoWayTransformer
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.transformer import Attention
from torch import Tensor, nn

_PE_CACHE: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, Tensor]]" = weakref.WeakKeyDictionary()

_LN2D_EPS = 1e-6
_UPSCALE_CHUNK = 512  # image tokens per upscaling matmul: ~1 MB of intermediates


def supports(sam: Sam) -> bool:
    """Whether ``sam``'s prompt encoder and mask decoder have the stock layout used here."""
    decoder = sam.mask_decoder
    if type(decoder) is not MaskDecoder or type(decoder.transformer) is not TwoWayTransformer:
        return False
    upscaling = list(decoder.output_upscaling)
    downscaling = list(sam.prompt_encoder.mask_downscaling)
    layout = [nn.ConvTranspose2d, LayerNorm2d, nn.GELU, nn.ConvTranspose2d, nn.GELU]
    if [type(m) for m in upscaling] != layout or any(m.approximate != "none" for m in upscaling[2::2]):
        return False
    last = downscaling[-1]
    if not isinstance(last, nn.Conv2d) or last.kernel_size != (1, 1):
        return False
    attentions = [decoder.transformer.final_attn_token_to_image]
    for layer in decoder.transformer.layers:
        attentions += [layer.self_attn, layer.cross_attn_token_to_image, layer.cross_attn_image_to_token]
    return all(type(a) is Attention and all(type(getattr(a, p)) is nn.Linear for p in
                                            ("q_proj", "k_proj", "v_proj", "out_proj")) for a in attentions)


def default_batch_size(sam: Sam) -> int:
    """Prompts per decoder call: 64 on a GPU; 1 on CPU, where the decoder is memory-bound and
    larger batches cost more per prompt (bench/bench_volume.py measures 2-12)."""
    return 64 if sam.device.type == "cuda" else 1


def shared_image(sam: Sam, features: np.ndarray) -> SharedImage | None:
    """The shared image-side tensors of (1, C, h, w) features, or None for an unsupported model."""
    if not supports(sam):
        return None
    with torch.inference_mode():
        return SharedImage(sam, torch.from_numpy(features).to(sam.device))


def sparse_embeddings(sam: Sam, points: tuple[Tensor, Tensor] | None, boxes: Tensor | None,
                      batch: int) -> Tensor:
    """The prompt encoder's (B, n, C) sparse embeddings (the dense ones are made here instead)."""
    if points is None and boxes is None:  # mask-only prompts: no sparse tokens
        return torch.empty((batch, 0, sam.prompt_encoder.embed_dim), device=sam.device)
    return sam.prompt_encoder(points=points, boxes=boxes, masks=None)[0]


def _heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, n, H*d) -> (B, H, n, d)."""
    b, n, c = x.shape
    return x.reshape(b, n, num_heads, c // num_heads).transpose(1, 2)


def _recombine(x: Tensor) -> Tensor:
    """(B, H, n, d) -> (B, n, H*d)."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


def _head_weights(linear: nn.Linear, num_heads: int) -> tuple[Tensor, Tensor]:
    """A projection's weight as (H, d, C) and bias as (H, d)."""
    out_features, in_features = linear.weight.shape
    return linear.weight.reshape(num_heads, out_features // num_heads, in_features), \
        linear.bias.reshape(num_heads, out_features // num_heads)


def _dense_pe(sam: Sam) -> Tensor:
    """(N, C) positional encoding of the image tokens, cached per prompt encoder.

    ``get_dense_pe`` recomputes sines and cosines of the whole grid on every call; the cache
    key includes the version counter of the Gaussian matrix, so loading new weights in place
    invalidates it.
    """
    encoder = sam.prompt_encoder
    matrix = encoder.pe_layer.positional_encoding_gaussian_matrix
    key = (matrix._version, matrix.data_ptr(), str(matrix.device))
    cached = _PE_CACHE.get(encoder)
    if cached is None or cached[0] != key:
        pe = encoder.get_dense_pe()[0].flatten(1).transpose(0, 1).contiguous()
        cached = (key, pe)
        _PE_CACHE[encoder] = cached
    return cached[1]


class SharedImage:
    """Image-side tensors of one image (tile), computed once and shared by all its prompts.

    ``features`` is the (1, 256, 64, 64) embedding. Tensors for prompts without a mask and for
    prompts with one (whose dense embedding adds a bias instead of ``no_mask_embed``) are made
    on first use. A lone prompt would be ~10 ms faster on CPU with the first layer folded into
    its tokens like the later ones; it is shared anyway so that a prompt decodes to the very
    same mask alone and among others (``decode`` vs ``decode_objects``, one object vs many in
    propagation).
    """

    def __init__(self, sam: Sam, features: Tensor) -> None:
        self.sam = sam
        self.num_heads = sam.mask_decoder.transformer.num_heads
        self.image = features[0].flatten(1).transpose(0, 1).contiguous()  # (N, C)
        self.pe = _dense_pe(sam)
        self.spatial = tuple(features.shape[-2:])
        self._base: dict[bool, tuple[Tensor, Tensor]] = {}
        self._first: dict[bool, tuple[Tensor, Tensor, Tensor]] = {}

    def base(self, with_mask: bool) -> tuple[Tensor, Tensor]:
        """(N, C) image tokens plus the prompt-independent dense embedding, without and with
        the positional encoding."""
        if with_mask not in self._base:
            prompt_encoder = self.sam.prompt_encoder
            dense = prompt_encoder.mask_downscaling[-1].bias if with_mask else prompt_encoder.no_mask_embed.weight[0]
            keys = self.image + dense
            self._base[with_mask] = (keys, keys + self.pe)
        return self._base[with_mask]

    def first_layer(self, with_mask: bool) -> tuple[Tensor, Tensor, Tensor]:
        """(K, V of the token-to-image attention, Q of the image-to-token attention) of the first
        layer, before any prompt-dependent term; each per head (H, N, d)."""
        if with_mask not in self._first:
            keys, with_pe = self.base(with_mask)
            layer = self.sam.mask_decoder.transformer.layers[0]
            to_image, to_token = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
            k = _heads(to_image.k_proj(with_pe)[None], self.num_heads)[0]
            v = _heads(to_image.v_proj(keys)[None], self.num_heads)[0]
            q = _heads(to_token.q_proj(with_pe)[None], self.num_heads)[0]
            self._first[with_mask] = (k, v, q)
        return self._first[with_mask]


def _mask_features(sam: Sam, masks: Tensor | None) -> Tensor | None:
    """(B, N, 16) mask-prompt features before the dense embedding's final 1x1 convolution."""
    if masks is None:
        return None
    hidden = sam.prompt_encoder.mask_downscaling[:-1](masks)
    return hidden.flatten(2).transpose(1, 2)


def _mask_weight(sam: Sam) -> Tensor:
    """(C, 16) weight of the dense embedding's final 1x1 convolution (its bias is shared)."""
    return sam.prompt_encoder.mask_downscaling[-1].weight[:, :, 0, 0]


def _first_token_to_image(attn: Attention, shared: SharedImage, queries: Tensor, query_pe: Tensor,
                          low_rank: Tensor | None, dense_weight: Tensor) -> Tensor:
    """Token-to-image attention of the first layer on the shared K, V (+ the mask's rank-16 term)."""
    k, v, _ = shared.first_layer(low_rank is not None)
    heads = shared.num_heads
    q = _heads(attn.q_proj(queries + query_pe), heads)  # (B, H, n, d)
    scores = q @ k.transpose(1, 2)
    if low_rank is not None:  # K += G (W_k W3)^T per head; scores += (q (W_k W3)_h) G^T
        wk, _ = _head_weights(attn.k_proj, heads)
        scores = scores + (q @ (wk @ dense_weight)) @ low_rank[:, None].transpose(2, 3)
    attn_map = torch.softmax(scores / math.sqrt(q.shape[-1]), dim=-1)
    out = attn_map @ v
    if low_rank is not None:
        wv, _ = _head_weights(attn.v_proj, heads)
        out = out + (attn_map @ low_rank[:, None]) @ (wv @ dense_weight).transpose(1, 2)
    return attn.out_proj(_recombine(out))


def _folds(attn: Attention, heads: int, n_tokens: int) -> bool:
    """Whether folding a projection into the tokens (heads x tokens columns) is cheaper than
    projecting the image tokens (``internal_dim`` columns): true up to 16 tokens for SAM."""
    return heads * n_tokens <= attn.internal_dim


def _token_to_image(attn: Attention, heads: int, queries: Tensor, query_pe: Tensor, keys: Tensor,
                    keys_pe: Tensor) -> Tensor:
    """Tokens attend to the (per-prompt) image tokens with K/V projections folded into the tokens."""
    q = _heads(attn.q_proj(queries + query_pe), heads)  # (B, H, n, d)
    b, h, n, d = q.shape
    if not _folds(attn, heads, n):  # many point prompts: the stock order is cheaper
        scores = q @ _heads(attn.k_proj(keys_pe), heads).transpose(2, 3)
        attn_map = torch.softmax(scores / math.sqrt(d), dim=-1)
        return attn.out_proj(_recombine(attn_map @ _heads(attn.v_proj(keys), heads)))
    wk, bk = _head_weights(attn.k_proj, heads)
    wv, bv = _head_weights(attn.v_proj, heads)
    folded = (q @ wk).reshape(b, h * n, -1)  # (B, H*n, C)
    # k_proj's bias adds a constant per (head, token) row: kept for exactness of the logits.
    scores = folded @ keys_pe.transpose(1, 2) + (q * bk[:, None]).sum(-1).reshape(b, h * n, 1)
    attn_map = torch.softmax(scores / math.sqrt(d), dim=-1)
    pooled = (attn_map @ keys).reshape(b, h, n, -1)  # (B, H, n, C)
    out = pooled @ wv.transpose(1, 2) + bv[:, None]  # attention rows sum to 1: the bias passes
    return attn.out_proj(_recombine(out))


def _image_to_token(attn: Attention, scores: Tensor, queries: Tensor, keys: Tensor,
                    extra: tuple[Tensor, Tensor] | None = None, in_place: bool = False) -> Tensor:
    """``keys`` plus their update from (B, H, n, N) logits: softmax over tokens, A @ (V W_out^T).

    The logits keep the image axis last: a softmax over the 7-odd tokens along the last axis
    is ~20x slower in torch on CPU than along axis 2. Every head's attention row sums to 1, so
    ``out_proj``'s bias / H rides on the values and the residual add is the matmul's own
    (``baddbmm``, into ``keys`` itself with ``in_place``): no extra pass over the (N, C) image
    tokens. ``extra`` = (G, W) adds G @ W^T in the same matmul (a mask prompt's rank-16 dense
    term).
    """
    b, h, n, _ = scores.shape
    v = _heads(attn.v_proj(queries), h)  # (B, H, n, d)
    d = v.shape[-1]
    attn_map = torch.softmax(scores / math.sqrt(d), dim=2)
    wo = attn.out_proj.weight  # (C, H*d)
    if _folds(attn, h, n):
        rows = attn_map.reshape(b, h * n, -1)
        values = (v @ wo.reshape(-1, h, d).permute(1, 2, 0)).reshape(b, h * n, -1)  # (B, H*n, C)
        values = values + attn.out_proj.bias / h
    else:  # many point prompts: attend first, then project (the stock order)
        rows = _recombine(attn_map.transpose(2, 3) @ v).transpose(1, 2)  # (B, H*d, N)
        values = torch.cat([wo.T[None].expand(b, -1, -1), attn.out_proj.bias.expand(b, 1, -1)], dim=1)
        rows = torch.cat([rows, rows.new_ones(b, 1, rows.shape[-1])], dim=1)
    if extra is not None:
        rows = torch.cat([rows, extra[0].transpose(1, 2)], dim=1)
        values = torch.cat([values, extra[1].transpose(0, 1).expand(b, -1, -1)], dim=1)
    if in_place:
        return keys.baddbmm_(rows.transpose(1, 2), values)
    return torch.baddbmm(keys.expand(b, -1, -1), rows.transpose(1, 2), values)


def _first_image_to_token(attn: Attention, shared: SharedImage, queries: Tensor, query_pe: Tensor,
                          low_rank: Tensor | None, dense_weight: Tensor) -> Tensor:
    """Image tokens of the first layer after attending to the prompt tokens (before norm4)."""
    keys, _ = shared.base(low_rank is not None)
    _, _, q_shared = shared.first_layer(low_rank is not None)
    heads = shared.num_heads
    k = _heads(attn.k_proj(queries + query_pe), heads)  # (B, H, n, d)
    scores = k @ q_shared.transpose(1, 2)  # (B, H, n, N)
    if low_rank is not None:  # Q += G (W_q W3)^T
        wq, _ = _head_weights(attn.q_proj, heads)
        scores = scores + (k @ (wq @ dense_weight)) @ low_rank[:, None].transpose(2, 3)
    extra = None if low_rank is None else (low_rank, dense_weight)
    return _image_to_token(attn, scores, queries, keys, extra)


def _later_image_to_token(attn: Attention, heads: int, queries: Tensor, query_pe: Tensor, keys: Tensor,
                          keys_pe: Tensor) -> Tensor:
    """Image tokens after attending to the prompt tokens (before norm4), Q folded into the tokens."""
    k = _heads(attn.k_proj(queries + query_pe), heads)  # (B, H, n, d)
    b, h, n, _ = k.shape
    if not _folds(attn, heads, n):
        scores = k @ _heads(attn.q_proj(keys_pe), heads).transpose(2, 3)
        return _image_to_token(attn, scores, queries, keys, in_place=True)
    wq, bq = _head_weights(attn.q_proj, heads)
    folded = (k @ wq).reshape(b, h * n, -1)  # (B, H*n, C)
    bias = (k * bq[:, None]).sum(-1).reshape(b, h * n, 1)
    scores = (folded @ keys_pe.transpose(1, 2) + bias).reshape(b, h, n, -1)
    return _image_to_token(attn, scores, queries, keys, in_place=True)


def _transformer(sam: Sam, shared: SharedImage, tokens: Tensor, low_rank: Tensor | None) -> tuple[Tensor, Tensor]:
    """TwoWayTransformer forward -> (tokens (B, n, C), image tokens (B, N, C))."""
    transformer = sam.mask_decoder.transformer
    heads = transformer.num_heads
    dense_weight = _mask_weight(sam)
    pe = shared.pe
    queries, keys = tokens, None
    for index, layer in enumerate(transformer.layers):
        if layer.skip_first_layer_pe:
            queries = layer.self_attn(q=queries, k=queries, v=queries)
        else:
            q = queries + tokens
            queries = queries + layer.self_attn(q=q, k=q, v=queries)
        queries = layer.norm1(queries)
        if index == 0:
            out = _first_token_to_image(layer.cross_attn_token_to_image, shared, queries, tokens, low_rank,
                                        dense_weight)
        else:
            keys_pe = keys + pe
            out = _token_to_image(layer.cross_attn_token_to_image, heads, queries, tokens, keys, keys_pe)
        queries = layer.norm2(queries + out)
        queries = layer.norm3(queries + layer.mlp(queries))
        if index == 0:
            keys = _first_image_to_token(layer.cross_attn_image_to_token, shared, queries, tokens, low_rank,
                                         dense_weight)
        else:  # keys are this prompt's own (norm4's output): updated in place
            keys = _later_image_to_token(layer.cross_attn_image_to_token, heads, queries, tokens, keys, keys_pe)
        keys = layer.norm4(keys)
    out = _token_to_image(transformer.final_attn_token_to_image, heads, queries, tokens, keys, keys + pe)
    return transformer.norm_final_attn(queries + out), keys


def _upscale_block(first: nn.ConvTranspose2d, norm: LayerNorm2d, second: nn.ConvTranspose2d, keys: Tensor,
                   hyper: Tensor) -> Tensor:
    """(B, T, C) image tokens -> (B, T, 16, k) logits of their 4x4 pixel blocks ([i, j, i2, j2])."""
    b, n_tokens, _ = keys.shape
    c1, c2 = first.out_channels, second.out_channels
    w1 = first.weight.permute(0, 2, 3, 1).reshape(first.in_channels, 4 * c1)  # (C, [i, j, c1])
    w2 = second.weight.permute(0, 2, 3, 1).reshape(c1, 4 * c2)  # (c1, [i2, j2, c2])
    x = torch.addmm(first.bias.repeat(4), keys.reshape(b * n_tokens, -1), w1).reshape(-1, c1)
    x = F.gelu(F.layer_norm(x, (c1,), norm.weight, norm.bias, _LN2D_EPS))
    x = F.gelu(torch.addmm(second.bias.repeat(4), x, w2)).reshape(b, n_tokens * 16, c2)
    return (x @ hyper.transpose(1, 2)).reshape(b, n_tokens, 16, -1)


def _upscale_logits(decoder: MaskDecoder, keys: Tensor, hyper: Tensor, spatial: tuple[int, int]) -> Tensor:
    """Mask logits (B, k, 4h, 4w) of image tokens (B, N, C) for hypernetwork outputs (B, k, C/8).

    Both transposed convolutions have kernel 2 and stride 2, so every image token maps to its
    own 4x4 block of output pixels: two matmuls per token. On CPU tokens go in chunks so that
    the 32-channel blocks stay in cache instead of a (B, 32, 256, 256) tensor in memory; a GPU
    takes the whole batch at once.
    """
    first, norm, _, second, _ = decoder.output_upscaling
    b, n_tokens, _ = keys.shape
    if keys.device.type == "cpu":
        logits = keys.new_empty(b, n_tokens, 16, hyper.shape[1])
        for index in range(b):
            for start in range(0, n_tokens, _UPSCALE_CHUNK):
                chunk = slice(start, start + _UPSCALE_CHUNK)
                logits[index, chunk] = _upscale_block(first, norm, second, keys[index:index + 1, chunk],
                                                      hyper[index:index + 1])[0]
    else:
        logits = _upscale_block(first, norm, second, keys, hyper)
    h, w = spatial  # [y, x] tokens, [i, j, i2, j2] pixels: row 4y + 2i + i2, column 4x + 2j + j2
    logits = logits.reshape(b, h, w, 2, 2, 2, 2, -1).permute(0, 7, 1, 3, 5, 2, 4, 6)
    return logits.reshape(b, -1, 4 * h, 4 * w)


def predict_masks(sam: Sam, shared: SharedImage, sparse: Tensor, masks: Tensor | None,
                  multimask_output: bool) -> tuple[Tensor, Tensor]:
    """``sam.mask_decoder(...)`` for a batch of prompts on one image -> (low-res logits, IoU).

    ``sparse`` are the prompt encoder's (B, n, C) sparse embeddings and ``masks`` the (B, 1,
    256, 256) mask-prompt logits or None; the image is ``shared``. Call under inference mode.
    """
    decoder = sam.mask_decoder
    hs, keys = _transformer(sam, shared, _tokens(decoder, sparse), _mask_features(sam, masks))
    selected = range(1, decoder.num_mask_tokens) if multimask_output else range(0, 1)
    hyper = torch.stack([decoder.output_hypernetworks_mlps[i](hs[:, 1 + i]) for i in selected], dim=1)
    iou = decoder.iou_prediction_head(hs[:, 0])[:, selected.start:selected.stop]
    return _upscale_logits(decoder, keys, hyper, shared.spatial), iou


def predict_passing_masks(sam: Sam, shared: SharedImage, sparse: Tensor,
                          min_iou: float) -> tuple[Tensor, Tensor, Tensor]:
    """Multimask outputs of prompts without a mask prompt, upscaled only where one can pass.

    Returns ``(logits, iou, rows)``: iou (B, 3) of every prompt (SAM's 3 multimask outputs), and
    the low-res logits (B', 3, 4h, 4w) of the prompts ``rows`` (B',) that have a mask with
    predicted IoU above ``min_iou``. The upscaling is the decoder's second largest cost and the other masks would be dropped
    by the caller anyway (AMG's IoU filter). Call under inference mode.
    """
    decoder = sam.mask_decoder
    hs, keys = _transformer(sam, shared, _tokens(decoder, sparse), None)
    selected = range(1, decoder.num_mask_tokens)
    iou = decoder.iou_prediction_head(hs[:, 0])[:, selected.start:selected.stop]
    rows = torch.nonzero((iou > min_iou).any(dim=1)).flatten()
    h, w = shared.spatial
    if len(rows) == 0:
        return keys.new_zeros((0, len(selected), 4 * h, 4 * w)), iou, rows
    hyper = torch.stack([decoder.output_hypernetworks_mlps[i](hs[rows, 1 + i]) for i in selected], dim=1)
    return _upscale_logits(decoder, keys[rows], hyper, shared.spatial), iou, rows


def _tokens(decoder: MaskDecoder, sparse: Tensor) -> Tensor:
    """The decoder's output tokens followed by each prompt's sparse embeddings: (B, 5 + n, C)."""
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    return torch.cat([output_tokens[None].expand(sparse.shape[0], -1, -1), sparse], dim=1)
