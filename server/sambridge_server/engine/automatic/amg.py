"""Automatic mask generation (AMG): prompt SAM with a point grid, filter, de-duplicate, merge.

Follows micro_sam's ``AutomaticMaskGenerator`` / ``TiledAutomaticMaskGenerator`` (itself SAM's
``SamAutomaticMaskGenerator``): multimask predictions for every grid point, filtered by predicted
IoU, stability score and box NMS, then painted largest-first into a label image. Faster because
it (1) runs the prompts' shared decoder (``prompts.shared_decoder``: the image side computed once,
attention in the prompt tokens' rank) and never upscales the masks of prompts whose masks all
fail the predicted-IoU test, in small passes on a CPU, (2) drops masks failing the predicted-IoU test before
upsampling them to full resolution (micro_sam upsamples and RLE-encodes all 3 x 1024 masks),
(3) never run-length encodes, and (4) keeps masks of a tile at tile size instead of padding them
to the full image.

Two steps, so callers can cache the expensive one per image:
- ``amg_candidates`` / ``embeddings_amg_candidates`` (expensive): mask decoder over the point grid.
- ``amg_segment`` (cheaper): upsampling, stability, NMS, painting for given ``AMGParams``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.measure import label as connected_components
from torchvision.ops import batched_nms

from ..embeddings import ImageEmbeddings
from ..errors import InvalidInput
from ..tiling import Block
from ..prompts.shared_decoder import predict_passing_masks, shared_image, sparse_embeddings

_EDGE_TOLERANCE = 20.0  # px; SAM's is_box_near_crop_edge atol


@dataclass(frozen=True)
class AMGParams:
    """AMG filtering parameters; defaults are micro_sam's ``AutomaticMaskGenerator.generate``."""

    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_nms_thresh: float = 0.7
    min_mask_region_area: int = 0
    min_object_size: int = 0
    with_background: bool = True


# micro_sam's per-model tuned settings (annotator widget defaults, _model_settings.AMG_SETTINGS).
TUNED_AMG_PARAMS: dict[str, AMGParams] = {
    "vit_t_lm": AMGParams(0.6, 0.65, min_object_size=100),
    "vit_b_lm": AMGParams(0.65, 0.7, min_object_size=100),
    "vit_l_lm": AMGParams(0.65, 0.73, min_object_size=100),
    "vit_h_lm": AMGParams(0.65, 0.7, min_object_size=100),
    "vit_t_em_organelles": AMGParams(0.75, 0.75, min_object_size=100),
    "vit_b_em_organelles": AMGParams(0.75, 0.75, min_object_size=100),
    "vit_l_em_organelles": AMGParams(0.8, 0.8, min_object_size=100),
    "vit_h_em_organelles": AMGParams(0.8, 0.8, min_object_size=100),
}


def default_amg_params(model_name: str | None = None) -> AMGParams:
    """Tuned parameters for a known model name, micro_sam's generic defaults otherwise."""
    return TUNED_AMG_PARAMS.get(model_name or "", AMGParams())


@dataclass
class AMGCandidates:
    """Grid-prompted masks of one image region that passed the predicted-IoU pre-filter.

    ``low_res_logits`` (N, 256, 256) float32, ``iou_preds`` (N,), ``points`` (N, 2) xy in region
    pixels; ``crop_box`` = the region (y0, x0, y1, x1) in the full image of shape ``image_shape``.
    """

    low_res_logits: torch.Tensor
    iou_preds: torch.Tensor
    points: np.ndarray
    input_size: tuple[int, int]
    crop_box: Block
    image_shape: tuple[int, int]
    min_pred_iou: float

    @property
    def region_size(self) -> tuple[int, int]:
        """(H, W) of the region the masks live in."""
        y0, x0, y1, x1 = self.crop_box
        return (y1 - y0, x1 - x0)


@dataclass(frozen=True)
class AMGResult:
    """Label image (uint32, 0 = background) and per-label predicted IoU / stability (index = label - 1)."""

    labels: np.ndarray
    pred_iou: np.ndarray
    stability: np.ndarray


