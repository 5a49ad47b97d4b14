"""Finetuning SAM and its AIS decoder with micro_sam's objective.

One step = for each patch of the batch: encode the patch; sample ``n_objects_per_batch`` objects;
prompt each with a box or a positive point, then ``n_sub_iterations - 1`` times add two correction
points (positive in the false negatives, negative in the false positives; micro_sam's generator),
feeding the previous logits back as a mask prompt with probability ``mask_prompt_prob``, then
``mask_only_iterations`` rounds that add nothing but the previous logits (SAM's refinement rounds);
loss = Dice (min over multimask outputs) + MSE of the predicted IoU, averaged over sub-iterations;
plus the AIS decoder's Dice-based distance loss on foreground / center / boundary distance targets.
Boxes are the objects' bounding boxes with ``prompt_noise`` noise (micro_sam's small
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
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.modeling.image_encoder import ImageEncoderViT

from ..callbacks import CancelledFn, raise_if_cancelled
from ..automatic.ais_decoder import AISDecoder
from ..errors import InvalidInput
from .curves import append_row, plot_curves, truncate_rows
from .frozen import FrozenEmbeddings
from .data import (
    TrainingImage,
    random_patch,
)
from .lora import apply_lora
from .objective import ais_loss, prompt_loss
from .checkpoints import TrainingProgressFn, export_checkpoint, load_train_state, save_train_state
from .config import BEST_NAME, CHECKPOINT_NAME, CURVES_CSV, CURVES_PNG, Progress, TrainConfig, TrainResult
from .validation import validate, validation_set
from .patch_encoding import encode_patch


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
    raise_if_cancelled(cancelled, "training was cancelled")


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
    progress: TrainingProgressFn | None = None,
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
        counters.update(load_train_state(out_dir, sam, decoder, optimizer, scheduler) or {})
    truncate_rows(out_dir / CURVES_CSV, counters["step"])
    rng = np.random.default_rng([config.seed, counters["step"]])  # resumed runs draw fresh patches
    frozen = FrozenEmbeddings(sam, train_images) if config.freeze_encoder else None
    val_patches = validation_set(sam, val_images, config)
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
        save_train_state(out_dir, sam, decoder, optimizer, scheduler, counters)
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
