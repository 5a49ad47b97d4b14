"""Compact checkpoints for shipping: fp16 tensors, large decoder matrices as per-row int8.

The shipped default model must stay small (package data, no download). SAM's prompt path is
kept in fp16; the AIS decoder's large convolution / linear weights (most of the file) are stored
as symmetric int8 with one fp32 scale per output channel, which changes its maps by well under
its own fp16-vs-fp32 differences in effect (measured in tests/engine/test_compact_weights.py).
``split_checkpoint`` recognises the format and returns ordinary float state dicts, so every
loader path (server, micro_sam-format export, training resume) works on the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch

from .files import atomic_path

FORMAT = "sambridge_int8_v1"
MIN_QUANTIZED_SIZE = 4096  # smaller tensors (biases, norms, embeddings) stay fp16


def quantize_tensor(weight: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-output-row symmetric int8: ``{"int8": q, "scale": s}`` with ``weight ~= q * s``."""
    rows = weight.detach().float().reshape(weight.shape[0], -1)
    scale = rows.abs().amax(dim=1).clamp_min(1e-12) / 127.0  # fp32: one per row costs nothing
    q = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return {"int8": q.reshape(weight.shape), "scale": scale}


def dequantize_tensor(entry: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Float32 tensor of a ``quantize_tensor`` entry."""
    q = entry["int8"]
    scale = entry["scale"].float().reshape(-1, *([1] * (q.dim() - 1)))
    return q.float() * scale


def compact_state(state: Mapping[str, torch.Tensor], quantize: bool) -> dict:
    """fp16 copy of ``state``; with ``quantize`` the large floating matrices become int8 entries."""
    out: dict = {}
    for key, value in state.items():
        value = value.detach().cpu()
        if quantize and value.is_floating_point() and value.dim() >= 2 and value.numel() >= MIN_QUANTIZED_SIZE:
            out[key] = quantize_tensor(value)
        else:
            out[key] = value.half() if value.is_floating_point() else value
    return out


def expand_state(state: Mapping) -> dict[str, torch.Tensor]:
    """Ordinary float32 state dict of a ``compact_state`` result."""
    return {key: dequantize_tensor(value) if isinstance(value, Mapping) else
            (value.float() if value.is_floating_point() else value) for key, value in state.items()}


def is_compact(payload) -> bool:
    """Whether a loaded checkpoint payload is in this module's format."""
    return isinstance(payload, Mapping) and payload.get("format") == FORMAT


def save_compact(model_state: Mapping[str, torch.Tensor], decoder_state: Mapping[str, torch.Tensor] | None,
                 path: str | Path, native_tiling: Mapping | None = None) -> Path:
    """Write a compact checkpoint atomically: SAM in fp16, the AIS decoder's large weights in int8.

    ``native_tiling`` ({"tile_shape": [y, x], "halo": [y, x]}) is stored as is (see models.py).
    """
    payload: dict = {"format": FORMAT, "model_state": compact_state(model_state, quantize=False)}
    if decoder_state is not None:
        payload["decoder_state"] = compact_state(decoder_state, quantize=True)
    if native_tiling is not None:
        payload["native_tiling"] = dict(native_tiling)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def expand_payload(payload: Mapping) -> dict:
    """micro_sam-format ``{"model_state", "decoder_state"}`` of a compact payload."""
    out = {"model_state": expand_state(payload["model_state"])}
    if payload.get("decoder_state") is not None:
        out["decoder_state"] = expand_state(payload["decoder_state"])
    if payload.get("native_tiling") is not None:
        out["native_tiling"] = payload["native_tiling"]
    return out
