"""Finetuning SAM and its AIS decoder with micro_sam's objective.

One step = for each patch of the batch: encode the patch; sample ``n_objects_per_batch`` objects;
prompt each with a box or a positive point, then ``n_sub_iterations - 1`` times add two correction
points (positive in the false negatives, negative in the false positives; micro_sam's generator),
feeding the previous logits back as a mask prompt with probability ``mask_prompt_prob``, then
``mask_only_iterations`` rounds that add nothing but the previous logits (SAM's refinement rounds);
loss = Dice (min over multimask outputs) + MSE of the predicted IoU, averaged over sub-iterations;
plus the AIS decoder's Dice-based distance loss on foreground / center / boundary distance targets.
Boxes are the objects' bounding boxes with ``engine.prompt_noise`` noise (micro_sam's small
jitter by default; ``SAM_PROMPT_NOISE`` asks for SAM's jittered and loose boxes).

To make CPU training affordable everything runs on token-aligned *patches* of SAM space: the
encoder sees a patch with the position embeddings of its place in a full image (global-attention
relative positions are cut to the patch), and the mask decoder and the AIS decoder run on the
patch's token grid. Both decoders are convolutional / attention over tokens, so a model trained
on patches serves whole images unchanged.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from segment_anything.modeling.image_encoder import Attention, ImageEncoderViT

from ..automatic.ais import AISMaps, AISParams, ais_segment
from ..automatic.ais_decoder import AISDecoder
from ..encoder import block_forward
from ..errors import Cancelled, InvalidInput
from ..metrics import mean_segmentation_accuracy
from .prompt_noise import BoxNoise, noisy_boxes
from ..tiling import NativeTiling
from .curves import append_row, plot_curves, truncate_rows
from .frozen import FrozenEmbeddings, validate_ais, validate_box_prompts
from .data import (
    PATCH,
    Patch,
    TrainingImage,
    distance_targets,
    grid_patches,
    object_ids,
    object_rich_offset,
    random_patch,
)
from .loss import distance_loss, mask_losses
from .lora import apply_lora, merged_state_dict

CHECKPOINT_NAME = "last.pt"
BEST_NAME = "best.pt"
STATE_NAME = "train_state.pt"
CURVES_CSV = "curves.csv"
CURVES_PNG = "curves.png"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (hardware preset values filled in by ``make_config``)."""

    preset: str = "cpu"
    epochs: int = 10
    steps_per_epoch: int = 25
    time_budget_s: float = 0.0  # 0: no limit; otherwise stop (and finish cleanly) after this long
    lr: float = 1e-5  # micro_sam's finetuning rate; from-scratch training wants ~3e-4
    weight_decay: float = 0.01
    patch_size: int = 512  # encoder / prompt patch side in SAM-space pixels (multiple of 16)
    ais_patch_size: int = 256  # AIS decoder patch side (the decoder is the costliest part)
    batch_size: int = 1
    n_objects_per_batch: int = 5
    n_sub_iterations: int = 4
    mask_prompt_prob: float = 0.5
    box_distortion: float = 0.025  # box corner jitter: std as a fraction of the box side
    box_jitter_max_px: float = 0.0  # clip the jitter to this many SAM-space pixels (0: unclipped)
    loose_box_prob: float = 0.0  # fraction of boxes grown by a margin instead of jittered
    loose_box_max_px: float = 20.0  # a loose box's per-side margin is uniform in [0, this]
    mask_only_iterations: int = 0  # final rounds adding no prompt, only the previous logits
    lora_rank: int = 0
    train_decoder: bool = True
    freeze_encoder: bool = False  # micro_sam's freeze=["image_encoder"]: train prompt encoder + decoders only
    ais_weight: float = 1.0
    validation_patches: int = 4
    validate_boxes: bool = False  # joint training: validate on whole images with box prompts + AIS (as frozen)
    early_stopping: int = 10  # epochs without val improvement
    seed: int = 0
    native_tiling: NativeTiling | None = None  # the tiling the images were cut with; checkpoints carry it


