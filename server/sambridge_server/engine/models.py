"""SAM model configurations, construction, checkpoint loading/saving and the model registry.

Checkpoints are read with ``torch.load(..., weights_only=True)`` only: unlike micro_sam we never
swap the global unpickler, so a checkpoint cannot execute code or pull in arbitrary classes.
Two on-disk formats are understood:

* Meta SAM: a plain state dict of ``segment_anything.modeling.Sam``.
* micro_sam: ``{"model_state": <Sam state dict>, "decoder_state": <AIS decoder state dict>}``;
  keys may carry the ``sam.`` prefix of torch_em training checkpoints.

Either may hold a ViT encoder (SAM's ``vit_b/l/h`` and our small presets) or MobileSAM's TinyViT
(micro_sam's ``vit_t*`` models, see ``tinyvit.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Literal, Mapping

import torch
import xxhash
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)

from .errors import InvalidInput, NotFound
from .files import open_confined
from .compact_weights import expand_payload, is_compact
from .tiling import NativeTiling
from .tinyvit import build_tinyvit_encoder, is_tinyvit_state, randomize_tinyvit

PATCH_SIZE = 16
PROMPT_EMBED_DIM = 256
_SAM_PREFIX = "sam."
_ENCODER_KEY = "image_encoder.patch_embed.proj.weight"


@dataclass(frozen=True)
class SamConfig:
    """Architecture of a SAM image encoder (prompt encoder and mask decoder are standard).

    ``encoder`` is ``"vit"`` (segment_anything's ViT, described by the other fields) or
    ``"tinyvit"`` (MobileSAM's fixed TinyViT; the fields then give its last stage's width,
    heads and window, and its total number of blocks).
    """

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    window_size: int = 14
    image_size: int = 1024
    encoder: Literal["vit", "tinyvit"] = "vit"


PRESETS: dict[str, SamConfig] = {
    "vit_b": SamConfig(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamConfig(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamConfig(1280, 32, 16, (7, 15, 23, 31)),
    # Small encoder for tests and the shipped default model: same token grid (64x64) and the
    # same prompt encoder / mask decoder as the big models, so every code path is exercised.
    "vit_tiny": SamConfig(64, 2, 2, (1,)),
    # The shipped default model's encoder (trained from scratch on CPU, see
    # bench/train_default_model.py): small enough to train in half an hour on 2 cores.
    "vit_small": SamConfig(128, 4, 4, (3,)),
    # micro_sam's vit_t: MobileSAM's TinyViT encoder (mobile_sam.build_sam_vit_t).
    "vit_t": SamConfig(320, 12, 10, (), window_size=7, encoder="tinyvit"),
}


def build_image_encoder(config: SamConfig) -> torch.nn.Module:
    """The image encoder of ``config``: segment_anything's ViT or MobileSAM's TinyViT."""
    if config.encoder == "tinyvit":
        return build_tinyvit_encoder()
    return ImageEncoderViT(
        depth=config.depth,
        embed_dim=config.embed_dim,
        img_size=config.image_size,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=config.num_heads,
        patch_size=PATCH_SIZE,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=list(config.global_attn_indexes),
        window_size=config.window_size,
        out_chans=PROMPT_EMBED_DIM,
    )


def build_sam(config: SamConfig, seed: int | None = None) -> Sam:
    """Build a ``segment_anything`` Sam in eval mode, exactly as ``build_sam_vit_*`` does.

    With ``seed`` the weights are random but reproducible, including the positional
    embeddings that segment_anything zero-initialises (so tests exercise them). A ``tinyvit``
    config builds ``mobile_sam.build_sam_vit_t``'s model (with micro_sam's attention biases).
    """
    if seed is not None:
        torch.manual_seed(seed)
    grid = config.image_size // PATCH_SIZE
    sam = Sam(
        image_encoder=build_image_encoder(config),
        prompt_encoder=PromptEncoder(
            embed_dim=PROMPT_EMBED_DIM,
            image_embedding_size=(grid, grid),
            input_image_size=(config.image_size, config.image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=PROMPT_EMBED_DIM, mlp_dim=2048, num_heads=8
            ),
            transformer_dim=PROMPT_EMBED_DIM,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    if seed is not None:
        _randomize_zero_initialised(sam)
    return sam.eval()


def _randomize_zero_initialised(sam: Sam) -> None:
    """Give the zero-initialised position embeddings (TinyViT: biases, BatchNorms) random values."""
    if not isinstance(sam.image_encoder, ImageEncoderViT):
        randomize_tinyvit(sam.image_encoder)
        return
    with torch.no_grad():
        for name, param in sam.image_encoder.named_parameters():
            if name == "pos_embed" or "rel_pos" in name:
                param.normal_(0.0, 0.02)


def config_to_model_type(config: SamConfig) -> str:
    """Name of the preset equal to ``config``, or ``"custom"``."""
    for name, preset in PRESETS.items():
        if preset == config:
            return name
    return "custom"


def infer_config(state_dict: Mapping[str, Any]) -> SamConfig:
    """Derive the encoder architecture from a Sam state dict.

    embed_dim comes from the patch embedding, depth from the number of blocks, the head
    dimension from ``rel_pos_h`` (shape ``(2*size-1, head_dim)``), and global-attention blocks
    are those whose relative-position table spans the full token grid. A MobileSAM TinyViT
    encoder has one architecture (``vit_t``); the strict weight load checks its shapes.
    """
    if _ENCODER_KEY not in state_dict:
        if is_tinyvit_state(state_dict):
            return PRESETS["vit_t"]
        raise InvalidInput(f"not a SAM checkpoint: key '{_ENCODER_KEY}' is missing")
    embed_dim = int(state_dict[_ENCODER_KEY].shape[0])
    grid = int(state_dict["image_encoder.pos_embed"].shape[1]) if (
        "image_encoder.pos_embed" in state_dict
    ) else 1024 // PATCH_SIZE
    block_ids = sorted(
        {int(m.group(1)) for key in state_dict if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", key))}
    )
    if not block_ids or block_ids != list(range(len(block_ids))):
        raise InvalidInput("not a SAM checkpoint: image encoder blocks are missing or not contiguous")
    rel_sizes = []
    for i in block_ids:
        key = f"image_encoder.blocks.{i}.attn.rel_pos_h"
        if key not in state_dict:
            raise InvalidInput(f"unsupported SAM checkpoint: '{key}' is missing")
        rel_sizes.append(tuple(state_dict[key].shape))
    head_dim = rel_sizes[0][1]
    if head_dim <= 0 or embed_dim % head_dim:
        raise InvalidInput(f"inconsistent checkpoint: embed_dim {embed_dim} vs head_dim {head_dim}")
    global_len = 2 * grid - 1
    global_ids = tuple(i for i, (length, _) in zip(block_ids, rel_sizes) if length == global_len)
    window_lengths = {length for length, _ in rel_sizes if length != global_len}
    window_size = (window_lengths.pop() + 1) // 2 if len(window_lengths) == 1 else 14
    return SamConfig(
        embed_dim=embed_dim,
        depth=len(block_ids),
        num_heads=embed_dim // head_dim,
        global_attn_indexes=global_ids,
        window_size=window_size,
        image_size=grid * PATCH_SIZE,
    )


@dataclass
class LoadedModel:
    """A SAM model ready for inference plus what the engine needs to know about it."""

    name: str
    model_type: str
    config: SamConfig
    sam: Sam
    decoder_state: dict[str, torch.Tensor] | None
    model_hash: str
    device: str = "cpu"
    native_tiling: NativeTiling | None = None  # used when a request leaves the tiling unset
    # The files it was loaded from (None when built in memory): batch workers load it from there.
    checkpoint_path: str | None = None
    decoder_path: str | None = None


def sam_of(model: "LoadedModel | Sam") -> Sam:
    """The ``Sam`` module of a loaded model (or ``model`` itself when it is one already)."""
    return model.sam if isinstance(model, LoadedModel) else model


def file_hash(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """xxh128 of a file in micro_sam's format ``"xxh128:<hex>"``."""
    with open(path, "rb") as handle:
        return handle_hash(handle, chunk_size)


