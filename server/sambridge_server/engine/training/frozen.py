"""Training with a frozen image encoder: whole-image embeddings computed once, patches cut from them.

When only the prompt encoder and mask decoder learn (micro_sam's ``freeze=["image_encoder"]``),
the embeddings never change, so each training image is encoded once per flip, exactly as the
serving path encodes it (normalised pixels, zero padding after normalisation, the full 64 x 64
token grid). Patches are then token-aligned windows of those embeddings: the decoder trains on
the very features it will see at inference, for a fraction of the cost of encoding patches.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam

from ..automatic.ais import AISMaps, AISParams, ais_segment
from ..automatic.ais_decoder import AISDecoder
from ..metrics import mean_segmentation_accuracy
from .data import (
    PATCH,
    Flip,
    Patch,
    TrainingImage,
    flip_valid,
    object_ids,
    object_rich_offset,
    random_flip,
)


@torch.no_grad()
def encode_image(sam: Sam, sample: TrainingImage, flip: Flip = (False, False)) -> torch.Tensor:
    """Embeddings (1, 256, 64, 64) of a whole SAM-space image as the serving path computes them."""
    rgb = flip_valid(sample.rgb, sample.input_size, flip)
    pixels = torch.as_tensor(rgb, device=sam.device).permute(2, 0, 1)[None].float()
    pixels = (pixels - sam.pixel_mean) / sam.pixel_std
    height, width = sample.input_size
    pixels[..., height:, :] = 0  # SAM pads *after* normalising
    pixels[..., :, width:] = 0
    return sam.image_encoder(pixels)


class FrozenEmbeddings:
    """Cache of whole-image embeddings per (image index, flip) under a frozen encoder."""

    def __init__(self, sam: Sam, images: Sequence[TrainingImage]) -> None:
        self.sam = sam
        self.images = list(images)
        self._cache: dict[tuple[int, Flip], torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.images)

    def clear(self) -> None:
        """Forget the cached embeddings (after the encoder changed)."""
        self._cache.clear()

    def embeddings(self, index: int, flip: Flip = (False, False)) -> torch.Tensor:
        """Embeddings of image ``index`` flipped by ``flip`` (computed on first use)."""
        key = (index, flip)
        if key not in self._cache:
            self._cache[key] = encode_image(self.sam, self.images[index], flip)
        return self._cache[key]

    def random_patch(self, size: int, rng: np.random.Generator, augment: bool = True) -> tuple[Patch, torch.Tensor]:
        """A random token-aligned patch (labels, offset) holding objects where the image has them,
        and its window of the cached embeddings."""
        index = int(rng.integers(0, len(self.images)))
        sample = self.images[index]
        flip = random_flip(rng) if augment else (False, False)
        flipped = flip_valid(sample.labels, sample.input_size, flip)
        y, x = object_rich_offset(flipped, sample.input_size, size, rng)
        labels = flipped[y : y + size, x : x + size]
        tokens = size // PATCH
        window = self.embeddings(index, flip)[:, :, y // PATCH : y // PATCH + tokens, x // PATCH : x // PATCH + tokens]
        return Patch(np.empty((0, 0, 3), np.uint8), np.ascontiguousarray(labels), (y, x)), window


def _box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


MAX_VALIDATION_OBJECTS = 32  # per image: enough for a stable score, one decoder batch


@torch.no_grad()
def box_prompt_labels(sam: Sam, embeddings: torch.Tensor, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Label image of objects ``ids`` decoded from their tight boxes (first come, first painted)."""
    out = np.zeros(labels.shape, dtype=np.int32)
    if len(ids) == 0:
        return out
    boxes = torch.as_tensor(np.stack([_box(labels == i) for i in ids]), device=embeddings.device)
    sparse, dense = sam.prompt_encoder(points=None, boxes=boxes, masks=None)
    low_res, _ = sam.mask_decoder(image_embeddings=embeddings, image_pe=sam.prompt_encoder.get_dense_pe(),
                                  sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                  multimask_output=False)
    masks = F.interpolate(low_res, size=labels.shape, mode="bilinear", align_corners=False)[:, 0] > 0
    for obj, mask in zip(ids, masks.cpu().numpy()):
        out[mask & (out == 0)] = obj
    return out


def validate_box_prompts(sam: Sam, frozen: FrozenEmbeddings) -> float:
    """Mean box-prompt mSA over ``frozen``'s images (the validation score of decoder-only training),
    scored on the first ``MAX_VALIDATION_OBJECTS`` objects of each image."""
    scores = []
    for index, sample in enumerate(frozen.images):
        height, width = sample.input_size
        ids = object_ids(sample.labels)[:MAX_VALIDATION_OBJECTS]
        if not ids.size:
            continue
        predicted = box_prompt_labels(sam, frozen.embeddings(index), sample.labels, ids)[:height, :width]
        truth = sample.labels[:height, :width]
        scores.append(mean_segmentation_accuracy(predicted, np.where(np.isin(truth, ids), truth, 0)))
    return float(np.mean(scores)) if scores else float("nan")


MAX_AIS_VALIDATION_IMAGES = 6  # the AIS decoder costs ~10 s per 1024-px image on a CPU core


@torch.no_grad()
def validate_ais(decoder: AISDecoder, frozen: FrozenEmbeddings, params: AISParams) -> float:
    """Mean whole-image AIS mSA over ``frozen``'s images (decoder maps in SAM space, padding cut),
    at most ``MAX_AIS_VALIDATION_IMAGES`` of them, evenly spread."""
    scores = []
    was_training = decoder.training
    decoder.eval()
    n = len(frozen.images)
    chosen = np.unique(np.linspace(0, n - 1, min(n, MAX_AIS_VALIDATION_IMAGES)).round().astype(int))
    for index in chosen:
        sample = frozen.images[index]
        height, width = sample.input_size
        if not object_ids(sample.labels).size:
            continue
        maps = decoder(frozen.embeddings(index))[0, :, :height, :width].float().cpu().numpy()
        predicted = ais_segment(AISMaps(maps[0], maps[1], maps[2]), params)
        scores.append(mean_segmentation_accuracy(predicted, sample.labels[:height, :width]))
    decoder.train(was_training)
    return float(np.mean(scores)) if scores else float("nan")
