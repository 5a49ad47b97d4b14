"""micro_sam's training objective on one patch: simulated interactive prompting with
corrections (mask decoder loss) and the AIS decoder's distance loss."""

from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam

from ..automatic.ais_decoder import AISDecoder
from .prompt_noise import BoxNoise, noisy_boxes
from .data import (
    PATCH,
    Patch,
    distance_targets,
    object_ids,
    object_rich_offset,
)
from .loss import distance_loss, mask_losses
from .config import TrainConfig, box_noise
from .patch_encoding import decode_patch, dense_pe


def _any(masks: torch.Tensor) -> torch.Tensor:
    """(N,) whether each (H, W) mask of an (N, H, W) stack has a pixel set."""
    return masks.flatten(1).any(1)


def _pick(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Per object ``first``'s mask where it is non-empty, else ``second``'s."""
    return torch.where(_any(first)[:, None, None], first, second)


def _bounding_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, 4) (y0, x0, y1, x1) half-open bounding boxes of non-empty (N, H, W) masks."""
    rows, cols = masks.any(2), masks.any(1)
    height, width = rows.shape[1], cols.shape[1]
    y0, x0 = rows.int().argmax(1), cols.int().argmax(1)
    y1, x1 = height - rows.flip(1).int().argmax(1), width - cols.flip(1).int().argmax(1)
    return torch.stack([y0, x0, y1, x1], 1)


def _uniform_pixels(regions: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(N, 2) (y, x) of one uniformly random pixel of each non-empty (N, H, W) region."""
    n, _, width = regions.shape
    generator = torch.Generator(device=regions.device).manual_seed(int(rng.integers(0, 2**62)))
    scores = torch.rand(regions.flatten(1).shape, generator=generator, device=regions.device)
    index = scores.masked_fill_(~regions.flatten(1), -1.0).argmax(1)
    return torch.stack([index // width, index % width], 1)


def _first_prompts(masks: torch.Tensor, offset, rng: np.random.Generator, use_box: bool, noise: BoxNoise):
    """Initial prompts for (N, H, W) object masks: noisy boxes xyxy clipped to the patch, or one
    positive point each, uniform inside the object (SAM-space)."""
    oy, ox = offset
    if use_box:
        y0, x0, y1, x1 = _bounding_boxes(masks).float().unbind(1)
        boxes = torch.stack([x0 + ox, y0 + oy, x1 + ox, y1 + oy], 1)
        bounds = (ox, oy, ox + masks.shape[2], oy + masks.shape[1])
        return None, noisy_boxes(boxes, rng, noise, bounds)
    coords = _uniform_pixels(masks, rng)[:, None]  # (N, 1, 2) as (y, x)
    return _to_sam_points(coords, offset, torch.ones(len(masks), 1, device=masks.device)), None


def _to_sam_points(coords_yx: torch.Tensor, offset, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch (y, x) pixel coordinates -> SAM-space (x, y) pixel centres with labels."""
    shift = torch.tensor([offset[1], offset[0]], dtype=torch.float32, device=coords_yx.device)
    return coords_yx.flip(-1).float() + 0.5 + shift, labels


def _box_peripheries(targets: torch.Tensor, margin: int = 3) -> torch.Tensor:
    """Per object the pixels of its bounding box grown by ``margin`` that are not the object."""
    y0, x0, y1, x1 = _bounding_boxes(targets).unbind(1)
    ys = torch.arange(targets.shape[1], device=targets.device)
    xs = torch.arange(targets.shape[2], device=targets.device)
    in_rows = (ys[None] >= (y0 - margin)[:, None]) & (ys[None] < (y1 + margin)[:, None])
    in_cols = (xs[None] >= (x0 - margin)[:, None]) & (xs[None] < (x1 + margin)[:, None])
    return in_rows[:, :, None] & in_cols[:, None, :] & ~targets


def _correction_points(pred: torch.Tensor, target: torch.Tensor, rng: np.random.Generator):
    """micro_sam's IterativePromptGenerator: per object one positive and one negative point.

    Positive: a random false-negative pixel (else a correctly predicted one); negative: a random
    false-positive pixel (else the box periphery, else any background). Returns (N, 2, 2) (y, x)
    coordinates and (N, 2) labels.
    """
    positive = _pick(target & ~pred, _pick(target & pred, target))
    negative = _pick(pred & ~target, _pick(_box_peripheries(target), _pick(~target, target)))
    coords = torch.stack([_uniform_pixels(positive, rng), _uniform_pixels(negative, rng)], 1)
    labels = torch.tensor([[1.0, 0.0]], device=pred.device).expand(len(coords), 2)
    return coords, labels


# -- losses of one patch ----------------------------------------------------------------------
def prompt_loss(sam: Sam, embeddings: torch.Tensor, patch: Patch, rng: np.random.Generator,
                config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Iterative-prompting loss of one patch: (mean Dice, mean IoU MSE) over all rounds
    (``n_sub_iterations`` prompting rounds, then ``mask_only_iterations`` mask-only rounds)."""
    ids = object_ids(patch.labels)
    device = embeddings.device
    if len(ids) == 0:
        zero = embeddings.sum() * 0.0
        return zero, zero
    chosen = rng.choice(ids, size=min(len(ids), config.n_objects_per_batch), replace=False)
    targets = torch.as_tensor(patch.labels[None] == chosen[:, None, None], device=device)
    pe = dense_pe(sam, patch.offset, tuple(embeddings.shape[-2:]))
    use_box = bool(rng.random() < 0.5)
    points, box = _first_prompts(targets, patch.offset, rng, use_box, box_noise(config))
    mask_logits = None
    dice_total = iou_total = embeddings.sum() * 0.0
    n = config.n_sub_iterations + config.mask_only_iterations
    for iteration in range(n):
        multimask = iteration == 0 and not use_box  # one point is ambiguous: 3 outputs, min loss
        low_res, iou_pred = decode_patch(sam, embeddings, pe, points, box, mask_logits, multimask)
        logits = F.interpolate(low_res, size=patch.labels.shape, mode="bilinear", align_corners=False)
        dice, iou_mse, best = mask_losses(logits, iou_pred, targets)
        dice_total, iou_total = dice_total + dice, iou_total + iou_mse
        if iteration == n - 1:
            break
        chosen_low = low_res[torch.arange(len(best)), best][:, None].detach()
        if iteration + 1 >= config.n_sub_iterations:  # next: a refinement round, nothing new but the mask
            mask_logits = chosen_low
            continue
        pred = logits[torch.arange(len(best)), best].detach() > 0
        new_coords, new_labels = _correction_points(pred, targets, rng)
        new_points = _to_sam_points(new_coords, patch.offset, new_labels)
        points = new_points if points is None else (
            torch.cat([points[0], new_points[0]], 1), torch.cat([points[1], new_points[1]], 1))
        mask_logits = chosen_low if rng.random() < config.mask_prompt_prob else None
    return dice_total / n, iou_total / n


def ais_loss(decoder: AISDecoder, embeddings: torch.Tensor, patch: Patch, ais_patch_size: int,
             rng: np.random.Generator) -> torch.Tensor:
    """Distance loss of the AIS decoder on a token-aligned window of the patch holding objects
    where the patch has them (an empty window's Dice loss is a constant 1 per map)."""
    tokens = ais_patch_size // PATCH
    extent = (embeddings.shape[-2] * PATCH, embeddings.shape[-1] * PATCH)
    y, x = object_rich_offset(patch.labels, extent, ais_patch_size, rng, min_objects=1)
    ty, tx = y // PATCH, x // PATCH
    window = embeddings[:, :, ty : ty + tokens, tx : tx + tokens]
    labels = patch.labels[ty * PATCH : (ty + tokens) * PATCH, tx * PATCH : (tx + tokens) * PATCH]
    target = torch.as_tensor(distance_targets(labels)[None], device=embeddings.device)
    return distance_loss(decoder(window), target)


# -- validation ---------------------------------------------------------------------------------
