"""Image embeddings: the SAM encoder output for a 2D image (tiled or not) or a volume.

Preprocessing is micro_sam's: each tile (or the whole image) is converted with
``preprocess.to_uint8_rgb`` (per-tile min-max, as micro_sam does per tile), resized with
segment_anything's ``ResizeLongestSide`` and normalised/padded by ``Sam.preprocess``.
Differences from micro_sam (all "ours"): ``torch.inference_mode``, fused SDPA attention by
default, optional bf16 autocast or an OpenVINO int8 encoder on CPUs (``int8_encoder``),
progress and cancellation callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Sequence

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.utils.transforms import ResizeLongestSide

from .callbacks import CancelledFn, ProgressFn, raise_if_cancelled
from .encoder import AttentionKind, encode
from .errors import InvalidInput
from .models import LoadedModel, sam_of
from .preprocess import to_uint8_rgb, validate_image
from .tiling import Tile, TileGrid, make_grid

if TYPE_CHECKING:
    from .cache import EmbeddingCache

Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")
TILE_FEATURE_BYTES = 256 * 64 * 64 * 4  # one tile's float32 (256, 64, 64) feature map
BatchEncoder = Callable[[torch.Tensor, str], np.ndarray]
"""``(preprocessed batch, precision) -> float32 features``: how ``compute_embeddings`` runs the encoder."""


@dataclass
class ImageEmbeddings:
    """Encoder features of one 2D image: one (256, 64, 64) float32 map per tile.

    Untiled embeddings are a grid with a single tile covering the whole image.
    ``input_sizes[i]`` is tile i's size after ResizeLongestSide, ``original_sizes[i]`` its
    size in image pixels (the outer block), both (h, w).
    """

    features: np.ndarray  # (n_tiles, 256, 64, 64) float32
    input_sizes: tuple[tuple[int, int], ...]
    original_sizes: tuple[tuple[int, int], ...]
    grid: TileGrid
    precision: str = "fp32"

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
        """Memory held by the feature maps."""
        return int(self.features.nbytes)

    def tile_features(self, index: int) -> np.ndarray:
        """(1, 256, 64, 64) features of tile ``index``."""
        return self.features[index : index + 1]


def check_options(precision: str, tile_shape: Sequence[int] | None, halo: Sequence[int] | None) -> None:
    """InvalidInput unless precision, tile shape and halo are a valid embedding setting."""
    if precision not in PRECISIONS:
        raise InvalidInput(f"precision must be one of {PRECISIONS}, got '{precision}'")
    if tile_shape is not None and (len(tile_shape) != 2 or min(tile_shape) <= 0):
        raise InvalidInput(f"tile_shape must be two positive integers, got {tuple(tile_shape)}")
    if halo is not None and (len(halo) != 2 or min(halo) < 0):
        raise InvalidInput(f"halo must be two non-negative integers, got {tuple(halo)}")
    if tile_shape is None and halo is not None and any(halo):
        raise InvalidInput("halo given without tile_shape")
    # A halo beyond the tile makes neighbouring tiles overlap more than they own: with small
    # tiles every tile would cover most of the image.
    if tile_shape is not None and halo is not None and any(h > t for h, t in zip(halo, tile_shape)):
        raise InvalidInput(f"halo {tuple(halo)} is larger than the tile {tuple(tile_shape)}: use halo <= tile_shape")


def prepare_tile(sam: Sam, tile_image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    """Tile pixels -> ((1, 3, S, S) normalised, padded encoder input, input size (h, w)).

    InvalidInput for a tile so elongated that its short side would vanish at the encoder's size."""
    side = sam.image_encoder.img_size
    height, width = tile_image.shape[:2]
    if min(ResizeLongestSide.get_preprocess_shape(height, width, side)) < 1:
        raise InvalidInput(f"an image (or tile) of {height} x {width} px is too elongated to embed: its short side "
                           f"would be under 1 px at the encoder's {side} px; embed it in tiles (tile_shape)")
    rgb = to_uint8_rgb(tile_image)
    resized = ResizeLongestSide(side).apply_image(rgb)
    tensor = torch.as_tensor(resized, device=sam.device).permute(2, 0, 1).contiguous()[None]
    return sam.preprocess(tensor), (int(resized.shape[0]), int(resized.shape[1]))


