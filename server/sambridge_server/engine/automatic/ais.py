"""Automatic instance segmentation (AIS) from the decoder's foreground and distance maps.

Two steps with very different costs, kept apart so that a caller can cache the first per image:
- ``ais_maps`` / ``tiled_ais_maps`` (expensive): run the AIS decoder on the image embeddings.
- ``ais_segment`` (cheap): smoothing, seeds, seeded watershed, size filter; re-run freely while
  the user tunes ``AISParams``.
Semantics follow micro_sam's ``InstanceSegmentationWithDecoder.generate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy import ndimage
from skimage.measure import label as connected_components
from skimage.segmentation import watershed

from .ais_decoder import AISDecoder, predict_ais_maps
from ..embeddings import ImageEmbeddings
from ..tiling import Tile

TileProgress = Callable[[int, int], None]  # (tiles done, tiles in total)

# vigra / bioimage_cpp Gaussian (which micro_sam uses): kernel radius ceil(3 sigma), mirrored border.
_GAUSSIAN_WINDOW = 3.0


@dataclass(frozen=True)
class AISMaps:
    """Decoder outputs for one image, float32 (H, W) each."""

    foreground: np.ndarray
    center_distances: np.ndarray
    boundary_distances: np.ndarray
    # (map name, sigma) -> smoothed map; filled lazily by ais_segment.
    smoothing_cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """Spatial shape (H, W)."""
        return tuple(self.foreground.shape)


@dataclass(frozen=True)
class AISParams:
    """Watershed post-processing parameters; defaults are micro_sam's ``generate`` defaults."""

    center_distance_threshold: float = 0.5
    boundary_distance_threshold: float = 0.5
    foreground_threshold: float = 0.5
    foreground_smoothing: float = 1.0
    distance_smoothing: float = 1.6
    min_size: int = 0


# micro_sam's per-model tuned settings (annotator widget defaults, _model_settings.AIS_SETTINGS).
TUNED_AIS_PARAMS: dict[str, AISParams] = {
    "vit_t_lm": AISParams(0.5, 0.5, distance_smoothing=2.0, min_size=100),
    "vit_b_lm": AISParams(0.4, 0.5, distance_smoothing=2.0, min_size=100),
    "vit_l_lm": AISParams(0.4, 0.4, distance_smoothing=1.6, min_size=100),
    "vit_h_lm": AISParams(0.5, 0.5, distance_smoothing=1.4, min_size=100),
    "vit_t_em_organelles": AISParams(0.4, 0.5, distance_smoothing=1.2, min_size=100),
    "vit_b_em_organelles": AISParams(0.3, 0.4, distance_smoothing=1.2, min_size=100),
    "vit_l_em_organelles": AISParams(0.3, 0.4, distance_smoothing=1.2, min_size=100),
    "vit_h_em_organelles": AISParams(0.3, 0.4, distance_smoothing=1.2, min_size=100),
    # SAMBridge's shipped default model, tuned on HeLa frame 14 (bench/eval_default_model.py).
    "default": AISParams(0.4, 0.4, foreground_threshold=0.4, min_size=100),
}


def default_ais_params(model_name: str | None = None) -> AISParams:
    """Tuned parameters for a known model name, micro_sam's generic defaults otherwise."""
    return TUNED_AIS_PARAMS.get(model_name or "", AISParams())


def ais_maps(
    decoder: AISDecoder,
    features: np.ndarray,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
) -> AISMaps:
    """Decoder maps of an untiled image from its embeddings (1, 256, 64, 64)."""
    return AISMaps(*predict_ais_maps(decoder, features, input_size, original_size))