def point_grid(points_per_side: int, size: tuple[int, int]) -> np.ndarray:
    """Regular grid of (x, y) points at pixel-cell centers of an image of ``size`` (H, W)."""
    offset = 1.0 / (2 * points_per_side)
    side = np.linspace(offset, 1 - offset, points_per_side)
    xs, ys = np.meshgrid(side, side)  # row-major: y outer, x inner (as SAM's build_point_grid)
    return np.stack([xs.ravel() * size[1], ys.ravel() * size[0]], axis=-1)


# Measured on two CPU cores (shared decoder, 64 grid points): 22.7 ms per prompt in passes of 1,
# 18.4 ms in passes of 4, 22.9 ms in passes of 8; larger passes no longer fit the caches.
CPU_POINTS_PER_PASS = 4


def decoder_batch_size(points_per_batch: int, device: torch.device) -> int:
    """Prompts per decoder pass: ``points_per_batch`` on a GPU, at most ``CPU_POINTS_PER_PASS`` on a CPU.

    The masks do not depend on it (up to float rounding): it only trades memory for speed.
    """
    return points_per_batch if device.type != "cpu" else min(points_per_batch, CPU_POINTS_PER_PASS)


def _resized_longest_side(size: tuple[int, int], target: int) -> tuple[int, int]:
    """SAM's ResizeLongestSide output shape."""
    scale = target / max(size)
    return int(size[0] * scale + 0.5), int(size[1] * scale + 0.5)


@torch.inference_mode()
def amg_candidates(
    sam: torch.nn.Module,
    features: np.ndarray,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    points_per_side: int = 32,
    points_per_batch: int = 64,
    min_pred_iou: float = -math.inf,
    crop_box: Block | None = None,
    image_shape: tuple[int, int] | None = None,
) -> AMGCandidates:
    """Run SAM's prompt encoder + mask decoder for every grid point (3 masks each).

    ``sam`` is a segment_anything ``Sam`` (uses ``prompt_encoder``, ``mask_decoder``,
    ``image_encoder.img_size``). Masks with predicted IoU <= ``min_pred_iou`` are dropped now
    (pass the intended ``pred_iou_thresh`` to save memory and time); ``amg_segment`` then only
    accepts ``pred_iou_thresh >= min_pred_iou``.
    """
    device = next(sam.mask_decoder.parameters()).device
    features = np.asarray(features, dtype=np.float32)
    points = point_grid(points_per_side, original_size)
    new_h, new_w = _resized_longest_side(original_size, sam.image_encoder.img_size)
    scale = np.array([new_w / original_size[1], new_h / original_size[0]])
    shared = shared_image(sam, features)
    if shared is None:  # a decoder of another layout: the stock decoder call needs these
        embeddings = torch.from_numpy(features).to(device)
        dense_pe = sam.prompt_encoder.get_dense_pe()
    per_pass = decoder_batch_size(points_per_batch, device)

    logits, ious, kept_points = [], [], []
    for start in range(0, len(points), per_pass):
        batch = points[start : start + per_pass]
        coords = torch.as_tensor(batch * scale, dtype=torch.float, device=device)[:, None, :]
        labels = torch.ones(coords.shape[:2], dtype=torch.int, device=device)
        if shared is not None:
            sparse = sparse_embeddings(sam, (coords, labels), None, len(batch))
            low_res, iou_pred, rows = predict_passing_masks(sam, shared, sparse, min_pred_iou)
            iou_pred = iou_pred[rows]
            batch = batch[rows.cpu().numpy()]
        else:
            sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
            low_res, iou_pred = sam.mask_decoder(
                image_embeddings=embeddings, image_pe=dense_pe, sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense, multimask_output=True,
            )
        keep = iou_pred.flatten() > min_pred_iou
        logits.append(low_res.flatten(0, 1)[keep].float().cpu())
        ious.append(iou_pred.flatten()[keep].float().cpu())
        kept_points.append(np.repeat(batch, low_res.shape[1], axis=0)[keep.cpu().numpy()])

    if crop_box is None:
        crop_box = (0, 0, original_size[0], original_size[1])
    return AMGCandidates(
        low_res_logits=torch.cat(logits), iou_preds=torch.cat(ious),
        points=np.concatenate(kept_points), input_size=tuple(input_size), crop_box=tuple(crop_box),
        image_shape=tuple(image_shape or original_size), min_pred_iou=min_pred_iou,
    )


