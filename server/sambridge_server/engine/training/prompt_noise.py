"""Box-prompt noise for training: SAM's jittered boxes and loose boxes.

SAM (Kirillov et al. 2023, appendix A) trains box prompts as the object's bounding box with each
coordinate shifted by noise of standard deviation 10% of the box side, at most 20 pixels. Users
also draw boxes with slack: a *loose* box grows the bounding box by a margin drawn uniformly from
0 to ``max_margin_px`` on each side. Boxes are (x0, y0, x1, y1) in SAM-space pixels; all noise
comes from the caller's ``numpy`` generator, so a seed fixes every box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class BoxNoise:
    """How training boxes deviate from the tight bounding box.

    ``jitter``: standard deviation of each coordinate's shift as a fraction of the box side
    (width for x, height for y); ``max_jitter_px``: shifts are clipped to this many pixels (0: not
    clipped); ``loose_prob``: probability that a box is loose (margins only, no jitter);
    ``max_margin_px``: a loose box's per-side margin is uniform in [0, max_margin_px].
    """

    jitter: float = 0.025
    max_jitter_px: float = 0.0
    loose_prob: float = 0.0
    max_margin_px: float = 20.0


SAM_BOX_NOISE = BoxNoise(jitter=0.1, max_jitter_px=20.0, loose_prob=0.5, max_margin_px=20.0)


def jitter_offsets(sides: np.ndarray, rng: np.random.Generator, noise: BoxNoise) -> np.ndarray:
    """(N, 4) coordinate shifts: N(0, jitter x side), clipped to +-max_jitter_px when that is set."""
    shifts = rng.normal(0.0, 1.0, sides.shape) * noise.jitter * sides
    if noise.max_jitter_px > 0:
        shifts = np.clip(shifts, -noise.max_jitter_px, noise.max_jitter_px)
    return shifts


def loose_offsets(n: int, rng: np.random.Generator, noise: BoxNoise) -> np.ndarray:
    """(N, 4) coordinate shifts that grow each box by a uniform [0, max_margin_px] margin per side."""
    margins = rng.uniform(0.0, noise.max_margin_px, (n, 4))
    return margins * np.array([-1.0, -1.0, 1.0, 1.0])


def noisy_boxes(boxes: torch.Tensor, rng: np.random.Generator, noise: BoxNoise,
                bounds: tuple[float, float, float, float] | None = None) -> torch.Tensor:
    """Training boxes from tight (N, 4) xyxy ``boxes``: jittered, or loose with ``noise.loose_prob``.

    ``bounds`` (x0, y0, x1, y1) clips the result to the region the model sees (a patch); corners
    are kept ordered with at least one pixel between them.
    """
    n = boxes.shape[0]
    tight = boxes.detach().cpu().double().numpy()
    sides = np.stack([tight[:, 2] - tight[:, 0], tight[:, 3] - tight[:, 1]] * 2, 1)
    shifts = jitter_offsets(sides, rng, noise)
    if noise.loose_prob > 0:
        loose = rng.random(n) < noise.loose_prob
        shifts[loose] = loose_offsets(int(loose.sum()), rng, noise)
    out = tight + shifts
    if bounds is not None:
        out[:, 0::2] = np.clip(out[:, 0::2], bounds[0], bounds[2])
        out[:, 1::2] = np.clip(out[:, 1::2], bounds[1], bounds[3])
    return torch.as_tensor(_ordered(out, bounds), dtype=torch.float32, device=boxes.device)


def _ordered(boxes: np.ndarray, bounds) -> np.ndarray:
    """Sort each box's corners and keep at least one pixel between them (inside ``bounds``)."""
    out = boxes.copy()
    for lo, hi, limit in ((0, 2, None if bounds is None else bounds[2]), (1, 3, None if bounds is None else bounds[3])):
        a, b = np.minimum(out[:, lo], out[:, hi]), np.maximum(out[:, lo], out[:, hi])
        b = np.maximum(b, a + 1.0)
        if limit is not None:
            over = b > limit
            a[over], b[over] = limit - 1.0, limit
        out[:, lo], out[:, hi] = a, b
    return out
