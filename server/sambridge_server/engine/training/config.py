"""Training settings (presets, overrides), progress reports and results; the job folder's file names."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ..errors import InvalidInput
from .prompt_noise import BoxNoise
from ..tiling import NativeTiling
from .data import (
    PATCH,
)


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