def embeddings_amg_candidates(
    sam: torch.nn.Module,
    embeddings: ImageEmbeddings,
    points_per_side: int = 32,
    points_per_batch: int = 64,
    min_pred_iou: float = -math.inf,
) -> list[AMGCandidates]:
    """Point-grid masks for every tile of engine ``ImageEmbeddings`` (one entry when untiled).

    Each tile is prompted on its outer block (tile + halo, what the encoder saw), as micro_sam.
    """
    return [
        amg_candidates(
            sam, embeddings.tile_features(i), embeddings.input_sizes[i], tile.shape, points_per_side,
            points_per_batch, min_pred_iou, crop_box=tile.outer, image_shape=embeddings.image_shape,
        )
        for i, tile in enumerate(embeddings.grid.tiles)
    ]


def _upsample(logits: torch.Tensor, input_size: tuple[int, int], size: tuple[int, int], side: int) -> torch.Tensor:
    """SAM's postprocess_masks: 256 -> side x side, crop to input_size, resize to ``size``."""
    x = F.interpolate(logits[:, None], (side, side), mode="bilinear", align_corners=False)
    x = x[..., : input_size[0], : input_size[1]]
    return F.interpolate(x, size, mode="bilinear", align_corners=False)[:, 0]


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> (N, 4) xyxy boxes with inclusive max edges; [0, 0, 0, 0] when empty."""
    rows = masks.any(dim=2)
    cols = masks.any(dim=1)
    h, w = masks.shape[1:]
    y_idx = torch.arange(h, device=masks.device)
    x_idx = torch.arange(w, device=masks.device)
    y1 = (rows * y_idx).amax(dim=1)
    x1 = (cols * x_idx).amax(dim=1)
    y0 = torch.where(rows, y_idx, h).amin(dim=1)
    x0 = torch.where(cols, x_idx, w).amin(dim=1)
    boxes = torch.stack([x0, y0, x1, y1], dim=1)
    empty = ~rows.any(dim=1)
    return boxes.masked_fill(empty[:, None], 0)


@dataclass
class _Masks:
    """Binary masks of one region with their global boxes and scores."""

    masks: torch.Tensor  # (N, h, w) bool, region-local
    boxes: torch.Tensor  # (N, 4) xyxy float, global
    iou_preds: torch.Tensor
    stability: torch.Tensor
    crop_box: Block

    def select(self, keep: torch.Tensor) -> "_Masks":
        """Subset by boolean mask or index tensor."""
        return _Masks(self.masks[keep], self.boxes[keep], self.iou_preds[keep], self.stability[keep],
                      self.crop_box)


def _near_crop_edge(boxes: torch.Tensor, crop_box: Block, image_shape: tuple[int, int]) -> torch.Tensor:
    """Boxes touching the region border where that border is not the image border."""
    y0, x0, y1, x1 = crop_box
    crop = torch.tensor([x0, y0, x1, y1], dtype=torch.float)
    image = torch.tensor([0, 0, image_shape[1], image_shape[0]], dtype=torch.float)
    near_crop = torch.isclose(boxes, crop[None], atol=_EDGE_TOLERANCE, rtol=0)
    near_image = torch.isclose(boxes, image[None], atol=_EDGE_TOLERANCE, rtol=0)
    return (near_crop & ~near_image).any(dim=1)


def _filter_region(candidates: AMGCandidates, params: AMGParams, chunk: int = 64) -> _Masks:
    """Per-region filtering as micro_sam's _postprocess_batch: IoU, stability, crop edge, NMS."""
    keep_iou = torch.nonzero(candidates.iou_preds > params.pred_iou_thresh).flatten()
    y0, x0 = candidates.crop_box[:2]
    offset = torch.tensor([x0, y0, x0, y0])
    side = 4 * candidates.low_res_logits.shape[-1]  # 256 -> encoder input side (1024)
    masks, boxes, stability, kept = [], [], [], []
    for start in range(0, len(keep_iou), chunk):
        index = keep_iou[start : start + chunk]
        logits = _upsample(candidates.low_res_logits[index], candidates.input_size,
                           candidates.region_size, side)
        # stability: IoU of the masks thresholded at +offset and -offset (mask threshold is 0)
        high = (logits > params.stability_score_offset).sum(dim=(1, 2), dtype=torch.int32)
        low = (logits > -params.stability_score_offset).sum(dim=(1, 2), dtype=torch.int32)
        score = high / low
        stable = score >= params.stability_score_thresh
        binary = logits[stable] > 0
        masks.append(binary)
        boxes.append(masks_to_boxes(binary) + offset)
        stability.append(score[stable])
        kept.append(index[stable])
    region_h, region_w = candidates.region_size
    if not kept:
        empty = torch.zeros((0,), dtype=torch.long)
        return _Masks(torch.zeros((0, region_h, region_w), dtype=torch.bool), torch.zeros((0, 4)),
                      torch.zeros(0), torch.zeros(0), candidates.crop_box).select(empty)
    data = _Masks(torch.cat(masks), torch.cat(boxes).float(), candidates.iou_preds[torch.cat(kept)],
                  torch.cat(stability), candidates.crop_box)
    data = data.select(~_near_crop_edge(data.boxes, candidates.crop_box, candidates.image_shape))
    keep = batched_nms(data.boxes, data.iou_preds, torch.zeros(len(data.boxes)), params.box_nms_thresh)
    return data.select(keep)


