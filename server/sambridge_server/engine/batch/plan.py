"""The chunk plan: each plane cut into a regular grid of cores, each core read with an overlap.

A plane no larger than ``chunk_size`` is one chunk (the whole plane, exactly what a per-image
call sees). A larger plane is cut into cores of ``chunk_size`` x ``chunk_size`` (the last ones
smaller); every chunk is segmented on its core grown by ``overlap`` pixels on each side (clipped
to the plane). Each pixel's label comes from the chunk whose core holds it; the overlaps are
where neighbouring chunks' labels are matched (``stitch``). An object no wider than ``overlap``
that crosses a seam lies whole inside both chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput
from ..tiling import Block


MIN_CHUNK = 64


@dataclass(frozen=True)
class ChunkRegion:
    """One chunk of one plane: grid position, core (owned pixels) and outer (segmented) boxes."""

    plane: int
    row: int
    col: int
    core: Block
    outer: Block

    @property
    def outer_shape(self) -> tuple[int, int]:
        """(height, width) of the segmented region."""
        return self.outer[2] - self.outer[0], self.outer[3] - self.outer[1]

    def core_in_outer(self) -> tuple[slice, slice]:
        """Slices of the core inside the outer region's array."""
        y0, x0, y1, x1 = self.core
        return slice(y0 - self.outer[0], y1 - self.outer[0]), slice(x0 - self.outer[1], x1 - self.outer[1])


def check_chunking(chunk_size: int, overlap: int) -> None:
    """InvalidInput unless chunk_size >= 64 and 0 <= overlap < chunk_size."""
    if chunk_size < MIN_CHUNK:
        raise InvalidInput(f"chunk_size must be at least {MIN_CHUNK} px, got {chunk_size}")
    if not 0 <= overlap < chunk_size:
        raise InvalidInput(f"overlap must be in [0, chunk_size), got {overlap} (chunk_size {chunk_size})")


def plan_plane(plane: int, shape: tuple[int, int], chunk_size: int, overlap: int) -> list[ChunkRegion]:
    """The chunks of one plane of ``shape`` (H, W), row by row."""
    check_chunking(chunk_size, overlap)
    height, width = shape
    if height <= chunk_size and width <= chunk_size:
        return [ChunkRegion(plane, 0, 0, (0, 0, height, width), (0, 0, height, width))]
    chunks = []
    for row, y0 in enumerate(range(0, height, chunk_size)):
        for col, x0 in enumerate(range(0, width, chunk_size)):
            y1, x1 = min(y0 + chunk_size, height), min(x0 + chunk_size, width)
            outer = (max(0, y0 - overlap), max(0, x0 - overlap), min(height, y1 + overlap), min(width, x1 + overlap))
            chunks.append(ChunkRegion(plane, row, col, (y0, x0, y1, x1), outer))
    return chunks


def intersection(a: Block, b: Block) -> Block | None:
    """The common part of two boxes, or None."""
    y0, x0 = max(a[0], b[0]), max(a[1], b[1])
    y1, x1 = min(a[2], b[2]), min(a[3], b[3])
    return (y0, x0, y1, x1) if y0 < y1 and x0 < x1 else None


def neighbours(chunks: list[ChunkRegion]) -> list[tuple[int, int, Block]]:
    """Pairs (i, j, zone) of chunks of one plane whose outer regions overlap (8-neighbourhood)."""
    at = {(c.row, c.col): i for i, c in enumerate(chunks)}
    pairs = []
    for i, chunk in enumerate(chunks):
        for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
            j = at.get((chunk.row + dr, chunk.col + dc))
            if j is None:
                continue
            zone = intersection(chunk.outer, chunks[j].outer)
            if zone is not None:
                pairs.append((i, j, zone))
    return pairs