# SAM's prompt noise (paper, appendix A): boxes jittered by N(0, 0.1 x side) up to 20 px (half of
# them loose by 0-20 px instead), a first box or uniform point, 8 correction rounds, then 2 rounds
# with only the previous mask. Training presets that want it pass ``**SAM_PROMPT_NOISE``.
SAM_PROMPT_NOISE: dict = dict(box_distortion=0.1, box_jitter_max_px=20.0, loose_box_prob=0.5,
                              loose_box_max_px=20.0, n_sub_iterations=9, mask_only_iterations=2)


def box_noise(config: TrainConfig) -> BoxNoise:
    """The box noise a config asks for."""
    return BoxNoise(config.box_distortion, config.box_jitter_max_px, config.loose_box_prob, config.loose_box_max_px)


HARDWARE_PRESETS: dict[str, dict] = {
    # micro_sam: "CPU: 10 objects"; we also shrink patches, the dominant cost on 2 cores.
    "cpu": dict(patch_size=512, ais_patch_size=256, batch_size=1, n_objects_per_batch=5, n_sub_iterations=4,
                steps_per_epoch=25, validation_patches=4),
    "gpu_small": dict(patch_size=512, ais_patch_size=512, batch_size=2, n_objects_per_batch=15,
                      n_sub_iterations=8, steps_per_epoch=100, validation_patches=16),
    "gpu_large": dict(patch_size=1024, ais_patch_size=1024, batch_size=2, n_objects_per_batch=25,
                      n_sub_iterations=8, steps_per_epoch=200, validation_patches=32),
}


def resolve_preset(preset: str) -> str:
    """'auto' -> a hardware preset for this machine."""
    if preset in ("", "auto"):
        if not torch.cuda.is_available():
            return "cpu"
        memory = torch.cuda.get_device_properties(0).total_memory
        return "gpu_large" if memory >= 40 * 2**30 else "gpu_small"
    if preset not in HARDWARE_PRESETS:
        raise InvalidInput(f"unknown training preset {preset!r}; use auto, {', '.join(HARDWARE_PRESETS)}")
    return preset


def _given(value) -> bool:
    """Whether an override was set: None, "" and numeric 0 mean "use the preset" (False is a value)."""
    if value is None or value == "":
        return False
    return isinstance(value, bool) or value != 0


def make_config(preset: str = "auto", **overrides) -> TrainConfig:
    """TrainConfig from a hardware preset plus explicit overrides (None / "" / numeric 0 are ignored)."""
    name = resolve_preset(preset)
    values = dict(HARDWARE_PRESETS[name], preset=name)
    values.update({k: v for k, v in overrides.items() if _given(v)})
    config = TrainConfig(**values)
    for side in (config.patch_size, config.ais_patch_size):
        if side % PATCH or not PATCH <= side <= 1024:
            raise InvalidInput(f"patch sizes must be multiples of {PATCH} in [{PATCH}, 1024], got {side}")
    if config.ais_patch_size > config.patch_size:
        config = replace(config, ais_patch_size=config.patch_size)
    return config


@dataclass(frozen=True)
class Progress:
    """What a progress callback receives after every step (val_msa: last validation, or None)."""

    epoch: int
    step: int
    total_steps: int
    losses: dict[str, float]
    val_msa: float | None
    eta_s: float
    lr: float


@dataclass
class TrainResult:
    """Outcome of ``train``: final state and where the checkpoints are."""

    step: int
    epoch: int
    best_val_msa: float | None
    checkpoint: Path
    best_checkpoint: Path
    stopped: str  # "epochs", "time_budget", "early_stopping"
    history: list[dict] = field(default_factory=list)


# -- model pieces on patches -------------------------------------------------------------------
def _center_rel_pos(rel_pos: torch.Tensor, size: int) -> torch.Tensor:
    """Relative-position table cut to offsets -(size-1)..size-1 (no interpolation)."""
    center = (rel_pos.shape[0] - 1) // 2
    if 2 * size - 1 >= rel_pos.shape[0]:
        return rel_pos
    return rel_pos[center - size + 1 : center + size]


