"""Building SAM2.1 models and loading/saving Meta's SAM2.1 checkpoints.

The network is the ``sam2`` package's own (``SAM2Base``), instantiated from the hydra config that
ships inside that package, with the post-processing settings ``sam2.build_sam`` applies for
inference (dynamic multimask fallback, binarised click masks in the memory encoder). The weights
are read by us with ``torch.load(..., weights_only=True)`` (never sam2's loader), so a checkpoint
cannot run code, and every problem becomes an ``InvalidInput`` that names the file.

Meta's format is ``{"model": <state dict of SAM2Base>}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import torch

from ..errors import FailedPrecondition, InvalidInput, NotFound
from ..files import open_confined
from ..models import handle_hash
from .architectures import Sam2Architecture, architecture, infer_model_type, looks_like_sam2

FAMILY = "sam2"
# What sam2.build_sam adds for inference (build_sam2 and build_sam2_video_predictor). The
# binarisation only changes the memory encoder, so image prompts are unaffected by it.
INFERENCE_OVERRIDES: tuple[str, ...] = (
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
    "++model.binarize_mask_from_pts_for_mem_enc=true",
)


@dataclass
class LoadedSam2:
    """A SAM2.1 model ready for inference, with what the engine needs to know about it."""

    name: str
    model_type: str
    model: Any  # sam2.modeling.sam2_base.SAM2Base
    model_hash: str
    device: str = "cpu"
    family: str = FAMILY
    decoder_state: None = None  # SAM2 models have no AIS decoder
    native_tiling: None = None  # nor a native tiling: whole images unless a request tiles

    @property
    def config(self) -> Sam2Architecture:
        """The architecture (``embed_dim``, ``depth``) as ``ModelInfo`` reports it."""
        return architecture(self.model_type)

    @property
    def image_size(self) -> int:
        """Side of the square encoder input (1024 for every SAM2.1 model)."""
        return int(self.model.image_size)


def _import_sam2() -> None:
    """Import the sam2 package (which initialises its hydra configs); FailedPrecondition if absent."""
    try:
        import sam2  # noqa: F401
    except ImportError as error:
        raise FailedPrecondition(
            "SAM2 models need the 'sam2' package: SAM2_BUILD_CUDA=0 pip install --no-build-isolation "
            f"--no-deps sam2==1.1.0 hydra-core iopath ({error})"
        ) from error


def build_sam2_model(model_type: str, seed: int | None = None, device: str = "cpu") -> Any:
    """A ``SAM2Base`` of ``model_type`` in eval mode (random weights; reproducible with ``seed``).

    With ``seed`` the parameters that sam2 zero-initialises (the Hiera position embeddings) get
    random values too, so tests exercise them.
    """
    arch = architecture(model_type)
    _import_sam2()
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    if seed is not None:
        torch.manual_seed(seed)
    cfg = compose(config_name=arch.config, overrides=list(INFERENCE_OVERRIDES))
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model, _recursive_=True)
    if seed is not None:
        with torch.no_grad():
            for name, param in model.image_encoder.trunk.named_parameters():
                if name.startswith("pos_embed"):
                    param.normal_(0.0, 0.02)
    return model.to(device).eval()


def model_state_of(payload: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The SAM2 state dict inside a loaded Meta checkpoint (``{"model": state dict}``)."""
    if not isinstance(payload, Mapping):
        raise InvalidInput(f"{source} does not contain a state dict (got {type(payload).__name__})")
    state = payload.get("model", payload)
    if not isinstance(state, Mapping):
        raise InvalidInput(f"{source}: 'model' is not a state dict")
    bad = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise InvalidInput(f"{source}: entries are not tensors: {bad[:3]}")
    if not looks_like_sam2(state):
        raise InvalidInput(f"{source} is not a SAM2 checkpoint (no Hiera image encoder)")
    return dict(state)


def _read(path: Path, handle: BinaryIO) -> Any:
    try:
        return torch.load(handle, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for bad files
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise InvalidInput(
            f"checkpoint '{path}' is not a readable PyTorch weights file ({type(error).__name__}: {first_line})"
        ) from error


def load_state_into(model: Any, state: Mapping[str, torch.Tensor], model_type: str, source: str) -> None:
    """Strictly load ``state`` into ``model``; InvalidInput names missing/unexpected keys or bad shapes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        raise InvalidInput(f"{source} does not fit a {model_type}: " + "; ".join(parts))
    wrong = [key for key, value in state.items() if tuple(value.shape) != tuple(expected[key].shape)]
    if wrong:
        key = wrong[0]
        raise InvalidInput(
            f"{source} does not fit a {model_type}: {len(wrong)} tensors have other shapes "
            f"(e.g. '{key}': {tuple(state[key].shape)} vs {tuple(expected[key].shape)})"
        )
    model.load_state_dict(state, strict=True)


def load_sam2_checkpoint(
    path: str | Path,
    model_type: str | None = None,
    name: str | None = None,
    device: str = "cpu",
    root: str | Path | None = None,
) -> LoadedSam2:
    """Load a Meta SAM2.1 checkpoint (``{"model": state dict}``) into a ready ``LoadedSam2``.

    The type is inferred from the Hiera trunk; a given ``model_type`` must agree with the weights
    (InvalidInput otherwise). With ``root`` the file must be a regular file inside ``root``.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"checkpoint '{path}' does not exist")
    with (open_confined(path, root) if root is not None else open(path, "rb")) as handle:
        model_hash = handle_hash(handle)
        payload = _read(path, handle)
    source = f"checkpoint '{path}'"
    state = model_state_of(payload, source)
    inferred = infer_model_type(state)
    if model_type is not None and architecture(model_type).model_type != inferred:
        arch = architecture(inferred)
        raise InvalidInput(
            f"model_type '{model_type}' does not match {source}, whose weights are {inferred} "
            f"(Hiera embed_dim {arch.embed_dim}, {arch.n_blocks} blocks)"
        )
    model = build_sam2_model(inferred)
    load_state_into(model, state, inferred, source)
    model.to(device).eval()
    return LoadedSam2(name=name or path.stem, model_type=inferred, model=model, model_hash=model_hash, device=device)


def save_sam2_checkpoint(model: Any, path: str | Path) -> Path:
    """Write ``model`` in Meta's SAM2.1 format, ``{"model": state dict}`` (loadable by sam2 too)."""
    path = Path(path)
    torch.save({"model": {key: value.detach().cpu() for key, value in model.state_dict().items()}}, path)
    return path