def encode_batch(
    sam: Sam, batch: torch.Tensor, precision: str = "fp32", attention: AttentionKind = "sdpa",
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Encoder forward of a preprocessed batch -> float32 numpy (B, 256, 64, 64); ``forward``
    replaces ``encode`` (e.g. a compiled one)."""
    use_bf16 = precision == "bf16"
    with torch.inference_mode(), torch.autocast(sam.device.type, dtype=torch.bfloat16, enabled=use_bf16):
        features = forward(batch) if forward is not None else encode(sam.image_encoder, batch, attention)
    return features.float().cpu().numpy()


def model_encoder(sam: Sam, attention: AttentionKind = "sdpa",
                  int8: Callable[[torch.Tensor], np.ndarray] | None = None,
                  compiled: Callable[[torch.Tensor], torch.Tensor] | None = None) -> BatchEncoder:
    """``encode_batch`` of this model as a ``BatchEncoder`` (``encode_batch`` is looked up at each call);
    ``compiled`` replaces the fp32/bf16 forward; ``int8`` runs the ``"int8"`` precision (PyTorch
    has none: InvalidInput without it)."""

    def forward(batch: torch.Tensor, precision: str) -> np.ndarray:
        if precision != "int8":
            return encode_batch(sam, batch, precision, attention, forward=compiled)
        if int8 is None:
            raise InvalidInput("precision 'int8' needs an int8 encoder (OpenVINO), which this caller has not got")
        return int8(batch)

    return forward


def _check_cancelled(cancelled: CancelledFn | None) -> None:
    raise_if_cancelled(cancelled, "embedding computation was cancelled")


def _batches(items: Sequence, batch_size: int) -> list[Sequence]:
    return [items[i : i + batch_size] for i in range(0, len(items), max(1, batch_size))]


def compute_embeddings(
    model: LoadedModel | Sam,
    image2d: np.ndarray,
    tile_shape: Sequence[int] | None = None,
    halo: Sequence[int] | None = None,
    precision: Precision = "fp32",
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    batch_size: int = 1,
    attention: AttentionKind = "sdpa",
    encoder: BatchEncoder | None = None,
) -> ImageEmbeddings:
    """Embed a 2D image ((y,x) or (y,x,c)), optionally in tiles of ``tile_shape`` with ``halo``.

    ``progress(done, total)`` is called after every batch of tiles; ``cancelled()`` is polled
    before every batch and a True answer raises ``Cancelled``. ``encoder`` runs the forwards
    (e.g. an ``EncoderBatcher`` shared with other callers); by default this thread runs them.
    """
    image2d = validate_image(image2d)
    check_options(precision, tile_shape, halo)
    sam = sam_of(model)
    grid = make_grid(image2d.shape[:2], tile_shape, halo)
    encoder = encoder or model_encoder(sam, attention)
    features = np.empty((len(grid.tiles), 256, 64, 64), dtype=np.float32)
    input_sizes: list[tuple[int, int]] = []
    done = 0
    for tiles in _batches(grid.tiles, batch_size):
        _check_cancelled(cancelled)
        prepared = [prepare_tile(sam, image2d[tile.outer_slices()]) for tile in tiles]
        batch = torch.cat([tensor for tensor, _ in prepared])
        features[done : done + len(tiles)] = encoder(batch, precision)
        input_sizes.extend(size for _, size in prepared)
        done += len(tiles)
        if progress is not None:
            progress(done, len(grid.tiles))
    return ImageEmbeddings(
        features=features,
        input_sizes=tuple(input_sizes),
        original_sizes=tuple(tile.shape for tile in grid.tiles),
        grid=grid,
        precision=precision,
    )


def _embed_untiled_slices(
    sam: Sam, slices: list[np.ndarray], precision: str, attention: AttentionKind
) -> list[ImageEmbeddings]:
    prepared = [prepare_tile(sam, image) for image in slices]
    features = encode_batch(sam, torch.cat([tensor for tensor, _ in prepared]), precision, attention)
    results = []
    for image, (_, size), feature in zip(slices, prepared, features):
        grid = make_grid(image.shape[:2])
        results.append(ImageEmbeddings(feature[None].copy(), (size,), (grid.tiles[0].shape,), grid, precision))
    return results


def compute_volume_embeddings(
    model: LoadedModel | Sam,
    volume: np.ndarray,
    tile_shape: Sequence[int] | None = None,
    halo: Sequence[int] | None = None,
    precision: Precision = "fp32",
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    batch_size: int = 1,
    cache: EmbeddingCache | None = None,
    attention: AttentionKind = "sdpa",
) -> list[ImageEmbeddings]:
    """Embed a (z, y, x) or (z, y, x, c) stack slice by slice.

    With a cache (requires a ``LoadedModel`` for its hash) every slice is stored as soon as it
    is done and slices already cached are skipped, so a cancelled or crashed run resumes where
    it stopped. Untiled slices are batched ``batch_size`` at a time.
    """
    volume = np.asarray(volume)
    if volume.ndim not in (3, 4) or volume.shape[0] == 0:
        raise InvalidInput(f"volume must be (z, y, x) or (z, y, x, c) with z >= 1, got shape {volume.shape}")
    check_options(precision, tile_shape, halo)
    if cache is not None and not isinstance(model, LoadedModel):
        raise InvalidInput("caching volume embeddings needs a LoadedModel (for its model hash)")
    sam = sam_of(model)
    n_slices = volume.shape[0]
    results: list[ImageEmbeddings | None] = [None] * n_slices
    keys = [None] * n_slices
    if cache is not None:
        for z in range(n_slices):
            keys[z] = cache.key_for(volume[z], model.model_hash, tile_shape, halo, precision)  # type: ignore[union-attr]
            results[z] = cache.get(keys[z])
    done = sum(result is not None for result in results)
    if progress is not None and done:
        progress(done, n_slices)
    missing = [z for z in range(n_slices) if results[z] is None]
    step = batch_size if tile_shape is None else 1
    for zs in _batches(missing, step):
        _check_cancelled(cancelled)
        if tile_shape is None:
            computed = _embed_untiled_slices(sam, [validate_image(volume[z]) for z in zs], precision, attention)
        else:
            computed = [
                compute_embeddings(sam, volume[z], tile_shape, halo, precision, None, cancelled, batch_size, attention)
                for z in zs
            ]
        for z, embeddings in zip(zs, computed):
            results[z] = embeddings
            if cache is not None:
                cache.put(keys[z], embeddings)
        done += len(zs)
        if progress is not None:
            progress(done, n_slices)
    return [result for result in results if result is not None]


def tile_of(embeddings: ImageEmbeddings, index: int) -> Tile:
    """The ``Tile`` with this index (convenience for prompt decoding)."""
    return embeddings.grid.tiles[index]
