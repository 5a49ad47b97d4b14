"""Validation during training: AIS on validation patches scored by mean segmentation accuracy."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from segment_anything.modeling import Sam

from ..automatic.ais import AISMaps, AISParams, ais_segment
from ..automatic.ais_decoder import AISDecoder
from ..metrics import mean_segmentation_accuracy
from .frozen import FrozenEmbeddings, validate_ais, validate_box_prompts
from .data import (
    Patch,
    TrainingImage,
    grid_patches,
    object_ids,
)
from .patch_encoding import encode_patch
from .config import TrainConfig


VALIDATION_AIS = AISParams(min_size=25)


@torch.no_grad()
def patch_ais_labels(sam: Sam, decoder: AISDecoder, patch: Patch, params: AISParams = VALIDATION_AIS) -> np.ndarray:
    """AIS instance labels of one SAM-space patch (decoder maps at patch resolution)."""
    maps = decoder(encode_patch(sam, patch.rgb, patch.offset, patch.valid))[0].float().cpu().numpy()
    return ais_segment(AISMaps(maps[0], maps[1], maps[2]), params)


def validate(sam: Sam, decoder: AISDecoder, patches: Sequence[Patch] | FrozenEmbeddings,
             with_ais: bool = True) -> float:
    """Mean AIS mSA over validation patches.

    Over a ``FrozenEmbeddings`` set (frozen encoder): box-prompt mSA, averaged with whole-image AIS
    mSA when ``with_ais`` (the AIS decoder trains too), so one score selects both heads.
    """
    if isinstance(patches, FrozenEmbeddings):
        box = validate_box_prompts(sam, patches)
        return (box + validate_ais(decoder, patches, VALIDATION_AIS)) / 2 if with_ais else box
    scores = [mean_segmentation_accuracy(patch_ais_labels(sam, decoder, p), p.labels) for p in patches]
    return float(np.mean(scores)) if scores else float("nan")


def validation_set(sam: Sam, images: Sequence[TrainingImage], config: TrainConfig):
    """AIS validation patches, or whole-image validation (box prompts + AIS) on cached embeddings under
    a frozen encoder or with ``validate_boxes`` (then re-encoded at every validation)."""
    if config.freeze_encoder or config.validate_boxes:
        return FrozenEmbeddings(sam, images) if images else []
    return validation_patches(images, config)


def validation_patches(images: Sequence[TrainingImage], config: TrainConfig) -> list[Patch]:
    """Fixed patches of the validation images (evenly spread, at most ``validation_patches``)."""
    patches = [p for image in images for p in grid_patches(image, config.patch_size) if object_ids(p.labels).size]
    if len(patches) > config.validation_patches:
        keep = np.linspace(0, len(patches) - 1, config.validation_patches).round().astype(int)
        patches = [patches[i] for i in keep]
    return patches


# -- checkpoints ---------------------------------------------------------------------------------
