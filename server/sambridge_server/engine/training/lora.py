"""LoRA adapters on the image encoder's attention (q and v of the fused qkv projection).

Low-rank updates keep the trainable state and optimizer memory small; the exported checkpoint
has them merged into the plain ``qkv`` weights, so it stays a standard SAM state dict.
"""

from __future__ import annotations

import torch
from segment_anything.modeling import Sam
from torch import nn


class LoRAQKV(nn.Module):
    """``qkv(x) + [B_q A_q x, 0, B_v A_v x] * scale`` around a frozen fused qkv Linear."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float = 1.0) -> None:
        super().__init__()
        self.base = base
        dim = base.in_features
        self.scale = alpha / rank
        self.q_a = nn.Parameter(torch.randn(rank, dim) / dim**0.5)
        self.q_b = nn.Parameter(torch.zeros(dim, rank))  # zero: training starts at the base model
        self.v_a = nn.Parameter(torch.randn(rank, dim) / dim**0.5)
        self.v_b = nn.Parameter(torch.zeros(dim, rank))

    def delta(self) -> torch.Tensor:
        """The (3*dim, dim) weight update that merging adds to ``base.weight``."""
        dim = self.base.in_features
        zeros = torch.zeros(dim, dim, dtype=self.q_a.dtype, device=self.q_a.device)
        return torch.cat([self.q_b @ self.q_a, zeros, self.v_b @ self.v_a]) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Base projection plus the low-rank update."""
        return nn.functional.linear(x, self.base.weight + self.delta().to(x.dtype), self.base.bias)


def apply_lora(sam: Sam, rank: int) -> list[nn.Parameter]:
    """Wrap every encoder block's qkv with LoRA, freeze the encoder; returns the LoRA parameters."""
    for param in sam.image_encoder.parameters():
        param.requires_grad_(False)
    params: list[nn.Parameter] = []
    for block in sam.image_encoder.blocks:
        wrapper = LoRAQKV(block.attn.qkv, rank)
        block.attn.qkv = wrapper
        params += [wrapper.q_a, wrapper.q_b, wrapper.v_a, wrapper.v_b]
    return params


def merged_state_dict(sam: Sam) -> dict[str, torch.Tensor]:
    """Sam state dict with LoRA updates merged: the keys of an unwrapped ``Sam``."""
    state: dict[str, torch.Tensor] = {}
    wrappers = {name: module for name, module in sam.named_modules() if isinstance(module, LoRAQKV)}
    for key, value in sam.state_dict().items():
        prefix = next((name for name in wrappers if key.startswith(name + ".")), None)
        if prefix is None:
            state[key] = value.detach().cpu()
            continue
        suffix = key[len(prefix) + 1 :]
        if suffix == "base.weight":
            state[f"{prefix}.weight"] = (value + wrappers[prefix].delta()).detach().cpu()
        elif suffix == "base.bias":
            state[f"{prefix}.bias"] = value.detach().cpu()
    return state
