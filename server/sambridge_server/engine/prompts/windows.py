"""Which embedding window decodes an object: a tile that holds all its prompts, or a window
centred on them at the tiling's zoom.

SAM's decoder sees one encoder input. micro_sam picks the tile whose inner block holds the
prompt's centre and drops the points outside it; near tile borders that silently loses ordinary
clicks. Here every point and the box must lie inside the window used: the micro_sam tile when it
holds them all, else the tile nearest the prompt centre that does, else a window of the tiles'
outer size centred on the prompts (embedded on demand and cached like any embedding). Prompts
that no window of that size can hold are refused, naming them.

Boxes here are ``(y0, x0, y1, x1)`` half-open pixel ranges (numpy order, as in ``tiling``);
prompt points and boxes arrive in the public ``(x, y)`` / ``(x0, y0, x1, y1)`` convention.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InvalidInput
from ..tiling import Block, BoxXYXY, Tile, TileGrid


@dataclass(frozen=True)
class ObjectPrompt:
    """All prompts of one object in image pixels: points (N, 2) (x, y), labels (N,), box or None."""

    points: np.ndarray
    labels: np.ndarray
    box: BoxXYXY | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", np.asarray(self.points, dtype=np.float64).reshape(-1, 2))
        object.__setattr__(self, "labels", np.asarray(self.labels, dtype=np.int64).reshape(-1))

    @property
    def is_empty(self) -> bool:
        """True when there is neither a point nor a box."""
        return len(self.points) == 0 and self.box is None

    def locating_yx(self) -> np.ndarray:
        """(y, x) points that say where the object is (micro_sam's tile choice): box corners and
        positive points; all points when there is nothing else."""
        parts = []
        if self.box is not None:
            parts.append(np.array([[self.box[1], self.box[0]], [self.box[3], self.box[2]]], dtype=np.float64))
        positives = self.points[self.labels == 1]
        if len(positives) == 0 and self.box is None:
            positives = self.points
        if len(positives):
            parts.append(positives[:, ::-1])
        return np.concatenate(parts) if parts else np.zeros((0, 2))


def holds(outer: Block, prompt: ObjectPrompt) -> bool:
    """True when every point lies in the half-open block and the box lies within it."""
    y0, x0, y1, x1 = outer
    x, y = prompt.points[:, 0], prompt.points[:, 1]
    if not ((x >= x0) & (x < x1) & (y >= y0) & (y < y1)).all():
        return False
    if prompt.box is None:
        return True
    bx0, by0, bx1, by1 = prompt.box
    return bool(bx0 >= x0 and by0 >= y0 and bx1 <= x1 and by1 <= y1)


def choose_tile(grid: TileGrid, prompt: ObjectPrompt) -> Tile | None:
    """The tile that decodes ``prompt``: micro_sam's (inner block holds the prompt centre) when its
    outer block holds every prompt, else the holding tile nearest that centre; None if none holds them."""
    locating = prompt.locating_yx()
    if len(locating) == 0:
        return grid.tiles[0] if not grid.is_tiled else None
    candidate = grid.best_tile(locating)
    if holds(candidate.outer, prompt):
        return candidate
    return grid.nearest_holding(np.round(locating.mean(axis=0)), lambda outer: holds(outer, prompt))


def window_size(grid: TileGrid) -> tuple[int, int]:
    """(h, w) of a window at the tiling's zoom: a full tile with its halo on both sides."""
    if grid.tile_shape is None:
        return grid.image_shape
    return tuple(min(t + 2 * h, s) for t, h, s in zip(grid.tile_shape, grid.halo, grid.image_shape))  # type: ignore


def centred_window(grid: TileGrid, prompt: ObjectPrompt) -> Block:
    """A window of ``window_size(grid)`` centred on all of the prompt and shifted inside the image.

    InvalidInput names the prompts when their extent exceeds the window.
    """
    size = window_size(grid)
    extent = _extent_yx(prompt)
    low, high = extent.min(axis=0), extent.max(axis=0)
    span = high - low
    if span[0] >= size[0] or span[1] >= size[1]:
        raise InvalidInput(
            f"the prompts of one object span {span[1]:g} x {span[0]:g} px (x, y), more than the model's "
            f"{size[1]} x {size[0]} px window at this tiling: {describe(prompt)}; split them into separate "
            "objects, use a larger tile_shape, or decode on the whole image (tile_shape='whole')"
        )
    start = []
    for axis in (0, 1):
        centre = (low[axis] + high[axis]) / 2
        first = int(np.floor(centre - size[axis] / 2))
        start.append(min(max(first, 0), grid.image_shape[axis] - size[axis]))
    return (start[0], start[1], start[0] + size[0], start[1] + size[1])


def window_tile(window: Block) -> Tile:
    """A single tile covering ``window`` (for decoding on a window's own embeddings)."""
    return Tile(0, window, window)


def window_grid(image_shape: tuple[int, int], window: Block) -> TileGrid:
    """The grid of embeddings computed on ``window`` alone: one tile, masks pasted into the image."""
    return TileGrid(tuple(image_shape), None, (0, 0), (window_tile(window),))  # type: ignore[arg-type]


def in_window(embeddings, window: Block, image_shape: tuple[int, int]):
    """View of a window's own (untiled) embeddings placed at ``window`` in an image of ``image_shape``."""
    return replace(embeddings, grid=window_grid(image_shape, window))


def describe(prompt: ObjectPrompt) -> str:
    """The prompts in words, for error messages."""
    parts = [f"{'positive' if label == 1 else 'negative'} point (x={x:g}, y={y:g})"
             for (x, y), label in zip(prompt.points, prompt.labels)]
    if prompt.box is not None:
        parts.append("box ({:g}, {:g}, {:g}, {:g})".format(*prompt.box))
    return ", ".join(parts)


def outside(outer: Block, prompt: ObjectPrompt) -> str:
    """The prompts of ``prompt`` that ``outer`` does not hold, in words."""
    y0, x0, y1, x1 = outer
    parts = [f"point (x={x:g}, y={y:g})" for x, y in prompt.points if not (x0 <= x < x1 and y0 <= y < y1)]
    if prompt.box is not None and not holds(outer, replace(prompt, points=np.zeros((0, 2)), labels=np.zeros(0))):
        parts.append("box ({:g}, {:g}, {:g}, {:g})".format(*prompt.box))
    return ", ".join(parts)


def _extent_yx(prompt: ObjectPrompt) -> np.ndarray:
    parts = [prompt.points[:, ::-1]]
    if prompt.box is not None:
        parts.append(np.array([[prompt.box[1], prompt.box[0]], [prompt.box[3] - 1e-6, prompt.box[2] - 1e-6]]))
    return np.concatenate(parts)
