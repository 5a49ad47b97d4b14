"""Diverse synthetic microscopy images with instance labels, for training a general model.

An image is drawn from a ``SyntheticStyle``: nuclei (compact, smooth blobs) or whole cells
(larger, irregular, with a nucleus and a rim) of 8-100 px diameter, sparse to crowded; crowded
styles let neighbours intrude into each other so that touching objects share a boundary (each
pixel goes to the object whose scaled shape it lies deepest in). Rendering varies intensity,
inner profile, texture, blur, noise, uneven background and debris, in three modalities: bright
objects on a dark background (fluorescence), dark objects on a bright one (absorption), and
dark objects with bright halos (phase contrast). ``random_style`` draws a style; everything
comes from the caller's ``numpy`` generator, so a seed fixes the image and its labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

Kind = Literal["nuclei", "cells"]
Modality = Literal["fluorescence", "dark", "phase"]
MIN_DIAMETER, MAX_DIAMETER = 8.0, 100.0


@dataclass(frozen=True)
class SyntheticStyle:
    """Parameters of one synthetic image (sizes in pixels of the generated image).

    ``diameter``: range of objects' equivalent diameters; ``coverage``: fraction of the field the
    objects' shapes cover (0.03 sparse .. 0.6 crowded); ``overlap``: how deep neighbours may
    reach into each other (0 keeps them apart; 0.3 gives many touching pairs); ``aspect``: the
    largest ratio of an object's long to short axis; ``irregularity``: amplitude of the outline's
    waviness; ``contrast``: object signal over the background level; ``texture``: relative
    intensity variation inside objects; ``blur``: Gaussian sigma; ``noise``: relative noise;
    ``background``: strength of uneven illumination; ``halo``: phase-contrast halo strength.
    """

    kind: Kind = "nuclei"
    diameter: tuple[float, float] = (15.0, 30.0)
    coverage: float = 0.2
    overlap: float = 0.0
    modality: Modality = "fluorescence"
    aspect: float = 1.5
    irregularity: float = 0.08
    contrast: float = 1.0
    texture: float = 0.2
    blur: float = 1.0
    noise: float = 0.05
    background: float = 0.3
    halo: float = 0.0


def random_style(rng: np.random.Generator, diameter: tuple[float, float] = (MIN_DIAMETER, MAX_DIAMETER),
                 coverage: tuple[float, float] = (0.03, 0.6)) -> SyntheticStyle:
    """A random style: object size centred log-uniformly in ``diameter`` (spread up to 1.5x
    either way, kept inside it), coverage uniform in ``coverage``, half the styles touching."""
    kind: Kind = "nuclei" if rng.random() < 0.6 else "cells"
    centre = float(np.exp(rng.uniform(np.log(diameter[0]), np.log(diameter[1]))))
    spread = float(rng.uniform(1.0, 1.5))
    size = (max(diameter[0], centre / spread), min(diameter[1], centre * spread))
    modality: Modality = str(rng.choice(["fluorescence", "dark", "phase"], p=[0.5, 0.25, 0.25]))  # type: ignore
    crowded = rng.random() < 0.5
    return SyntheticStyle(
        kind=kind,
        diameter=size,
        coverage=float(rng.uniform(*coverage)),
        overlap=float(rng.uniform(0.1, 0.35)) if crowded else 0.0,
        modality=modality,
        aspect=float(rng.uniform(1.0, 1.8 if kind == "nuclei" else 3.0)),
        irregularity=float(rng.uniform(0.0, 0.12 if kind == "nuclei" else 0.25)),
        contrast=float(np.exp(rng.uniform(np.log(0.15), np.log(3.0)))),
        texture=float(rng.uniform(0.0, 0.5)),
        blur=float(rng.uniform(0.0, 2.5)),
        noise=float(np.exp(rng.uniform(np.log(0.005), np.log(0.2)))),
        background=float(rng.uniform(0.0, 0.8)),
        halo=float(rng.uniform(0.5, 2.0)) if modality == "phase" else 0.0,
    )


@dataclass(frozen=True)
class _Shape:
    """One object's outline: centre, half axes, rotation and radial harmonics."""

    cy: float
    cx: float
    ry: float
    rx: float
    angle: float
    harmonics: np.ndarray  # (K, 3): order, amplitude, phase

    @property
    def reach(self) -> float:
        return max(self.ry, self.rx) * (1 + float(np.abs(self.harmonics[:, 1]).sum())) + 1