def _remove_small_regions(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, bool]:
    """Fill holes and drop islands smaller than ``min_area`` (8-connected, as SAM's cv2 version)."""
    changed = False
    for fill_holes in (True, False):
        working = mask ^ fill_holes
        regions, n_regions = ndimage.label(working, structure=np.ones((3, 3), bool))
        sizes = np.bincount(regions.ravel(), minlength=n_regions + 1)[1:]
        small = np.flatnonzero(sizes < min_area) + 1
        if len(small) == 0:
            continue
        changed = True
        if fill_holes:
            mask = np.isin(regions, np.concatenate([[0], small]))  # mask pixels + small holes
        else:
            large = np.setdiff1d(np.arange(1, n_regions + 1), small)
            mask = np.isin(regions, large if len(large) else [int(np.argmax(sizes)) + 1])
    return mask, changed


def _postprocess_small_regions(data: _Masks, min_area: int, nms_thresh: float) -> _Masks:
    """SAM's min_mask_region_area step: clean masks, prefer unchanged ones in a second NMS."""
    cleaned, scores = [], []
    for mask in data.masks.numpy():
        mask, changed = _remove_small_regions(mask, min_area)
        cleaned.append(torch.from_numpy(mask))
        scores.append(0.0 if changed else 1.0)
    masks = torch.stack(cleaned)
    y0, x0 = data.crop_box[:2]
    boxes = (masks_to_boxes(masks) + torch.tensor([x0, y0, x0, y0])).float()
    keep = batched_nms(boxes, torch.tensor(scores), torch.zeros(len(boxes)), nms_thresh)
    return _Masks(masks, boxes, data.iou_preds, data.stability, data.crop_box).select(keep)