def tiled_ais_maps(
    decoder: AISDecoder,
    tile_features: Sequence[np.ndarray],
    tile_input_sizes: Sequence[tuple[int, int]],
    tiles: Sequence[Tile],
    shape: tuple[int, int],
    progress: TileProgress | None = None,
    precision: str = "fp32",
) -> AISMaps:
    """Decoder maps of a tiled image: one decoder pass per tile (outer block), stitched to full size.

    Each tile is decoded on its own (batch of one, as micro_sam's default), so the BatchNorm input
    statistics match the reference. Only the inner block of a tile is kept, so the decoder's last
    stage runs only where that block needs it (same values there). ``progress(done, total)`` is
    called after every tile; ``precision`` as in ``predict_ais_maps``.
    """
    tile_maps = []
    for done, (features, input_size, tile) in enumerate(zip(tile_features, tile_input_sizes, tiles, strict=True)):
        tile_maps.append(AISMaps(*predict_ais_maps(decoder, features, input_size, tile.shape, inner_region(tile),
                                                     precision)))
        if progress is not None:
            progress(done + 1, len(tiles))
    return stitch_tile_maps(tile_maps, tiles, shape)


def inner_region(tile: Tile) -> tuple[int, int, int, int]:
    """The tile's inner block in the coordinates of its outer block, (y0, x0, y1, x1)."""
    oy, ox = tile.offset
    iy0, ix0, iy1, ix1 = tile.inner
    return iy0 - oy, ix0 - ox, iy1 - oy, ix1 - ox


def embeddings_ais_maps(decoder: AISDecoder, embeddings: ImageEmbeddings,
                        progress: TileProgress | None = None) -> AISMaps:
    """Decoder maps for engine ``ImageEmbeddings`` (tiled or not); ``progress`` as in ``tiled_ais_maps``.

    The decoder runs in the precision the embeddings were computed in: bf16 embeddings are
    decoded in bf16 where the device has it, fp32 ones exactly as micro_sam does.
    """
    n_tiles = embeddings.n_tiles
    return tiled_ais_maps(
        decoder, [embeddings.tile_features(i) for i in range(n_tiles)], embeddings.input_sizes,
        embeddings.grid.tiles, embeddings.image_shape, progress, embeddings.precision,
    )


def stitch_tile_maps(tile_maps: Sequence[AISMaps], tiles: Sequence[Tile], shape: tuple[int, int]) -> AISMaps:
    """Paste each tile's inner region (halo dropped) into full-image maps.

    The halo gives the decoder context at tile borders; only the inner part is trusted, exactly as
    micro_sam's TiledInstanceSegmentationWithDecoder does. The watershed then runs once on the
    full image, so objects are never cut at tile borders.
    """
    full = [np.zeros(shape, dtype=np.float32) for _ in range(3)]
    for maps, tile in zip(tile_maps, tiles, strict=True):
        oy, ox = tile.offset
        iy0, ix0, iy1, ix1 = tile.inner
        local = np.s_[iy0 - oy : iy1 - oy, ix0 - ox : ix1 - ox]
        for out, tile in zip(full, (maps.foreground, maps.center_distances, maps.boundary_distances)):
            out[iy0:iy1, ix0:ix1] = tile[local]
    return AISMaps(*full)


def smooth(images: Sequence[np.ndarray], sigma: float) -> list[np.ndarray]:
    """Gaussian-smooth same-shaped 2D images, matching micro_sam's (vigra) filter.

    Kernel radius ceil(3 sigma) with mirrored borders; images are filtered as one stack (faster
    than one call per image). No-op for sigma <= 0.
    """
    if sigma <= 0:
        return [np.asarray(image, dtype=np.float32) for image in images]
    radius = math.ceil(_GAUSSIAN_WINDOW * sigma)
    # scipy's radius is int(truncate * sigma + 0.5); pick truncate so that it equals vigra's.
    truncate = (radius - 0.25) / sigma
    if len(images) == 1:
        image = np.asarray(images[0], dtype=np.float32)
        return [ndimage.gaussian_filter(image, sigma, mode="mirror", truncate=truncate)]
    stack = np.stack([np.asarray(image, dtype=np.float32) for image in images])
    return list(ndimage.gaussian_filter(stack, (0, sigma, sigma), mode="mirror", truncate=truncate))


