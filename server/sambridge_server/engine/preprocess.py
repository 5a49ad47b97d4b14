"""Conversion of any 2D microscopy image to the uint8 RGB array the SAM encoder sees.

Equivalent to micro_sam's ``util._to_image`` (bit for bit for every input it accepts):

* ``(y, x)`` or ``(y, x, 1)``: grayscale, repeated to three channels;
* ``(y, x, 2)``: a zero third channel is appended (micro_sam's code; its paper says the two
  channels are averaged, but the shipped models were trained and evaluated with this code path,
  so we match it by default);
* ``(y, x, 3)``: used as is;
* ``(y, x, c>3)``: the first three channels are used;

then every channel is min-max scaled on its own to ``[0, 255]`` and truncated to uint8.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInput

_REJECTED_KINDS = {"b": "bool", "c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "void"}


def validate_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Check that ``image`` is a finite, non-empty numeric 2D image ((y,x) or (y,x,c))."""
    image = np.asarray(image)
    kind = image.dtype.kind
    if kind in _REJECTED_KINDS or kind not in "uif":
        raise InvalidInput(
            f"{name} has unsupported dtype {image.dtype} ({_REJECTED_KINDS.get(kind, kind)}); "
            "use an integer or floating point image"
        )
    if image.ndim not in (2, 3):
        raise InvalidInput(f"{name} must be 2D (y, x) or (y, x, channels), got shape {image.shape}")
    if image.size == 0:
        raise InvalidInput(f"{name} is empty (shape {image.shape})")
    if image.ndim == 3 and image.shape[-1] > 16:
        # Guard against a (z, y, x) stack sent as a 2D image with channels.
        raise InvalidInput(
            f"{name} has {image.shape[-1]} channels (shape {image.shape}); "
            "is it a volume? Channels must be the last axis and at most 16"
        )
    if kind == "f" and not np.isfinite(image).all():
        raise InvalidInput(f"{name} contains NaN or infinite values")
    return image


def to_three_channels(image: np.ndarray) -> np.ndarray:
    """Map (y,x) / (y,x,c) to (y,x,3) with micro_sam's channel rules (no scaling)."""
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    n_channels = image.shape[-1]
    if n_channels == 1:
        return np.repeat(image, 3, axis=-1)
    if n_channels == 2:
        zero = np.zeros(image.shape[:2] + (1,), dtype=image.dtype)
        return np.concatenate([image, zero], axis=-1)
    return image[..., :3]


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Validated image -> uint8 (H, W, 3), per-channel min-max scaled like micro_sam's ``_to_image``."""
    image = to_three_channels(validate_image(image))
    scaled = image.astype(np.float32)
    # Same float32 arithmetic and epsilon as micro_sam, so the uint8 result is identical.
    scaled -= scaled.min(axis=(0, 1))[None, None]
    scaled /= scaled.max(axis=(0, 1))[None, None] + np.float32(1e-7)
    return np.ascontiguousarray((scaled * 255).astype(np.uint8))
