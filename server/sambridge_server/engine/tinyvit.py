"""MobileSAM's TinyViT image encoder (micro_sam's ``vit_t`` models), built from ``mobile_sam``.

micro_sam 1.8.14 builds ``vit_t`` with ``mobile_sam.sam_model_registry["vit_t"]``: a TinyViT
encoder (stages of 64/128/160/320 channels, depths 2/2/6/2) whose neck outputs the same
(256, 64, 64) embeddings as SAM's ViT, with SAM's standard prompt encoder and mask decoder. We
put the very same ``mobile_sam`` TinyViT into a ``segment_anything`` ``Sam`` (mobile_sam's
prompt encoder, mask decoder and ``Sam`` are verbatim copies of segment_anything's), so all
downstream code sees one model class.

Attention biases: TinyViT's attention adds a learned per-offset bias, which in eval mode it
reads from a cache (``Attention.ab``) filled when ``.eval()`` is called. micro_sam calls
``.eval()`` only *before* loading the weights and never after, so micro_sam 1.8.14 computes
every vit_t embedding with the cache of the freshly initialised model: all biases zero. The
learned biases are ignored. ``"micro_sam"`` mode (the default) reproduces this, so our
embeddings equal micro_sam's; ``"learned"`` applies the checkpoint's biases, as MobileSAM
intends (``sam.eval()`` after loading). A forward pre-hook enforces the mode on every call,
whatever ``.eval()``/``.train()`` calls happened in between.
"""

from __future__ import annotations

import warnings
from typing import Literal, Mapping

import torch
from torch import nn

AttentionBias = Literal["micro_sam", "learned"]
ATTENTION_BIAS_MODES: tuple[str, ...] = ("micro_sam", "learned")
EMBED_DIMS = (64, 128, 160, 320)  # build_sam_vit_t's architecture, the only one micro_sam loads
DEPTHS = (2, 2, 6, 2)
NUM_HEADS = (2, 4, 5, 10)
WINDOW_SIZES = (7, 7, 14, 7)
_STATE_PREFIX = "image_encoder.layers."
_MODE_ATTRIBUTE = "sambridge_attention_bias"


def _tinyvit_module():
    """``mobile_sam.modeling.tiny_vit_sam``, imported without its timm deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # timm.models.layers moved; tiny_vit_* re-registered in timm
        from mobile_sam.modeling import tiny_vit_sam
    return tiny_vit_sam


def is_tinyvit_state(state_dict: Mapping[str, object]) -> bool:
    """Whether a Sam state dict holds a TinyViT (MobileSAM) image encoder."""
    return any(key.startswith(_STATE_PREFIX) for key in state_dict)


def build_tinyvit_encoder(attention_bias: AttentionBias = "micro_sam") -> nn.Module:
    """TinyViT exactly as ``mobile_sam.build_sam_vit_t`` builds it, with the attention-bias mode set."""
    tiny_vit_sam = _tinyvit_module()
    encoder = tiny_vit_sam.TinyViT(
        img_size=1024, in_chans=3, num_classes=1000,
        embed_dims=list(EMBED_DIMS), depths=list(DEPTHS), num_heads=list(NUM_HEADS),
        window_sizes=list(WINDOW_SIZES), mlp_ratio=4.0, drop_rate=0.0, drop_path_rate=0.0,
        use_checkpoint=False, mbconv_expand_ratio=4.0, local_conv_size=3, layer_lr_decay=0.8,
    )
    set_attention_bias(encoder, attention_bias)
    return encoder


def _attentions(encoder: nn.Module) -> list[nn.Module]:
    """TinyViT's attention modules (those with a learned per-offset bias table)."""
    return [module for module in encoder.modules() if hasattr(module, "attention_bias_idxs")]


def _apply_attention_bias(encoder: nn.Module, _inputs: tuple) -> None:
    """Forward pre-hook: refresh every eval-mode attention's bias cache for the encoder's mode."""
    learned = getattr(encoder, _MODE_ATTRIBUTE) == "learned"
    with torch.inference_mode(False), torch.no_grad():
        for attn in _attentions(encoder):
            if attn.training:  # training mode reads attention_biases directly (as micro_sam trains)
                continue
            biases = attn.attention_biases[:, attn.attention_bias_idxs]
            attn.ab = biases if learned else torch.zeros_like(biases)


def set_attention_bias(encoder: nn.Module, mode: AttentionBias) -> None:
    """Choose how ``encoder`` applies its attention biases in eval mode (see module docstring).

    The choice changes the embeddings but not the model hash: the embedding cache does not see it.
    """
    if mode not in ATTENTION_BIAS_MODES:
        raise ValueError(f"attention_bias must be one of {ATTENTION_BIAS_MODES}, got {mode!r}")
    if not hasattr(encoder, _MODE_ATTRIBUTE):
        encoder.register_forward_pre_hook(_apply_attention_bias)
    setattr(encoder, _MODE_ATTRIBUTE, mode)


def randomize_tinyvit(encoder: nn.Module) -> None:
    """Give the parameters that TinyViT initialises to constants random values (for tests).

    Attention biases start at zero and BatchNorm layers at the identity (some at zero scale,
    which switches MBConv residual branches off); random values make every path matter.
    """
    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if name.endswith("attention_biases"):
                param.normal_(0.0, 0.5)
        for module in encoder.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
