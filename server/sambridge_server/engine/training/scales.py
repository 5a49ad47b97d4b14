"""Scale augmentation: SAM-space training images of one source at chosen zooms.

Serving shows the encoder either the whole image resized so its long side is 1024 px, or (in a
native tiling) each tile's outer block resized to 1024 px. A model meant for both must see
objects at every size between, so besides those two views a source also yields *zoomed views*:
1024 x 1024 SAM-space images whose pixels are ``zoom`` source pixels wide, cut around a random
object as a square window of side 1024 / zoom, from one frame when it fits, else from a mosaic of
random frames of the same source (a wider field, as a larger image would give). A source is a
list of ``(image, labels)`` frames of one kind of data (one movie, one synthetic style family).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..tiling import NativeTiling
from .data import TrainingImage, to_sam_space, to_sam_tiles

Frame = tuple[np.ndarray, np.ndarray]  # (image (y, x) or (y, x, c), integer labels (y, x))
ENCODER_SIDE = 1024


def mosaic(frames: Sequence[Frame], grid: tuple[int, int], rng: np.random.Generator) -> Frame:
    """A ``grid`` (rows, columns) of random frames (cropped to the smallest frame's shape), labels
    renumbered so that objects of different frames stay distinct."""
    height = min(f[1].shape[0] for f in frames)
    width = min(f[1].shape[1] for f in frames)
    rows_img, rows_lab, next_id = [], [], 0
    for _ in range(grid[0]):
        row_img, row_lab = [], []
        for _ in range(grid[1]):
            image, labels = frames[int(rng.integers(0, len(frames)))]
            labels = np.asarray(labels, dtype=np.int64)[:height, :width]
            row_img.append(np.asarray(image)[:height, :width])
            row_lab.append(np.where(labels > 0, labels + next_id, 0))
            next_id += int(labels.max())
        rows_img.append(np.concatenate(row_img, 1))
        rows_lab.append(np.concatenate(row_lab, 1))
    return np.concatenate(rows_img, 0), np.concatenate(rows_lab, 0).astype(np.int32)


def _window_around_object(labels: np.ndarray, side: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left (y, x) of a ``side``-px square inside ``labels`` holding a random object's pixel."""
    ys, xs = np.nonzero(labels)
    pick = int(rng.integers(0, len(ys)))
    origin = []
    for centre, extent in ((ys[pick], labels.shape[0]), (xs[pick], labels.shape[1])):
        low, high = max(0, centre - side + 1), min(centre, extent - side)
        origin.append(int(rng.integers(low, high + 1)) if high >= low else 0)
    return origin[0], origin[1]


def zoomed_view(frames: Sequence[Frame], zoom: float, rng: np.random.Generator, name: str = "") -> TrainingImage:
    """A 1024 x 1024 SAM-space image of the source at ``zoom`` encoder pixels per source pixel."""
    side = max(16, int(round(ENCODER_SIDE / zoom)))
    image, labels = frames[int(rng.integers(0, len(frames)))]
    if side > min(labels.shape[:2]):
        height = min(f[1].shape[0] for f in frames)
        width = min(f[1].shape[1] for f in frames)
        image, labels = mosaic(frames, (-(-side // height), -(-side // width)), rng)
    y, x = _window_around_object(np.asarray(labels), side, rng)
    window = (slice(y, y + side), slice(x, x + side))
    return to_sam_space(np.asarray(image)[window], np.asarray(labels)[window], name=name or f"zoom{zoom:.2f}")


def scale_views(frames: Sequence[Frame], n_zoomed: int, rng: np.random.Generator,
                zoom_range: tuple[float, float] = (0.5, 3.0), tiling: NativeTiling | None = None,
                n_tiles: int = 0, name: str = "") -> list[TrainingImage]:
    """A source's training views: every frame whole (as served untiled), ``n_tiles`` random tiles
    of ``tiling`` (as served tiled) and ``n_zoomed`` zoomed views, zooms log-uniform in ``zoom_range``."""
    views = [to_sam_space(image, labels, name=f"{name}_{i}") for i, (image, labels) in enumerate(frames)]
    if tiling is not None and n_tiles > 0:
        order = rng.permutation(len(frames))
        tiles: list[TrainingImage] = []
        for i in order:
            tiles.extend(to_sam_tiles(*frames[i], tiling, f"{name}_{i}"))
            if len(tiles) >= 4 * n_tiles:
                break
        views.extend(tiles[j] for j in rng.choice(len(tiles), size=min(n_tiles, len(tiles)), replace=False))
    low, high = np.log(zoom_range[0]), np.log(zoom_range[1])
    for k in range(n_zoomed):
        zoom = float(np.exp(rng.uniform(low, high)))
        views.append(zoomed_view(frames, zoom, rng, f"{name}_zoom{k}_{zoom:.2f}"))
    return views


def encoder_diameters(sample: TrainingImage) -> np.ndarray:
    """Equivalent diameters (encoder pixels) of the objects of a SAM-space image."""
    sizes = np.bincount(sample.labels.ravel())[1:]
    return 2 * np.sqrt(sizes[sizes > 0] / np.pi)
