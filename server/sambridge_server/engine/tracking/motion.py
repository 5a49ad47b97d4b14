"""Motion model for interactive tracking: predict where an object is in the next frame.

Same model as micro_sam's ``track_from_prompts``: the motion is the displacement of the mask's
center of mass between the last two frames, exponentially smoothed (factor 0.5) once a third
frame is known; the previous mask, shifted by it, prompts SAM in the next frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..errors import InvalidInput


def center_of_mass(mask: np.ndarray) -> np.ndarray | None:
    """(y, x) center of mass of a 2D binary mask as float64; ``None`` when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    return np.array([ys.mean(), xs.mean()], dtype=np.float64)


def center_of_mass_motion(previous_masks: Sequence[np.ndarray], smoothing: float = 0.5) -> np.ndarray:
    """Predicted (dy, dx) from the last of ``previous_masks`` to the next frame.

    ``previous_masks`` are the object's masks in consecutive frames, oldest first. With fewer
    than two masks there is no motion yet (zeros, as micro_sam does not shift the first two
    frames). Each later step blends ``smoothing * model + (1 - smoothing) * last displacement``;
    pairs with an empty mask carry no displacement and leave the model unchanged (micro_sam
    would produce NaN there).
    """
    if not 0.0 <= smoothing <= 1.0:
        raise InvalidInput(f"smoothing must be in [0, 1], got {smoothing}")
    centers = [center_of_mass(mask) for mask in previous_masks]
    motion: np.ndarray | None = None
    for before, after in zip(centers[:-1], centers[1:]):
        if before is None or after is None:
            continue
        step = after - before
        motion = step if motion is None else smoothing * motion + (1.0 - smoothing) * step
    return np.zeros(2) if motion is None else motion


def shift_mask(mask: np.ndarray, motion: Sequence[float] | np.ndarray) -> np.ndarray:
    """``mask`` moved by ``motion`` (dy, dx) pixels, nearest-neighbour, zeros shifted in.

    Keeps the mask's dtype; fractional motion rounds exactly as micro_sam's ``_shift_object``.
    """
    motion = np.asarray(motion, dtype=np.float64)
    if motion.shape != (mask.ndim,):
        raise InvalidInput(f"motion must have {mask.ndim} components, got shape {motion.shape}")
    if not np.any(motion):
        return mask.copy()
    # ndimage.shift has no bool loop: shift as uint8 and cast back.
    source = mask.view(np.uint8) if mask.dtype == bool else mask
    shifted = ndimage.shift(source, motion, order=0, prefilter=False, mode="constant", cval=0)
    return shifted.astype(mask.dtype, copy=False)