def _cut_tables(attn: Attention, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rel-pos tables cut (not resized) to a patch's H x W grid."""
    return _center_rel_pos(attn.rel_pos_h, height), _center_rel_pos(attn.rel_pos_w, width)


def encode_patch(sam: Sam, rgb: np.ndarray, offset: tuple[int, int],
                 valid: tuple[int, int] | None = None) -> torch.Tensor:
    """Embeddings (1, 256, h/16, w/16) of a uint8 RGB SAM-space patch at pixel ``offset``.

    ``valid`` (rows, columns of image in the patch) zeroes the padding after normalising, as
    SAM's preprocessing does, so patches reaching into the padding look as they do when served.
    """
    device = sam.device
    pixels = torch.as_tensor(np.ascontiguousarray(rgb), device=device).permute(2, 0, 1)[None].float()
    pixels = (pixels - sam.pixel_mean) / sam.pixel_std
    if valid is not None:
        pixels[..., valid[0] :, :] = 0
        pixels[..., :, valid[1] :] = 0
    encoder = sam.image_encoder
    x = encoder.patch_embed(pixels)
    if encoder.pos_embed is not None:
        ty, tx = offset[0] // PATCH, offset[1] // PATCH
        x = x + encoder.pos_embed[:, ty : ty + x.shape[1], tx : tx + x.shape[2]]
    for block in encoder.blocks:
        x = block_forward(block, x, _cut_tables)
    return encoder.neck(x.permute(0, 3, 1, 2))


def _dense_pe(sam: Sam, offset: tuple[int, int], grid: tuple[int, int]) -> torch.Tensor:
    ty, tx = offset[0] // PATCH, offset[1] // PATCH
    return sam.prompt_encoder.get_dense_pe()[:, :, ty : ty + grid[0], tx : tx + grid[1]]


def _decode(sam: Sam, embeddings: torch.Tensor, pe: torch.Tensor, points, box, mask_logits, multimask: bool):
    """Mask decoder on a patch: returns (low-res logits (N, M, 4h, 4w), iou predictions (N, M))."""
    sparse, _ = sam.prompt_encoder(points=points, boxes=box, masks=None)
    n, grid = sparse.shape[0], embeddings.shape[-2:]
    if mask_logits is None:
        dense = sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(n, -1, *grid)
    else:
        dense = sam.prompt_encoder._embed_masks(mask_logits)
    return sam.mask_decoder(
        image_embeddings=embeddings, image_pe=pe, sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense, multimask_output=multimask,
    )


# -- prompts ---------------------------------------------------------------------------------
# All objects of a patch are handled in one batch of tensor operations: on a GPU a per-object
# loop with nonzero()/any() in Python synchronises with the device a few thousand times a step.
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
    pe = _dense_pe(sam, patch.offset, tuple(embeddings.shape[-2:]))
    use_box = bool(rng.random() < 0.5)
    points, box = _first_prompts(targets, patch.offset, rng, use_box, box_noise(config))
    mask_logits = None
    dice_total = iou_total = embeddings.sum() * 0.0
    n = config.n_sub_iterations + config.mask_only_iterations
    for iteration in range(n):
        multimask = iteration == 0 and not use_box  # one point is ambiguous: 3 outputs, min loss
        low_res, iou_pred = _decode(sam, embeddings, pe, points, box, mask_logits, multimask)
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


def _validation_set(sam: Sam, images: Sequence[TrainingImage], config: TrainConfig):
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
def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)  # readers never see a half-written file; a crash leaves the old one


def export_checkpoint(sam: Sam, decoder: AISDecoder, path: Path, half: bool = False,
                      native_tiling: NativeTiling | None = None) -> Path:
    """Write micro_sam's ``{"model_state", "decoder_state"}`` (LoRA merged) atomically.

    ``half`` stores fp16 tensors (half the file size); loaders cast to the model's dtype.
    ``native_tiling`` adds the serving tiling the model was trained on (micro_sam ignores it).
    """
    cast = (lambda t: t.half() if t.is_floating_point() else t) if half else (lambda t: t)
    payload = {
        "model_state": {k: cast(v) for k, v in merged_state_dict(sam).items()},
        "decoder_state": {k: cast(v.detach().cpu()) for k, v in decoder.state_dict().items()},
    }
    if native_tiling is not None:
        payload["native_tiling"] = native_tiling.as_mapping()
    _atomic_save(payload, Path(path))
    return Path(path)