def _paint(regions: Sequence[_Masks], image_shape: tuple[int, int], params: AMGParams) -> AMGResult:
    """micro_sam's mask_data_to_segmentation (merge_exclusively=False): paint largest first, so
    smaller masks win overlaps; split disconnected parts; drop small objects and the background."""
    entries = [(region, i) for region in regions for i in range(len(region.masks))]
    areas = np.array([int(region.masks[i].sum()) for region, i in entries], dtype=np.int64)
    order = np.argsort(-areas, kind="stable")
    painted = np.zeros(image_shape, dtype=np.uint32)
    for seg_id, index in enumerate(order, start=1):
        region, i = entries[index]
        y0, x0, y1, x1 = region.crop_box
        painted[y0:y1, x0:x1][region.masks[i].numpy()] = seg_id
    scores_iou = np.array([float(entries[k][0].iou_preds[entries[k][1]]) for k in order])
    scores_stab = np.array([float(entries[k][0].stability[entries[k][1]]) for k in order])

    components = connected_components(painted, background=0, connectivity=1).astype(np.uint32)
    # each component inherits the scores of the mask it was painted from
    source = np.zeros(int(components.max()) + 1, dtype=np.int64)
    source[components.ravel()] = painted.ravel()
    sizes = np.bincount(components.ravel(), minlength=len(source))
    remove = sizes < params.min_object_size
    remove[0] = False
    if params.with_background and sizes.size:
        remove[int(np.argmax(sizes))] = True  # may be 0, then nothing is removed (as micro_sam)
        remove[0] = False
    keep_ids = np.flatnonzero(~remove)
    keep_ids = keep_ids[keep_ids > 0]
    lookup = np.zeros(len(source), dtype=np.uint32)
    lookup[keep_ids] = np.arange(1, len(keep_ids) + 1, dtype=np.uint32)
    mask_index = source[keep_ids] - 1
    return AMGResult(lookup[components], scores_iou[mask_index].astype(np.float32),
                     scores_stab[mask_index].astype(np.float32))


@torch.inference_mode()
def amg_segment(candidates: AMGCandidates | Sequence[AMGCandidates], params: AMGParams = AMGParams()) -> AMGResult:
    """Instance labels from grid-prompted masks (one region, or the tiles of a tiled image).

    Tiles: masks touching an inner tile border are dropped, the rest are de-duplicated across
    tiles by NMS on global boxes, preferring masks from smaller tiles, as micro_sam does.
    """
    regions = [candidates] if isinstance(candidates, AMGCandidates) else list(candidates)
    if not regions:
        raise InvalidInput("no AMG candidates given")
    for region in regions:
        if params.pred_iou_thresh < region.min_pred_iou:
            raise InvalidInput(
                f"pred_iou_thresh {params.pred_iou_thresh} is below the candidates' pre-filter "
                f"{region.min_pred_iou}; recompute the candidates"
            )
    filtered = [_filter_region(region, params) for region in regions]
    if len(filtered) > 1:
        filtered = _nms_across_regions(filtered, params.crop_nms_thresh)
    if params.min_mask_region_area > 0:
        nms_thresh = max(params.box_nms_thresh, params.crop_nms_thresh)
        filtered = [_postprocess_small_regions(region, params.min_mask_region_area, nms_thresh)
                    if len(region.masks) else region for region in filtered]
    return _paint(filtered, regions[0].image_shape, params)


def _nms_across_regions(regions: list[_Masks], nms_thresh: float) -> list[_Masks]:
    """One NMS over all regions' global boxes, scored 1 / region area (smaller tiles win)."""
    boxes = torch.cat([region.boxes for region in regions])
    if len(boxes) == 0:
        return regions
    region_scores = [1.0 / ((r.crop_box[2] - r.crop_box[0]) * (r.crop_box[3] - r.crop_box[1])) for r in regions]
    scores = torch.cat([torch.full((len(r.boxes),), s) for r, s in zip(regions, region_scores)])
    keep = batched_nms(boxes, scores, torch.zeros(len(boxes)), nms_thresh)
    owner = torch.cat([torch.full((len(r.boxes),), i) for i, r in enumerate(regions)])
    local = torch.cat([torch.arange(len(r.boxes)) for r in regions])
    # keep NMS order (score, then torchvision's order) across regions, as micro_sam's filtering does
    return [regions[int(owner[k])].select(local[k : k + 1]) for k in keep]
