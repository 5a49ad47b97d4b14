"""The content id of an image, as images.proto defines it: one definition for client and server."""

from __future__ import annotations

import hashlib

import numpy as np


def image_id(array: np.ndarray, axes: str) -> str:
    """``"sha1:" + sha1(dtype name | shape | axes | little-endian C-order bytes)`` of an image."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha1()
    shape = ",".join(str(s) for s in array.shape)
    digest.update(f"{array.dtype.name}|{shape}|{axes}|".encode())
    digest.update(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return "sha1:" + digest.hexdigest()
