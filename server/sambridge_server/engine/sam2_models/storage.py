"""On-disk form of ``Sam2Features`` for the embedding cache's zarr entries.

A SAM1 entry holds one ``features`` array; a SAM2 entry holds SAM2's three maps, each chunked per
tile, plus an xxh3 checksum per map, so a damaged or missing chunk is detected on read exactly as
for SAM1 entries. The cache's ``DiskStore`` keeps doing what it does for every entry (staging
directory, completion marker, atomic rename, key check) and calls ``write_group`` /
``read_group`` for the arrays when the entry's ``family`` attribute is ``"sam2"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tiling import make_grid
from .features import LEVELS, Sam2Features

FAMILY = "sam2"


def checksum(array: np.ndarray) -> str:
    """xxh3-64 of the float32 bytes of one map."""
    import xxhash

    return xxhash.xxh3_64_hexdigest(np.ascontiguousarray(array, dtype=np.float32).tobytes())


def write_group(group: Any, features: Sam2Features) -> dict[str, Any]:
    """Write the three maps into the zarr ``group``; returns the attributes to store with them."""
    for name, array in features.arrays().items():
        stored = group.create_array(name, shape=array.shape, chunks=(1,) + array.shape[1:], dtype="float32",
                                    compressors=None)
        stored[:] = array
    return {
        "family": FAMILY,
        "checksums": {name: checksum(array) for name, array in features.arrays().items()},
        "image_shape": list(features.image_shape),
        "original_sizes": [list(size) for size in features.original_sizes],
        "precision": features.precision,
    }


def read_group(group: Any, tile_shape: tuple[int, int] | None, halo: tuple[int, int] | None) -> Sam2Features:
    """The features of a zarr ``group`` written by ``write_group``; ValueError on any damage."""
    attrs = dict(group.attrs)
    if attrs.get("family") != FAMILY:
        raise ValueError(f"not a SAM2 entry (family {attrs.get('family')!r})")
    grid = make_grid(tuple(attrs["image_shape"]), tile_shape, halo)
    arrays = {}
    for name, _, _ in LEVELS:
        values = np.asarray(group[name][:], dtype=np.float32)
        if attrs["checksums"].get(name) != checksum(values):
            raise ValueError(f"'{name}' checksum mismatch (damaged or missing chunks)")
        if not np.isfinite(values).all():
            raise ValueError(f"'{name}' contains NaN or infinite values")
        arrays[name] = values
    return Sam2Features.from_arrays(arrays, attrs["original_sizes"], grid, attrs["precision"])
