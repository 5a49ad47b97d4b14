"""Model families (SAM1-style ``sam`` and ``sam2``): what each model can do, and loading either kind.

Servicers and the Workspace ask here instead of testing types: ``capabilities_of`` lists what a
model supports (``models()`` reports it), ``require_capability`` refuses the rest with
FailedPrecondition naming the model, and ``load_any_checkpoint`` reads a file as whichever family
its weights are (a Meta SAM2.1 ``{"model": ...}`` file with a Hiera encoder, or anything the SAM1
loader accepts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .errors import FailedPrecondition, InvalidInput, NotFound
from .sam2_models.architectures import is_sam2_model_type, looks_like_sam2

PROMPTS = "prompts"
AMG = "amg"
AIS = "ais"
PROMPT_PROPAGATION = "prompt_propagation"  # micro_sam's slice-by-slice prompts from the previous mask
MEMORY_PROPAGATION = "memory_propagation"  # SAM2's memory attention
_DESCRIPTIONS = {
    AIS: "automatic instance segmentation (AIS) needs a model with an AIS decoder (micro_sam's *_lm, *_em models)",
    MEMORY_PROPAGATION: "memory propagation (method='memory') needs a SAM2 model (sam2.1_hiera_*)",
    PROMPT_PROPAGATION: "prompt propagation (method='prompts') needs a SAM1-family model; use method='memory'",
}


def family_of(model: Any) -> str:
    """``"sam2"`` for a LoadedSam2, ``"sam"`` for every SAM1-family model."""
    return getattr(model, "family", "sam")


def capabilities_of(model: Any) -> tuple[str, ...]:
    """What ``model`` supports, in a fixed order."""
    if family_of(model) == "sam2":
        return (PROMPTS, AMG, MEMORY_PROPAGATION)
    with_ais = (AIS,) if getattr(model, "decoder_state", None) else ()
    return (PROMPTS, AMG) + with_ais + (PROMPT_PROPAGATION,)


def require_capability(model: Any, capability: str) -> None:
    """FailedPrecondition naming the model unless it supports ``capability``."""
    if capability not in capabilities_of(model):
        reason = _DESCRIPTIONS.get(capability, f"'{capability}' is not supported")
        raise FailedPrecondition(f"model '{model.name}' ({model.model_type}) cannot do this: {reason}")


def checkpoint_family(path: str | Path, model_type: str | None = None) -> str:
    """``"sam2"`` or ``"sam"`` for a checkpoint file, from the model type or a memory-mapped peek at its keys."""
    if model_type is not None:
        return "sam2" if is_sam2_model_type(model_type) else "sam"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - let the family's own loader report the unreadable file
        return "sam"
    state = payload.get("model") if isinstance(payload, dict) else None
    return "sam2" if isinstance(state, dict) and looks_like_sam2(state) else "sam"


def load_any_checkpoint(path: str | Path, model_type: str | None = None, name: str | None = None,
                        device: str = "cpu", root: str | Path | None = None, **sam1_options: Any) -> Any:
    """A LoadedSam2 or a SAM1 LoadedModel, whichever the file (or ``model_type``) is."""
    if not Path(path).is_file():
        raise NotFound(f"checkpoint '{path}' does not exist")
    if checkpoint_family(path, model_type) == "sam2":
        if sam1_options.get("decoder_path") is not None:
            raise InvalidInput(f"checkpoint '{path}' is a SAM2 model: SAM2 models have no AIS decoder")
        from .sam2_models.loading import load_sam2_checkpoint

        return load_sam2_checkpoint(path, model_type, name, device, root)
    from .models import load_checkpoint

    return load_checkpoint(path, model_type, name, device, root=root, **sam1_options)
