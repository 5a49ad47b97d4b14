"""Binary masks from low-res decoder logits, computed only around each object.

``Sam.postprocess_masks`` upsamples (256, 256) logits to (1024, 1024), crops the padding and
resizes to the original size; a mask is where that is > 0. Bilinear interpolation (no
antialiasing) makes every output pixel a convex combination of at most 2x2 input pixels, so
an output pixel can only be > 0 next to an input pixel > 0: outside the bounding box of the
positive low-res logits (plus a margin of 2 low-res pixels) the mask is empty. Inside it, a
window of the same interpolation gives bit-identical values where the window's source pixels
are shifted by whole pixels (the 4x first step always; the second when the scale is an
integer); otherwise the first step's window is pasted into a canvas of the cropped size and
the second step runs over all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from torch import Tensor


@dataclass(frozen=True)
class _AxisPlan:
    """Along one axis: low-res rows to upsample, frame rows they give exactly, output rows.

    The frame is the first step's output cropped to ``input_size``; ``frame`` rows are those the
    second step reads; ``output`` rows are those computed (the rest of the mask stays empty).
    """

    low: tuple[int, int]
    frame: tuple[int, int]
    output: tuple[int, int]
    shifted: bool  # the second step runs on a window (integer scale) rather than the whole frame


def _plan(begin: int, end: int, low_len: int, factor: int, frame_len: int, out_len: int) -> _AxisPlan | None:
    """Plan one axis for positive low-res rows [begin, end) (see the module docstring); None
    when they all lie in the padding, which the crop to ``input_size`` drops."""
    # Frame rows that can be > 0: their 2-row stencil touches a positive low-res row.
    positive = (max(factor * (begin - 1), 0), min(factor * (end + 1), frame_len))
    if positive[0] >= positive[1]:
        return None
    scale = frame_len // out_len if frame_len % out_len == 0 else None
    if scale is not None:
        output = (max(positive[0] // scale - 1, 0), min(-(-positive[1] // scale) + 1, out_len))
        frame = (output[0] * scale, output[1] * scale)
    else:  # the other frame rows are filled with a negative value: they cannot make a pixel > 0
        output = (0, out_len)
        frame = (max(positive[0] - 2, 0), min(positive[1] + 2, frame_len))
    # One low-res row more on each side: the window's own border rows are clamped, not exact.
    low = (max(frame[0] // factor - 1, 0), min(-(-frame[1] // factor) + 1, low_len))
    return _AxisPlan(low, frame, output, scale is not None)


def _bbox(positive: Tensor) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1), ends exclusive, of a 2D bool tensor's True pixels, or None."""
    rows = torch.nonzero(positive.any(dim=1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(positive.any(dim=0)).flatten()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _upsample(window: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(window[None, None], size, mode="bilinear", align_corners=False)[0, 0]


def _window_mask(logits: Tensor, box: tuple[int, int, int, int], factor: int, input_size: tuple[int, int],
                 original_size: tuple[int, int]) -> tuple[Tensor, tuple[int, int]] | None:
    """The mask around one object's positive logits and the window's origin in output pixels;
    None when the mask is empty."""
    h, w = logits.shape
    ys = _plan(box[0], box[1], h, factor, input_size[0], original_size[0])
    xs = _plan(box[2], box[3], w, factor, input_size[1], original_size[1])
    if ys is None or xs is None:
        return None
    low = logits[ys.low[0]:ys.low[1], xs.low[0]:xs.low[1]]
    first = _upsample(low, (low.shape[0] * factor, low.shape[1] * factor))
    first = first[ys.frame[0] - ys.low[0] * factor:ys.frame[1] - ys.low[0] * factor,
                  xs.frame[0] - xs.low[0] * factor:xs.frame[1] - xs.low[0] * factor]
    if not (ys.shifted and xs.shifted):
        canvas = first.new_full(input_size, -1.0)
        canvas[ys.frame[0]:ys.frame[1], xs.frame[0]:xs.frame[1]] = first
        rows, cols = (0, input_size[0]), (0, input_size[1])
        if ys.shifted:
            rows = ys.frame
        if xs.shifted:
            cols = xs.frame
        first = canvas[rows[0]:rows[1], cols[0]:cols[1]]
    size = (ys.output[1] - ys.output[0], xs.output[1] - xs.output[0])
    return _upsample(first, size) > 0, (ys.output[0], xs.output[0])


def masks_from_low_res(low_res: Tensor, input_size: tuple[int, int], original_size: tuple[int, int],
                       image_size: int = 1024) -> Tensor:
    """(B, k, h, w) low-res logits -> (B, k, H, W) bool masks, equal to
    ``sam.postprocess_masks(low_res, input_size, original_size) > 0`` (mask threshold 0)."""
    input_size = (int(input_size[0]), int(input_size[1]))
    original_size = (int(original_size[0]), int(original_size[1]))
    b, k, h, w = low_res.shape
    factor = image_size // h
    # Window shifts are exact only for a power-of-two first step (its scale 1/factor is exact).
    if h != w or image_size % h or factor & (factor - 1):
        up = F.interpolate(low_res, (image_size, image_size), mode="bilinear", align_corners=False)
        up = up[..., : input_size[0], : input_size[1]]
        return F.interpolate(up, original_size, mode="bilinear", align_corners=False) > 0
    masks = torch.zeros((b, k) + original_size, dtype=torch.bool, device=low_res.device)
    positive = low_res > 0
    for i in range(b):
        for j in range(k):
            box = _bbox(positive[i, j])
            window = None if box is None else _window_mask(low_res[i, j], box, factor, input_size, original_size)
            if window is not None:
                values, (y, x) = window
                masks[i, j, y:y + values.shape[0], x:x + values.shape[1]] = values
    return masks


def threshold_low_res(sam: Sam, low_res: Tensor, input_size: tuple[int, int],
                      original_size: tuple[int, int]) -> Tensor:
    """``sam.postprocess_masks(low_res, ...) > sam.mask_threshold``, windowed on CPU."""
    # The window argument needs "> 0" (convex combinations keep the sign); on a GPU one batched
    # interpolation beats a loop of small ones with a host sync each.
    if sam.mask_threshold != 0 or low_res.device.type != "cpu":
        return sam.postprocess_masks(low_res, input_size, original_size) > sam.mask_threshold
    return masks_from_low_res(low_res, input_size, original_size, sam.image_encoder.img_size)
