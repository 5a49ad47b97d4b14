"""SAM2 image features: the image embedding plus SAM2's two high-resolution feature maps.

SAM2's encoder (Hiera trunk + FPN neck, then the mask decoder's ``conv_s0``/``conv_s1``) gives
three maps per image: the 256-channel embedding at 64 x 64 and the 32- and 64-channel
high-resolution maps at 256 x 256 and 128 x 128 that the mask decoder upsamples with. They are
stored raw (before SAM2 adds its "no memory" embedding), as float32 numpy arrays, one row per
tile, so one ``Sam2Features`` serves image prompts, automatic masks and memory propagation and
can live in the embedding cache (``arrays()`` / ``from_arrays``). Their position encodings are a
fixed function of the map sizes and are recomputed, not stored.

The pixels go through ``preprocess.to_uint8_rgb`` (micro_sam's channel and min-max rules, as
for SAM1 models) and then sam2's own ``SAM2Transforms``, exactly as ``SAM2ImagePredictor``
prepares an RGB image: a square resize to 1024 x 1024 and ImageNet normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..errors import Cancelled, InvalidInput
from ..preprocess import to_uint8_rgb, validate_image
from ..tiling import TileGrid, make_grid
from .loading import LoadedSam2

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
# Channels and sizes of the three maps, low resolution (the embedding) last, as in SAM2.
LEVELS: tuple[tuple[str, int, int], ...] = (("high_res_0", 32, 256), ("high_res_1", 64, 128), ("image_embed", 256, 64))
TILE_BYTES = sum(channels * side * side * 4 for _, channels, side in LEVELS)  # one tile's float32 maps (16 MiB)


@dataclass
class Sam2Features:
    """SAM2 encoder output of one 2D image: three float32 maps per tile (see the module doc).

    Untiled features are a grid with a single tile covering the whole image;
    ``original_sizes[i]`` is tile i's outer block (h, w) in image pixels.
    """

    image_embed: np.ndarray  # (n_tiles, 256, 64, 64)
    high_res_0: np.ndarray  # (n_tiles, 32, 256, 256)
    high_res_1: np.ndarray  # (n_tiles, 64, 128, 128)
    original_sizes: tuple[tuple[int, int], ...]
    grid: TileGrid
    precision: str = "fp32"
    family: str = "sam2"

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of the embedded image."""
        return self.grid.image_shape

    @property
    def n_tiles(self) -> int:
        """Number of tiles (1 when untiled)."""
        return len(self.grid.tiles)

    @property
    def nbytes(self) -> int:
        """Memory held by the three maps (what a cache budget counts)."""
        return int(sum(array.nbytes for array in self.arrays().values()))

    def arrays(self) -> dict[str, np.ndarray]:
        """The maps by name, for storage (the names are ``LEVELS``'s)."""
        return {name: getattr(self, name) for name, _, _ in LEVELS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], original_sizes: Sequence[Sequence[int]], grid: TileGrid,
                    precision: str = "fp32") -> "Sam2Features":
        """Rebuild stored features; ValueError if a map is missing or has the wrong shape."""
        n_tiles = len(grid.tiles)
        for name, channels, side in LEVELS:
            if name not in arrays or tuple(arrays[name].shape) != (n_tiles, channels, side, side):
                got = None if name not in arrays else tuple(arrays[name].shape)
                raise ValueError(f"SAM2 features '{name}' shape {got} != {(n_tiles, channels, side, side)}")
        if len(original_sizes) != n_tiles:
            raise ValueError(f"{len(original_sizes)} tile sizes for {n_tiles} tiles")
        maps = {name: np.asarray(arrays[name], dtype=np.float32) for name, _, _ in LEVELS}
        return cls(original_sizes=tuple(tuple(int(v) for v in size) for size in original_sizes),  # type: ignore[misc]
                   grid=grid, precision=precision, **maps)

    def tile_maps(self, index: int, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """Tile ``index``'s three maps as (1, C, S, S) tensors, high resolution first (SAM2's order)."""
        return [torch.from_numpy(getattr(self, name)[index : index + 1]).to(device) for name, _, _ in LEVELS]


def check_options(precision: str, tile_shape: Sequence[int] | None, halo: Sequence[int] | None) -> None:
    """InvalidInput unless precision, tile shape and halo form a valid setting."""
    if precision not in PRECISIONS:
        raise InvalidInput(f"precision must be one of {PRECISIONS}, got '{precision}'")
    if tile_shape is not None and (len(tile_shape) != 2 or min(tile_shape) <= 0):
        raise InvalidInput(f"tile_shape must be two positive integers, got {tuple(tile_shape)}")
    if halo is not None and (len(halo) != 2 or min(halo) < 0):
        raise InvalidInput(f"halo must be two non-negative integers, got {tuple(halo)}")
    if tile_shape is None and halo is not None and any(halo):
        raise InvalidInput("halo given without tile_shape")


def _transforms(model: Any):
    """sam2's image transform for this model (cached on the model object)."""
    transforms = getattr(model, "_sambridge_transforms", None)
    if transforms is None:
        from sam2.utils.transforms import SAM2Transforms

        transforms = SAM2Transforms(resolution=model.image_size, mask_threshold=0.0)
        model._sambridge_transforms = transforms
    return transforms


def encoder_input(model: Any, tile_image: np.ndarray) -> torch.Tensor:
    """Pixels of a tile -> the (1, 3, 1024, 1024) normalised encoder input, as SAM2ImagePredictor makes it."""
    rgb = to_uint8_rgb(tile_image)
    return _transforms(model)(rgb)[None].to(model.device)


def encode_input(model: Any, batch: torch.Tensor, precision: str = "fp32") -> list[np.ndarray]:
    """Encoder forward of prepared inputs -> the three float32 maps (B, C, S, S), high resolution first."""
    with torch.inference_mode(), torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        backbone_out = model.forward_image(batch)
    return [level.float().cpu().numpy() for level in backbone_out["backbone_fpn"]]


def compute_sam2_features(
    model: LoadedSam2 | Any,
    image2d: np.ndarray,
    tile_shape: Sequence[int] | None = None,
    halo: Sequence[int] | None = None,
    precision: str = "fp32",
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> Sam2Features:
    """SAM2 features of a 2D image ((y, x) or (y, x, c)), optionally in tiles with a halo.

    ``progress(done, total)`` is called after every tile; ``cancelled()`` is polled before every
    tile and a True answer raises ``Cancelled``.
    """
    net = model.model if isinstance(model, LoadedSam2) else model
    image2d = validate_image(image2d)
    check_options(precision, tile_shape, halo)
    grid = make_grid(image2d.shape[:2], tile_shape, halo)
    maps: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in LEVELS}
    for done, tile in enumerate(grid.tiles, start=1):
        if cancelled is not None and cancelled():
            raise Cancelled("SAM2 feature computation was cancelled")
        levels = encode_input(net, encoder_input(net, image2d[tile.outer_slices()]), precision)
        for (name, _, _), level in zip(LEVELS, levels):
            maps[name].append(level)
        if progress is not None:
            progress(done, len(grid.tiles))
    return Sam2Features(
        original_sizes=tuple(tile.shape for tile in grid.tiles),
        grid=grid,
        precision=precision,
        **{name: np.concatenate(levels) for name, levels in maps.items()},
    )


def backbone_out(model: Any, features: Sam2Features, index: int = 0) -> dict[str, list[torch.Tensor]]:
    """Tile ``index`` as SAM2's ``forward_image`` returns it (maps plus their position encodings)."""
    maps = features.tile_maps(index, model.device)
    encode = model.image_encoder.neck.position_encoding
    return {"backbone_fpn": maps, "vision_pos_enc": [encode(level) for level in maps], "vision_features": maps[-1]}


def decoder_inputs(model: Any, features: Sam2Features, index: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(image embedding with SAM2's "no memory" embedding added, [high-res maps]) for prompt decoding.

    The same arithmetic as ``SAM2ImagePredictor.set_image``: flatten, add ``no_mem_embed``, reshape.
    """
    maps = features.tile_maps(index, model.device)
    embed = maps[-1]
    if model.directly_add_no_mem_embed:
        flat = embed.flatten(2).permute(2, 0, 1) + model.no_mem_embed
        embed = flat.permute(1, 2, 0).view(1, -1, *embed.shape[-2:])
    return embed, maps[:-1]