def _random_shapes(shape: tuple[int, int], style: SyntheticStyle, rng: np.random.Generator,
                   max_objects: int) -> list[_Shape]:
    """Object outlines with centres at least (1 - overlap) x (r_i + r_j) apart (rejection sampling
    against the accepted neighbours of a coarse grid)."""
    lo, hi = np.log(style.diameter[0]), np.log(style.diameter[1])
    mean_area = np.pi / 4 * np.exp(lo + hi)
    target = int(np.clip(round(style.coverage * shape[0] * shape[1] / mean_area), 1, max_objects))
    max_reach = style.diameter[1] / 2 * np.sqrt(style.aspect) * (1 + 2 * style.irregularity) + 2
    cell = 2 * max_reach  # two accepted objects closer than this sit in neighbouring cells
    grid: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
    shapes: list[_Shape] = []
    orders = np.arange(2, 6)
    for _ in range(target * 6 + 100):
        if len(shapes) >= target:
            break
        diameter = float(np.exp(rng.uniform(lo, hi)))
        aspect = float(rng.uniform(1.0, style.aspect))
        cy, cx = float(rng.uniform(0, shape[0])), float(rng.uniform(0, shape[1]))
        amplitude = rng.uniform(0, style.irregularity, len(orders)) / orders * 2
        radius = diameter / 2 * np.sqrt(aspect) * (1 + amplitude.sum())  # bounds the object's reach
        gy, gx = int(cy // cell), int(cx // cell)
        near = [n for dy in (-1, 0, 1) for dx in (-1, 0, 1) for n in grid.get((gy + dy, gx + dx), ())]
        gap = 1.5 if style.overlap == 0 else 0.0
        if any(math.hypot(ny - cy, nx - cx) < (1 - style.overlap) * (nr + radius) + gap for ny, nx, nr in near):
            continue
        harmonics = np.stack([orders, amplitude, rng.uniform(0, 2 * np.pi, len(orders))], 1)
        shapes.append(_Shape(cy, cx, diameter / 2 * np.sqrt(aspect), diameter / 2 / np.sqrt(aspect),
                             float(rng.uniform(0, np.pi)), harmonics))
        grid.setdefault((gy, gx), []).append((cy, cx, radius))
    return shapes


def _rasterise(shape: tuple[int, int], shapes: list[_Shape]) -> tuple[np.ndarray, np.ndarray]:
    """Labels (each pixel to the object it lies deepest in) and that scaled depth (0 centre, 1 edge)."""
    labels = np.zeros(shape, dtype=np.int32)
    depth = np.full(shape, np.inf, dtype=np.float32)
    for index, s in enumerate(shapes, start=1):
        reach = s.reach
        y0, y1 = max(0, int(s.cy - reach)), min(shape[0], int(np.ceil(s.cy + reach)) + 1)
        x0, x1 = max(0, int(s.cx - reach)), min(shape[1], int(np.ceil(s.cx + reach)) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = np.meshgrid(np.arange(y0, y1) + 0.5 - s.cy, np.arange(x0, x1) + 0.5 - s.cx, indexing="ij")
        u = (dy * np.cos(s.angle) + dx * np.sin(s.angle)) / s.ry
        v = (-dy * np.sin(s.angle) + dx * np.cos(s.angle)) / s.rx
        theta = np.arctan2(v, u)
        outline = 1 + sum(a * np.cos(k * theta + p) for k, a, p in s.harmonics)
        d = (np.hypot(u, v) / outline).astype(np.float32)
        window = depth[y0:y1, x0:x1]
        inside = (d <= 1) & (d < window)
        window[inside] = d[inside]
        labels[y0:y1, x0:x1][inside] = index
    return _drop_small(labels), depth


def _drop_small(labels: np.ndarray, min_size: int = 20) -> np.ndarray:
    """Remove objects below ``min_size`` pixels (slivers left between crowded neighbours), renumber 1..n."""
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    new_ids = np.zeros(len(sizes), dtype=np.int32)
    new_ids[keep] = np.arange(1, keep.sum() + 1)
    return new_ids[labels]


def _smooth_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-smoothed noise (sigma in pixels; large sigmas are drawn on a
    coarse grid and zoomed up, which looks the same and costs a fraction)."""
    factor = max(1, int(sigma // 2))
    coarse = shape if factor == 1 else tuple(-(-side // factor) + 1 for side in shape)
    field = ndimage.gaussian_filter(rng.normal(size=coarse).astype(np.float32), max(sigma / factor, 0.5))
    if factor > 1:
        field = ndimage.zoom(field, factor, order=1)[: shape[0], : shape[1]]
    return field / (field.std() + 1e-6)


def _object_signal(labels: np.ndarray, depth: np.ndarray, style: SyntheticStyle,
                   rng: np.random.Generator) -> np.ndarray:
    """Per-pixel object signal (0 outside objects): brightness x inner profile x texture."""
    n = int(labels.max())
    brightness = np.zeros(n + 1, dtype=np.float32)
    brightness[1:] = rng.uniform(0.5, 1.0, n)
    d = np.where(labels > 0, np.minimum(depth, 1.0), 1.0)
    sharpness = rng.uniform(2.0, 8.0)  # flat-topped (8) to domed (2) profiles
    profile = 1 - 0.6 * d**sharpness
    if style.kind == "cells":  # dim cytoplasm, a brighter nucleus near the centre, a rim at the membrane
        nucleus = d < rng.uniform(0.3, 0.55)
        cytoplasm = rng.uniform(0.3, 0.7)
        profile = np.where(nucleus, 1.0, cytoplasm) + rng.uniform(0.0, 0.5) * (d > 0.85)
    scale = max(1.0, float(np.mean(style.diameter)) * rng.uniform(0.04, 0.12))
    texture = 1 + style.texture * _smooth_noise(labels.shape, scale, rng)
    spots = ndimage.gaussian_filter((rng.random(labels.shape) < 2e-3).astype(np.float32), scale) * scale**2
    texture = texture + rng.choice([-1.0, 1.0]) * style.texture * spots
    return np.clip(brightness[labels] * profile * texture, 0, None) * (labels > 0)


def _background(shape: tuple[int, int], style: SyntheticStyle, rng: np.random.Generator) -> np.ndarray:
    """Uneven illumination: a random linear ramp plus large-scale smooth variation, around 1."""
    yy, xx = np.indices(shape, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * yy + np.sin(angle) * xx) / max(shape)
    blobs = _smooth_noise(shape, max(shape) / 8, rng)
    return 1 + style.background * (0.5 * (ramp - ramp.mean()) + 0.15 * blobs)


def _debris(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Small unlabelled specks (a few pixels wide), the clutter real images have."""
    specks = (rng.random(shape) < 3e-5).astype(np.float32)
    return ndimage.gaussian_filter(specks, rng.uniform(0.7, 1.5)) * 15 * rng.uniform(0.0, 1.0)


def render(labels: np.ndarray, depth: np.ndarray, style: SyntheticStyle, rng: np.random.Generator) -> np.ndarray:
    """The image (float32, >= 0) of rasterised objects in ``style``'s modality."""
    signal = style.contrast * _object_signal(labels, depth, style, rng)
    background = _background(labels.shape, style, rng)
    level = 1.0
    debris = _debris(labels.shape, rng) * style.contrast
    if style.modality == "fluorescence":
        image = 0.2 * level * background + signal + debris
    else:
        image = level * background * (1 + style.contrast) - signal - debris
        if style.modality == "phase":  # a bright ring around each object: blurred mask outside the object
            mask = (labels > 0).astype(np.float32)
            width = max(1.5, float(np.mean(style.diameter)) * rng.uniform(0.05, 0.2))
            ring = np.clip(ndimage.gaussian_filter(mask, width) - mask, 0, None)
            image = image + style.halo * style.contrast * ring * (1 + style.contrast)
    image = ndimage.gaussian_filter(image.astype(np.float32), style.blur) if style.blur > 0 else image
    scale = float(np.abs(image).mean()) + 1e-6
    photons = 1.0 / max(style.noise, 1e-3) ** 2  # shot noise of relative size ~noise at the mean level
    image = rng.poisson(np.clip(image, 0, None) / scale * photons).astype(np.float32) * scale / photons
    image += rng.normal(0, style.noise * scale * 0.5, image.shape).astype(np.float32)
    return np.clip(image, 0, None)


def synthetic_image(shape: tuple[int, int], style: SyntheticStyle, rng: np.random.Generator,
                    max_objects: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """(uint16 image, int32 labels 1..n) of ``shape`` drawn in ``style``."""
    shapes = _random_shapes(shape, style, rng, max_objects)
    labels, depth = _rasterise(shape, shapes)
    image = render(labels, depth, style, rng)
    image = image / (image.max() + 1e-6) * 60000
    return image.astype(np.uint16), labels
