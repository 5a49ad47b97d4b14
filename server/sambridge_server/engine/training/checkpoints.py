"""Checkpoints written by training: the exported model and the resumable training state."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from segment_anything.modeling import Sam

from ..files import atomic_path
from ..automatic.ais_decoder import AISDecoder
from ..tiling import NativeTiling
from .lora import merged_state_dict
from .config import Progress, STATE_NAME


def _atomic_save(obj, path: Path) -> None:
    with atomic_path(path) as tmp:  # readers never see a half-written file; a crash leaves the old one
        torch.save(obj, tmp)


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


def save_train_state(out_dir: Path, sam, decoder, optimizer, scheduler, counters: dict) -> None:
    """Side file for resuming: full module state (LoRA included), optimizer, scheduler, counters."""
    _atomic_save({
        "sam": sam.state_dict(), "decoder": decoder.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "counters": counters,
    }, out_dir / STATE_NAME)


def load_train_state(out_dir: Path, sam, decoder, optimizer, scheduler) -> dict | None:
    """Restore a run saved by ``save_train_state``; its counters, or None when there is nothing to resume."""
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
TrainingProgressFn = Callable[[Progress], None]
