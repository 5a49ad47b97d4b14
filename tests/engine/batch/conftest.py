"""Fixtures for batch tests: one 2-process Dask LocalCluster per session and a seam-crossing mosaic."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.batch import DaskExecutor

MOSAIC_SIDE = 4096
SEAM = 512  # the chunk size the mosaic's objects are placed across
BRIGHT = 1000


@pytest.fixture(scope="session")
def executor():
    """A LocalCluster of two worker processes (one thread each), as ``--dask-workers 2`` starts."""
    runner = DaskExecutor(workers=2)
    yield runner
    runner.close()


def _place(image: np.ndarray, mask: np.ndarray, y0: int, x0: int) -> bool:
    """Paint ``mask`` at (y0, x0) if nothing bright lies within 3 px of it; True if painted."""
    h, w = mask.shape
    side = image.shape[0]
    if y0 < 0 or x0 < 0 or y0 + h > side or x0 + w > side:
        return False
    if (image[max(y0 - 3, 0): y0 + h + 3, max(x0 - 3, 0): x0 + w + 3] >= BRIGHT).any():
        return False
    image[y0: y0 + h, x0: x0 + w][mask] = BRIGHT
    return True


def draw_mosaic(side: int = MOSAIC_SIDE, seam: int = SEAM, seed: int = 0) -> np.ndarray:
    """A (side, side) uint16 image of separate bright objects, most placed across chunk seams:
    disks centred near seams, disks on seam crossings (four chunks) and bars longer than a
    128-px overlap crossing seams. Background noise stays under the threshold (500)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 200, (side, side), dtype=np.uint16)
    for s in range(seam, side, seam):  # bars of 300 px across vertical and horizontal seams
        for t in range(150, side - 150, 700):
            bar = np.ones((6, 300), bool)
            _place(image, bar, t, s - 150)
            _place(image, bar.T, s - 150, t + 300)
        for u in range(seam, side, seam):  # disks on crossings
            r = int(rng.integers(10, 30))
            yy, xx = np.ogrid[-r: r + 1, -r: r + 1]
            _place(image, yy ** 2 + xx ** 2 <= r * r, s - r, u - r)
    for s in range(seam, side, seam):  # disks across seams
        for t in range(60, side - 60, 130):
            for cy, cx in ((s + int(rng.integers(-25, 26)), t), (t, s + int(rng.integers(-25, 26)))):
                r = int(rng.integers(8, 45))
                yy, xx = np.ogrid[-r: r + 1, -r: r + 1]
                _place(image, yy ** 2 + xx ** 2 <= r * r, cy - r, cx - r)
    return image