def handle_hash(handle: BinaryIO, chunk_size: int = 1 << 20) -> str:
    """xxh128 of an open file from its start, micro_sam's format; the handle is rewound after."""
    digest = xxhash.xxh128()
    handle.seek(0)
    while chunk := handle.read(chunk_size):
        digest.update(chunk)
    handle.seek(0)
    return f"xxh128:{digest.hexdigest()}"


def _read_checkpoint(path: Path, handle: BinaryIO | None = None) -> Any:
    try:
        return torch.load(handle if handle is not None else path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for bad files
        raise InvalidInput(
            f"checkpoint '{path}' is not a readable PyTorch weights file ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})"
        ) from error


def split_checkpoint(state: Any, source: str = "checkpoint") -> tuple[dict, dict | None]:
    """Split a loaded checkpoint into (Sam state dict, AIS decoder state or None)."""
    if not isinstance(state, Mapping):
        raise InvalidInput(f"{source} does not contain a state dict (got {type(state).__name__})")
    if is_compact(state):
        state = expand_payload(state)
    decoder_state = None
    if "model_state" in state:
        model_state = state["model_state"]
        decoder_state = state.get("decoder_state")
        if not isinstance(model_state, Mapping):
            raise InvalidInput(f"{source}: 'model_state' is not a state dict")
        # torch_em training checkpoints prefix the Sam keys with "sam."; export strips it.
        model_state = {
            (key[len(_SAM_PREFIX):] if key.startswith(_SAM_PREFIX) else key): value
            for key, value in model_state.items()
        }
    else:
        model_state = dict(state)
    bad = [key for key, value in model_state.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise InvalidInput(f"{source}: entries are not tensors: {bad[:3]}")
    if decoder_state is not None and not isinstance(decoder_state, Mapping):
        raise InvalidInput(f"{source}: 'decoder_state' is not a state dict")
    return model_state, (dict(decoder_state) if decoder_state else None)


def _architecture_of(model_type: str) -> str:
    """Preset name that a (possibly micro_sam-suffixed) model type refers to, e.g. vit_b_lm -> vit_b."""
    for name in sorted(PRESETS, key=len, reverse=True):
        if model_type == name or model_type.startswith(name + "_"):
            return name
    raise InvalidInput(f"unknown model_type '{model_type}'; known: {', '.join(PRESETS)}")


def load_checkpoint(
    path: str | Path,
    model_type: str | None = None,
    name: str | None = None,
    device: str = "cpu",
    decoder_path: str | Path | None = None,
    root: str | Path | None = None,
) -> LoadedModel:
    """Load a Meta SAM or micro_sam checkpoint into a ready-to-use model.

    The file is opened once; its hash and its weights come from that one open file. With
    ``root`` it must be a regular file inside ``root`` as opened (``files.open_confined``).

    The architecture is inferred from the weights; a given ``model_type`` (``vit_b``,
    ``vit_b_lm``, ...) must agree with it, otherwise ``InvalidInput`` is raised.
    ``decoder_path`` is a separate AIS decoder file (micro_sam's ``<model>_decoder``); like
    micro_sam's ``get_sam_model(decoder_path=...)`` it replaces the checkpoint's decoder state.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"checkpoint '{path}' does not exist")
    with (open_confined(path, root) if root is not None else open(path, "rb")) as handle:
        model_hash = handle_hash(handle)
        payload = _read_checkpoint(path, handle)
    model_state, decoder_state = split_checkpoint(payload, f"checkpoint '{path}'")
    if decoder_path is not None:
        decoder_state = read_decoder_state(decoder_path)
    native_tiling = native_tiling_of(payload, f"checkpoint '{path}'")
    config = infer_config(model_state)
    inferred_type = config_to_model_type(config)
    if model_type is not None and PRESETS[_architecture_of(model_type)] != config:
        raise InvalidInput(
            f"model_type '{model_type}' does not match checkpoint '{path}', whose weights are "
            f"{inferred_type} (embed_dim {config.embed_dim}, depth {config.depth})"
        )
    sam = build_sam(config)
    try:
        sam.load_state_dict(model_state, strict=True)
    except RuntimeError as error:
        raise InvalidInput(f"checkpoint '{path}' does not fit a SAM {inferred_type}: {error}") from error
    sam.to(device).eval()
    return LoadedModel(
        name=name or path.stem,
        model_type=inferred_type,
        config=config,
        sam=sam,
        decoder_state=decoder_state,
        model_hash=model_hash,
        device=device,
        native_tiling=native_tiling,
        checkpoint_path=str(path.resolve()),
        decoder_path=str(Path(decoder_path).resolve()) if decoder_path is not None else None,
    )


def read_decoder_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The AIS decoder state of a separate decoder file (a plain state dict, or ``{"decoder_state": ...}``)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"decoder file '{path}' does not exist")
    state = _read_checkpoint(path)
    if isinstance(state, Mapping) and isinstance(state.get("decoder_state"), Mapping):
        state = state["decoder_state"]
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidInput(f"decoder file '{path}' is not a state dict of tensors")
    return dict(state)


def native_tiling_of(payload: Any, source: str = "checkpoint") -> NativeTiling | None:
    """The ``"native_tiling"`` entry of a micro_sam-format or compact checkpoint, if any."""
    if not isinstance(payload, Mapping) or payload.get("native_tiling") is None:
        return None
    try:
        return NativeTiling.from_mapping(payload["native_tiling"], source)
    except ValueError as error:
        raise InvalidInput(str(error)) from error


def save_checkpoint(
    sam: Sam,
    path: str | Path,
    decoder_state: Mapping[str, torch.Tensor] | None = None,
    fmt: Literal["meta", "micro_sam"] = "meta",
    sam_prefix: bool = False,
    native_tiling: NativeTiling | None = None,
) -> Path:
    """Write ``sam`` as a Meta state dict or a micro_sam ``{"model_state", "decoder_state"}`` dict.

    ``native_tiling`` is an extra key of the micro_sam format (micro_sam ignores it).
    """
    path = Path(path)
    state = {key: value.detach().cpu() for key, value in sam.state_dict().items()}
    if fmt == "meta":
        if decoder_state is not None or native_tiling is not None:
            raise ValueError("the Meta format holds only SAM weights; use fmt='micro_sam'")
        torch.save(state, path)
    elif fmt == "micro_sam":
        if sam_prefix:
            state = {_SAM_PREFIX + key: value for key, value in state.items()}
        payload: dict[str, Any] = {"model_state": state}
        if decoder_state is not None:
            payload["decoder_state"] = dict(decoder_state)
        if native_tiling is not None:
            payload["native_tiling"] = native_tiling.as_mapping()
        torch.save(payload, path)
    else:
        raise ValueError(f"unknown checkpoint format '{fmt}'")
    return path
