"""Tile grid with halo for large 2D images, laid out exactly like micro_sam's tiled embeddings.

micro_sam uses ``Blocking([0, 0], shape, tile_shape)``: tiles in row-major (C) order, tile ``i``
covers the inner block ``[g * tile, min((g + 1) * tile, shape))`` per axis and is embedded with
its outer block, the inner block grown by ``halo`` on each side and clipped to the image.
All boxes here are ``(y0, x0, y1, x1)`` half-open pixel ranges (numpy order); prompt helpers
take the engine's public ``(x, y)`` convention and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Block = tuple[int, int, int, int]
"""(y0, x0, y1, x1), half-open, array order: a block of pixels (a tile, a window, a crop)."""

BoxXYXY = np.ndarray
"""(4,) float (x0, y0, x1, y1) in pixels, the wire's order: a box prompt or an object's bounding box.

Two names for the two orders: a ``Block`` is never a ``BoxXYXY`` (convert with ``block_of_box``)."""


def block_of_box(box: BoxXYXY) -> Block:
    """The pixel block (y0, x0, y1, x1) covering an (x0, y0, x1, y1) box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return int(np.floor(y0)), int(np.floor(x0)), int(np.ceil(y1)), int(np.ceil(x1))


@dataclass(frozen=True)
class NativeTiling:
    """The tiling a model was trained for, used when a request does not choose one.

    A small model trained on zoomed tiles segments small objects far better when served the same
    way; the checkpoint says so under ``"native_tiling"`` as ``{"tile_shape": [y, x], "halo": [y, x]}``.
    """

    tile_shape: tuple[int, int]
    halo: tuple[int, int]

    @classmethod
    def from_mapping(cls, value, source: str = "checkpoint") -> "NativeTiling":
        """Parse and check the checkpoint entry; ValueError names ``source`` on a bad entry."""
        try:
            tile_shape = tuple(int(v) for v in value["tile_shape"])
            halo = tuple(int(v) for v in value["halo"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: native_tiling must be {{'tile_shape': [y, x], 'halo': [y, x]}}") from error
        if len(tile_shape) != 2 or len(halo) != 2 or min(tile_shape) <= 0 or min(halo) < 0:
            raise ValueError(f"{source}: invalid native_tiling tile_shape {tile_shape}, halo {halo}")
        return cls(tile_shape, halo)  # type: ignore[arg-type]

    def as_mapping(self) -> dict[str, list[int]]:
        """The checkpoint entry of this tiling."""
        return {"tile_shape": list(self.tile_shape), "halo": list(self.halo)}


@dataclass(frozen=True)
class Tile:
    """One tile: its index, the inner block it owns and the outer block that was embedded."""

    index: int
    inner: Block
    outer: Block

    @property
    def offset(self) -> tuple[int, int]:
        """(y, x) of the outer block's top-left corner in image pixels."""
        return self.outer[0], self.outer[1]

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the outer block (the image the encoder saw)."""
        return self.outer[2] - self.outer[0], self.outer[3] - self.outer[1]

    def outer_slices(self) -> tuple[slice, slice]:
        """numpy slices selecting the outer block."""
        return slice(self.outer[0], self.outer[2]), slice(self.outer[1], self.outer[3])


@dataclass(frozen=True)
class TileGrid:
    """All tiles of one image; ``tile_shape=None`` means untiled (one tile = whole image)."""

    image_shape: tuple[int, int]
    tile_shape: tuple[int, int] | None
    halo: tuple[int, int]
    tiles: tuple[Tile, ...]

    @property
    def is_tiled(self) -> bool:
        """True when the image was split into tiles."""
        return self.tile_shape is not None

    @property
    def tiles_per_axis(self) -> tuple[int, int]:
        """Number of tiles along y and x."""
        if self.tile_shape is None:
            return 1, 1
        return tuple(-(-s // t) for s, t in zip(self.image_shape, self.tile_shape))  # type: ignore[return-value]

    def tile_at(self, y: float, x: float) -> Tile:
        """Tile whose inner block contains pixel (y, x) (coordinates are clamped to the image)."""
        if self.tile_shape is None:
            return self.tiles[0]
        yi = int(min(max(y, 0), self.image_shape[0] - 1)) // self.tile_shape[0]
        xi = int(min(max(x, 0), self.image_shape[1] - 1)) // self.tile_shape[1]
        return self.tiles[yi * self.tiles_per_axis[1] + xi]

    def best_tile(self, points_yx: np.ndarray) -> Tile:
        """Tile for a prompt whose extent is given by (N, 2) (y, x) points.

        As micro_sam: the tile whose inner block holds the rounded mean of the points. Ours on
        top: if that tile's outer block does not hold all the points (e.g. a large box), prefer
        the tile whose outer block holds them all, nearest to the prompt centre.
        """
        points_yx = np.asarray(points_yx, dtype=np.float64).reshape(-1, 2)
        center = np.round(points_yx.mean(axis=0))  # numpy rounding, as micro_sam
        candidate = self.tile_at(center[0], center[1])
        if not self.is_tiled or _contains(candidate.outer, points_yx):
            return candidate
        return self.nearest_holding(center, lambda outer: _contains(outer, points_yx)) or candidate

    def nearest_holding(self, center_yx: np.ndarray, holds: Callable[[Block], bool]) -> Tile | None:
        """Of the tiles whose outer block ``holds`` says yes to, the one whose inner block's centre
        is nearest ``center_yx``; None if there is none."""
        holding = [tile for tile in self.tiles if holds(tile.outer)]
        if not holding:
            return None
        return min(holding, key=lambda tile: _distance_to_inner_center(tile, center_yx))

    def paste(self, tile_masks: np.ndarray, tile: Tile) -> np.ndarray:
        """(K, h, w) masks in the tile's outer block -> (K, H, W) masks in the full image."""
        full = np.zeros(tile_masks.shape[:1] + tuple(self.image_shape), dtype=tile_masks.dtype)
        full[(slice(None),) + tile.outer_slices()] = tile_masks
        return full


def _contains(box: Block, points_yx: np.ndarray) -> bool:
    y, x = points_yx[:, 0], points_yx[:, 1]
    return bool(((y >= box[0]) & (y <= box[2]) & (x >= box[1]) & (x <= box[3])).all())


def _distance_to_inner_center(tile: Tile, center: np.ndarray) -> float:
    inner_center = np.array([(tile.inner[0] + tile.inner[2]) / 2, (tile.inner[1] + tile.inner[3]) / 2])
    return float(np.abs(inner_center - center).sum())


def make_grid(
    image_shape: tuple[int, int],
    tile_shape: tuple[int, int] | None = None,
    halo: tuple[int, int] | None = None,
) -> TileGrid:
    """Build the tile grid of an image (micro_sam / elf Blocking order and halo clipping)."""
    height, width = int(image_shape[0]), int(image_shape[1])
    if tile_shape is None:
        whole = (0, 0, height, width)
        return TileGrid((height, width), None, (0, 0), (Tile(0, whole, whole),))
    tile_shape = (int(tile_shape[0]), int(tile_shape[1]))
    halo = (0, 0) if halo is None else (int(halo[0]), int(halo[1]))
    if min(tile_shape) <= 0 or min(halo) < 0:
        raise ValueError(f"invalid tiling: tile_shape {tile_shape} must be > 0, halo {halo} >= 0")
    tiles = []
    for y0 in range(0, height, tile_shape[0]):
        for x0 in range(0, width, tile_shape[1]):
            y1, x1 = min(y0 + tile_shape[0], height), min(x0 + tile_shape[1], width)
            outer = (max(y0 - halo[0], 0), max(x0 - halo[1], 0), min(y1 + halo[0], height), min(x1 + halo[1], width))
            tiles.append(Tile(len(tiles), (y0, x0, y1, x1), outer))
    return TileGrid((height, width), tile_shape, halo, tuple(tiles))