def prepare_smoothing(maps: AISMaps, params: AISParams) -> AISMaps:
    """Smooth the maps for ``params`` now (e.g. as part of the expensive decoder step), so that
    the first ``ais_segment`` with these sigmas only thresholds and floods. Returns ``maps``."""
    _smoothed(maps, "foreground", params.foreground_smoothing)
    _smoothed(maps, "center_distances", params.distance_smoothing)
    _smoothed(maps, "boundary_distances", params.distance_smoothing)
    return maps


def _smoothed(maps: AISMaps, name: str, sigma: float) -> np.ndarray:
    """Smoothed decoder map, memoised on ``maps``: re-tuning thresholds skips the filtering."""
    key = (name, float(sigma))
    if key not in maps.smoothing_cache:
        maps.smoothing_cache[key] = smooth([getattr(maps, name)], sigma)[0]
    return maps.smoothing_cache[key]


def remove_small_objects(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Drop objects smaller than ``min_size`` pixels and relabel consecutively (1..N)."""
    if min_size <= 0:
        return labels
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    lookup = np.zeros(len(sizes), dtype=np.uint32)
    lookup[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
    return lookup[labels]


def ais_segment(maps: AISMaps, params: AISParams = AISParams()) -> np.ndarray:
    """Instance labels (uint32, 0 = background) from decoder maps.

    Seeds are connected components (8-connected) of center < t_c AND boundary < t_b AND
    foreground > t_f; a 4-connected seeded watershed on the smoothed boundary distances fills the
    foreground mask; objects below ``min_size`` are removed.
    """
    foreground = _smoothed(maps, "foreground", params.foreground_smoothing)
    center = _smoothed(maps, "center_distances", params.distance_smoothing)
    boundary = _smoothed(maps, "boundary_distances", params.distance_smoothing)

    foreground_mask = foreground > params.foreground_threshold
    seed_mask = (
        (center < params.center_distance_threshold)
        & (boundary < params.boundary_distance_threshold)
        & foreground_mask
    )
    seeds = connected_components(seed_mask, connectivity=2).astype(np.uint32, copy=False)
    if not seeds.any():
        return np.zeros(maps.shape, dtype=np.uint32)
    labels = seeded_watershed(boundary, seeds, foreground_mask)
    return remove_small_objects(labels, params.min_size)


def seeded_watershed(height: np.ndarray, seeds: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """4-connected seeded watershed of ``height`` inside ``mask``; same result as one skimage call.

    Flooding never leaves a 4-connected component of the mask, so a component that holds one seed
    label simply takes it, one without seeds stays 0, and only components with several seeds need
    the (costly) flooding, done on their bounding-box crop. On nuclei that skips most of the work.
    """
    components = connected_components(mask, connectivity=1)
    n_components = int(components.max())
    labels = np.zeros(mask.shape, dtype=np.uint32)
    if n_components == 0:
        return labels
    # distinct (component, seed label) pairs; a seed is 8-connected, so it may touch 2 components
    seeded = seeds > 0
    n_seeds = int(seeds.max())
    keys = np.unique(components[seeded].astype(np.int64) * (n_seeds + 1) + seeds[seeded])
    pair_components, pair_seeds = np.divmod(keys, n_seeds + 1)
    seeds_per_component = np.bincount(pair_components, minlength=n_components + 1)
    single = seeds_per_component[pair_components] == 1
    lookup = np.zeros(n_components + 1, dtype=np.uint32)
    lookup[pair_components[single]] = pair_seeds[single]
    labels = lookup[components]

    slices = ndimage.find_objects(components)
    for component_id in np.flatnonzero(seeds_per_component > 1):
        crop = slices[component_id - 1]
        inside = components[crop] == component_id
        flooded = watershed(height[crop], markers=np.where(inside, seeds[crop], 0), mask=inside,
                            connectivity=1)
        labels[crop][inside] = flooded[inside]
    return labels