def _save_train_state(out_dir: Path, sam, decoder, optimizer, scheduler, counters: dict) -> None:
    """Side file for resuming: full module state (LoRA included), optimizer, scheduler, counters."""
    _atomic_save({
        "sam": sam.state_dict(), "decoder": decoder.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "counters": counters,
    }, out_dir / STATE_NAME)


def _load_train_state(out_dir: Path, sam, decoder, optimizer, scheduler) -> dict | None:
    path = out_dir / STATE_NAME
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    sam.load_state_dict(state["sam"])
    decoder.load_state_dict(state["decoder"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return dict(state["counters"])


# -- the loop ----------------------------------------------------------------------------------
ProgressFn = Callable[[Progress], None]
CancelledFn = Callable[[], bool]


def _trainable_parameters(sam: Sam, decoder: AISDecoder, config: TrainConfig) -> list[torch.nn.Parameter]:
    if config.freeze_encoder:
        params = []
    else:
        params = apply_lora(sam, config.lora_rank) if config.lora_rank > 0 else list(sam.image_encoder.parameters())
    params += list(sam.prompt_encoder.parameters()) + list(sam.mask_decoder.parameters())
    if config.train_decoder:
        params += list(decoder.parameters())
    return params


def train_step(sam, decoder, images, optimizer, config: TrainConfig, rng, cancelled: CancelledFn | None,
               frozen: FrozenEmbeddings | None = None) -> dict:
    """One optimizer step over ``batch_size`` random patches; returns the loss parts.

    With ``frozen`` (a frozen encoder) patches and their embeddings come from its cache.
    """
    optimizer.zero_grad(set_to_none=True)
    parts = {"mask_dice": 0.0, "iou_mse": 0.0, "ais": 0.0}
    for _ in range(config.batch_size):
        _check(cancelled)
        if frozen is not None:
            patch, embeddings = frozen.random_patch(config.patch_size, rng)
        else:
            patch = random_patch(images[int(rng.integers(0, len(images)))], config.patch_size, rng)
            embeddings = encode_patch(sam, patch.rgb, patch.offset, patch.valid)
        dice, iou_mse = prompt_loss(sam, embeddings, patch, rng, config)
        loss = dice + iou_mse
        if config.train_decoder:
            _check(cancelled)
            ais = ais_loss(decoder, embeddings, patch, config.ais_patch_size, rng)
            loss = loss + config.ais_weight * ais
            parts["ais"] += ais.item() / config.batch_size
        if loss.requires_grad:  # a frozen-encoder patch without objects has nothing to learn
            (loss / config.batch_size).backward()
        parts["mask_dice"] += dice.item() / config.batch_size
        parts["iou_mse"] += iou_mse.item() / config.batch_size
    optimizer.step()
    parts["loss"] = parts["mask_dice"] + parts["iou_mse"] + config.ais_weight * parts["ais"]
    return parts


def _check(cancelled: CancelledFn | None) -> None:
    if cancelled is not None and cancelled():
        raise Cancelled("training was cancelled")


def check_trainable(sam: Sam) -> None:
    """Raise InvalidInput unless ``sam`` has a ViT encoder (the loop encodes patches ViT-wise)."""
    if not isinstance(sam.image_encoder, ImageEncoderViT):
        raise InvalidInput(
            "training supports SAM ViT encoders (vit_b/l/h and the small presets); "
            "vit_t models (MobileSAM TinyViT encoder) cannot be finetuned here"
        )


def train(
    sam: Sam,
    decoder: AISDecoder,
    train_images: Sequence[TrainingImage],
    val_images: Sequence[TrainingImage],
    config: TrainConfig,
    out_dir: str | Path,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train ``sam`` and ``decoder`` in place; checkpoints and curves go to ``out_dir``.

    Resumes from ``out_dir``'s side file when present. Writes ``last.pt`` after every epoch and
    ``best.pt`` on validation improvement (micro_sam format). ``cancelled()`` is polled between
    model passes; a True answer saves nothing more and raises ``Cancelled``.
    """
    check_trainable(sam)
    if not train_images:
        raise InvalidInput("no training images")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(asdict(config), indent=1))
    torch.manual_seed(config.seed)
    sam.train()
    decoder.train()
    optimizer = torch.optim.AdamW(_trainable_parameters(sam, decoder, config), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.9, patience=3)
    counters = {"step": 0, "epoch": 0, "best_val_msa": None, "bad_epochs": 0, "train_seconds": 0.0}
    if resume:
        counters.update(_load_train_state(out_dir, sam, decoder, optimizer, scheduler) or {})
    truncate_rows(out_dir / CURVES_CSV, counters["step"])
    rng = np.random.default_rng([config.seed, counters["step"]])  # resumed runs draw fresh patches
    frozen = FrozenEmbeddings(sam, train_images) if config.freeze_encoder else None
    val_patches = _validation_set(sam, val_images, config)
    total_steps = config.epochs * config.steps_per_epoch
    started = time.monotonic() - counters["train_seconds"]
    val_msa = counters["best_val_msa"]
    stopped = "epochs"
    while counters["epoch"] < config.epochs:
        for _ in range(config.steps_per_epoch):
            losses = train_step(sam, decoder, train_images, optimizer, config, rng, cancelled, frozen)
            counters["step"] += 1
            elapsed = time.monotonic() - started
            eta = _eta(elapsed, counters["step"], total_steps, config.time_budget_s)
            append_row(out_dir / CURVES_CSV, {"step": counters["step"], "epoch": counters["epoch"],
                                              "lr": optimizer.param_groups[0]["lr"], **losses, "val_msa": ""})
            if progress is not None:
                progress(Progress(counters["epoch"], counters["step"], total_steps, losses, val_msa, eta,
                                  optimizer.param_groups[0]["lr"]))
            if config.time_budget_s and elapsed >= config.time_budget_s:
                stopped = "time_budget"
                break
        counters["epoch"] += 1
        counters["train_seconds"] = time.monotonic() - started
        val_msa = _end_of_epoch(sam, decoder, val_patches, scheduler, counters, out_dir, config)
        _save_train_state(out_dir, sam, decoder, optimizer, scheduler, counters)
        if progress is not None:
            progress(Progress(counters["epoch"], counters["step"], total_steps, {}, val_msa, 0.0,
                              optimizer.param_groups[0]["lr"]))
        if stopped == "time_budget":
            break
        if val_patches and counters["bad_epochs"] >= config.early_stopping:
            stopped = "early_stopping"
            break
    sam.eval()
    decoder.eval()
    if not val_patches or not (out_dir / BEST_NAME).exists():
        export_checkpoint(sam, decoder, out_dir / BEST_NAME, native_tiling=config.native_tiling)
    return TrainResult(counters["step"], counters["epoch"], counters["best_val_msa"], out_dir / CHECKPOINT_NAME,
                       out_dir / BEST_NAME, stopped)


def _eta(elapsed: float, step: int, total_steps: int, budget: float) -> float:
    remaining = elapsed / max(step, 1) * max(total_steps - step, 0)
    return min(remaining, max(budget - elapsed, 0.0)) if budget else remaining


def _end_of_epoch(sam, decoder, val_patches, scheduler, counters: dict, out_dir: Path,
                  config: TrainConfig) -> float | None:
    """Validate, step the scheduler, write last/best checkpoints and the curves; returns val mSA."""
    tiling = config.native_tiling
    export_checkpoint(sam, decoder, out_dir / CHECKPOINT_NAME, native_tiling=tiling)
    val_msa = None
    if val_patches:
        sam.eval()
        if isinstance(val_patches, FrozenEmbeddings) and not config.freeze_encoder:
            val_patches.clear()  # the encoder trained since the last validation
        val_msa = validate(sam, decoder, val_patches, config.train_decoder)
        sam.train()
        scheduler.step(val_msa)
        best = counters["best_val_msa"]
        if best is None or val_msa > best:
            counters["best_val_msa"], counters["bad_epochs"] = val_msa, 0
            export_checkpoint(sam, decoder, out_dir / BEST_NAME, native_tiling=tiling)
        else:
            counters["bad_epochs"] += 1
        append_row(out_dir / CURVES_CSV, {"step": counters["step"], "epoch": counters["epoch"], "lr": "",
                                          "mask_dice": "", "iou_mse": "", "ais": "", "loss": "",
                                          "val_msa": val_msa})
    if (out_dir / CURVES_CSV).exists():
        plot_curves(out_dir / CURVES_CSV, out_dir / CURVES_PNG)
    return val_msa
