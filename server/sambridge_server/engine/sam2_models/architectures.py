"""The four SAM2.1 architectures and how to tell them apart from a state dict.

Meta's SAM2.1 checkpoints (``sam2.1_hiera_tiny|small|base_plus|large.pt``) differ only in the
Hiera trunk of the image encoder: its width (``embed_dim``, read from the patch embedding) and
its number of blocks. Everything else (FPN neck, prompt encoder, mask decoder, memory attention,
memory encoder) is the same, so these two numbers identify the model type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import InvalidInput

PATCH_EMBED_KEY = "image_encoder.trunk.patch_embed.proj.weight"
_BLOCK_KEY = re.compile(r"image_encoder\.trunk\.blocks\.(\d+)\.")


@dataclass(frozen=True)
class Sam2Architecture:
    """One SAM2.1 model type: its Hiera trunk and the hydra config (inside the sam2 package)."""

    model_type: str
    embed_dim: int
    n_blocks: int
    config: str  # hydra config name in the sam2 package
    checkpoint_name: str  # Meta's file name

    @property
    def depth(self) -> int:
        """Number of Hiera blocks (what ``ModelInfo.encoder_depth`` reports)."""
        return self.n_blocks


ARCHITECTURES: dict[str, Sam2Architecture] = {
    arch.model_type: arch
    for arch in (
        Sam2Architecture("sam2.1_hiera_t", 96, 12, "configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
        Sam2Architecture("sam2.1_hiera_s", 96, 16, "configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
        Sam2Architecture("sam2.1_hiera_b+", 112, 24, "configs/sam2.1/sam2.1_hiera_b+.yaml",
                         "sam2.1_hiera_base_plus.pt"),
        Sam2Architecture("sam2.1_hiera_l", 144, 48, "configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
    )
}
MODEL_TYPES: tuple[str, ...] = tuple(ARCHITECTURES)


def is_sam2_model_type(model_type: str | None) -> bool:
    """True for a SAM2.1 model type name (``sam2.1_hiera_t`` ...)."""
    return model_type in ARCHITECTURES


def architecture(model_type: str) -> Sam2Architecture:
    """The architecture called ``model_type``; InvalidInput lists the known ones."""
    if model_type not in ARCHITECTURES:
        raise InvalidInput(f"unknown SAM2 model_type '{model_type}'; known: {', '.join(MODEL_TYPES)}")
    return ARCHITECTURES[model_type]


def looks_like_sam2(state_dict: Mapping[str, Any]) -> bool:
    """True when a state dict has a Hiera trunk (a SAM2 model rather than a SAM1 ViT)."""
    return PATCH_EMBED_KEY in state_dict


def trunk_shape(state_dict: Mapping[str, Any]) -> tuple[int, int]:
    """(embed_dim, number of Hiera blocks) of a SAM2 state dict; InvalidInput if it has no trunk."""
    if PATCH_EMBED_KEY not in state_dict:
        raise InvalidInput(f"not a SAM2 checkpoint: key '{PATCH_EMBED_KEY}' is missing")
    embed_dim = int(state_dict[PATCH_EMBED_KEY].shape[0])
    blocks = sorted({int(m.group(1)) for key in state_dict if (m := _BLOCK_KEY.match(key))})
    if not blocks or blocks != list(range(len(blocks))):
        raise InvalidInput("not a SAM2 checkpoint: the Hiera blocks are missing or not contiguous")
    return embed_dim, len(blocks)


def infer_model_type(state_dict: Mapping[str, Any]) -> str:
    """The SAM2.1 model type whose trunk has this state dict's width and block count."""
    embed_dim, n_blocks = trunk_shape(state_dict)
    for arch in ARCHITECTURES.values():
        if (arch.embed_dim, arch.n_blocks) == (embed_dim, n_blocks):
            return arch.model_type
    raise InvalidInput(
        f"unsupported SAM2 checkpoint: a Hiera trunk with embed_dim {embed_dim} and {n_blocks} blocks is none of "
        + ", ".join(f"{a.model_type} ({a.embed_dim}, {a.n_blocks})" for a in ARCHITECTURES.values())
    )
