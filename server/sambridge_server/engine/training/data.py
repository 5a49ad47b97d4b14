"""Training data for finetuning: validation, SAM-space conversion, patches and AIS targets.

Everything the trainer sees is first brought into *SAM space*, exactly as the serving path
prepares an image (``preprocess.to_uint8_rgb`` on the whole image, then ``ResizeLongestSide`` to
the encoder size, zero padding to a square): a model trained on it needs no special handling at
inference. Patches are cut from SAM space at token-aligned offsets, so that the encoder's
position embeddings of a patch are those of the same place in a served image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from scipy import ndimage
from segment_anything.utils.transforms import ResizeLongestSide
from skimage.measure import regionprops
from skimage.segmentation import find_boundaries

from ..errors import InvalidInput
from ..files import open_confined
from ..images import StoredImage
from ..preprocess import to_uint8_rgb, validate_image
from ..tiling import NativeTiling, make_grid

PATCH = 16  # encoder pixels per token
MIN_OBJECT_SIZE = 25  # torch_em PerObjectDistanceTransform(min_size=25) in micro_sam's training
MIN_PATCH_OBJECTS = 2  # micro_sam: MinInstanceSampler(2), which counts background; we ask for 2 objects
_EPS = 1e-7


@dataclass(frozen=True)
class TrainingImage:
    """One image in SAM space: uint8 RGB (S, S, 3) padded, labels (S, S) and the valid size."""

    rgb: np.ndarray
    labels: np.ndarray
    input_size: tuple[int, int]
    name: str = ""


@dataclass(frozen=True)
class Patch:
    """A token-aligned patch of a ``TrainingImage``; ``offset`` is (y, x) in SAM-space pixels."""

    rgb: np.ndarray
    labels: np.ndarray
    offset: tuple[int, int]
    valid: tuple[int, int] | None = None  # rows, columns of real image inside the patch (rest: padding)


def check_pair(image: np.ndarray, labels: np.ndarray, name: str = "pair") -> None:
    """Raise InvalidInput unless ``labels`` is an integer label image of ``image``'s shape with objects."""
    image = validate_image(image, f"{name} image")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise InvalidInput(f"{name}: labels must be an integer label image, got dtype {labels.dtype}")
    if labels.shape != image.shape[:2]:
        raise InvalidInput(
            f"{name}: labels shape {labels.shape} differs from the image's spatial shape {image.shape[:2]}"
        )
    if not (labels > 0).any():
        raise InvalidInput(f"{name}: the label image holds no objects (all zero)")


def to_sam_space(image: np.ndarray, labels: np.ndarray, image_size: int = 1024, name: str = "") -> TrainingImage:
    """Bring an (image, labels) pair into SAM space (see module docstring)."""
    check_pair(image, labels, name or "pair")
    rgb = to_uint8_rgb(image)
    resized = ResizeLongestSide(image_size).apply_image(rgb)
    height, width = resized.shape[:2]
    # Nearest-neighbour zoom of the labels onto the resized grid (pixel centres).
    rows = np.minimum(((np.arange(height) + 0.5) * labels.shape[0] / height).astype(int), labels.shape[0] - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * labels.shape[1] / width).astype(int), labels.shape[1] - 1)
    padded_rgb = np.zeros((image_size, image_size, 3), dtype=np.uint8)
    padded_rgb[:height, :width] = resized
    padded_labels = np.zeros((image_size, image_size), dtype=np.int32)
    padded_labels[:height, :width] = np.asarray(labels)[np.ix_(rows, cols)]
    return TrainingImage(padded_rgb, padded_labels, (height, width), name)


def to_sam_tiles(image: np.ndarray, labels: np.ndarray, tiling: NativeTiling | None,
                 name: str = "") -> list[TrainingImage]:
    """SAM-space images of the tiles that serving embeds for ``tiling`` (None: the whole image).

    A model served with a native tiling sees each tile's outer block (halo included), normalised
    and resized on its own; training on exactly those blocks teaches it the scale it will see.
    Tiles without objects are left out.
    """
    if tiling is None:
        return [to_sam_space(image, labels, name=name)]
    check_pair(image, labels, name or "pair")
    tiles = []
    for tile in make_grid(np.asarray(labels).shape[:2], tiling.tile_shape, tiling.halo).tiles:
        tile_labels = np.asarray(labels)[tile.outer_slices()]
        if (tile_labels > 0).any():
            tiles.append(to_sam_space(np.asarray(image)[tile.outer_slices()], tile_labels,
                                      name=f"{name}_tile{tile.index}"))
    return tiles  # never empty: check_pair found objects and the tiles cover the image


def random_patch(sample: TrainingImage, size: int, rng: np.random.Generator, augment: bool = True) -> Patch:
    """A ``size``-pixel square patch at a random token-aligned offset inside the valid region,
    holding objects where the image has them (``object_rich_offset``).

    Augmentation flips the valid region before cutting, so the zero padding stays where serving
    puts it (bottom and right) and a whole-image patch is exactly a served image.
    """
    rgb, labels = sample.rgb, sample.labels
    if augment:
        flip = random_flip(rng)
        rgb, labels = flip_valid(rgb, sample.input_size, flip), flip_valid(labels, sample.input_size, flip)
    y, x = object_rich_offset(labels, sample.input_size, size, rng)
    return Patch(np.ascontiguousarray(rgb[y : y + size, x : x + size]),
                 np.ascontiguousarray(labels[y : y + size, x : x + size]), (y, x), valid_extent(sample, (y, x), size))


def valid_extent(sample: TrainingImage, offset: tuple[int, int], size: int) -> tuple[int, int]:
    """Rows and columns of a patch at ``offset`` that hold the image rather than padding."""
    height, width = sample.input_size
    return int(np.clip(height - offset[0], 0, size)), int(np.clip(width - offset[1], 0, size))


Flip = tuple[bool, bool]  # (flip y, flip x) inside the valid region


def random_flip(rng: np.random.Generator) -> Flip:
    """Flip y and flip x, each with probability 0.5 (the training augmentation)."""
    return bool(rng.random() < 0.5), bool(rng.random() < 0.5)


def flip_valid(array: np.ndarray, input_size: tuple[int, int], flip: Flip) -> np.ndarray:
    """``array`` with its valid top-left ``input_size`` region flipped; the padding stays put."""
    if not any(flip):
        return array
    height, width = input_size
    out = np.array(array, copy=True)
    region = out[:height, :width]
    if flip[0]:
        region = region[::-1]
    if flip[1]:
        region = region[:, ::-1]
    out[:height, :width] = region
    return out


def random_offset(extent: int, size: int, rng: np.random.Generator) -> int:
    """Token-aligned start so that the patch overlaps the valid extent as much as possible."""
    n_tokens = max(0, (extent - size + PATCH - 1) // PATCH)
    return int(rng.integers(0, n_tokens + 1)) * PATCH


def object_rich_offset(labels: np.ndarray, input_size: tuple[int, int], size: int, rng: np.random.Generator,
                       min_objects: int = MIN_PATCH_OBJECTS, tries: int = 100) -> tuple[int, int]:
    """Random token-aligned (y, x) of a patch with at least ``min_objects`` objects.

    micro_sam trains with torch_em's ``MinInstanceSampler``: patches with too few objects are
    redrawn. Without it, an image whose cells fill a small part of the field (a colony) gives
    mostly empty patches, which teach the prompt path nothing. After ``tries`` draws the one with
    the most objects is kept.
    """
    best, best_count = (0, 0), -1
    for _ in range(tries):
        y, x = (random_offset(extent, size, rng) for extent in input_size)
        count = len(object_ids(labels[y : y + size, x : x + size]))
        if count >= min_objects:
            return y, x
        if count > best_count:
            best, best_count = (y, x), count
    return best


def grid_patches(sample: TrainingImage, size: int) -> list[Patch]:
    """Non-overlapping token-aligned patches covering the valid region (for validation)."""
    patches = []
    for y in range(0, max(1, sample.input_size[0] - size // 4), size):
        for x in range(0, max(1, sample.input_size[1] - size // 4), size):
            y0, x0 = min(y, sample.rgb.shape[0] - size), min(x, sample.rgb.shape[1] - size)
            patches.append(Patch(sample.rgb[y0 : y0 + size, x0 : x0 + size],
                                 sample.labels[y0 : y0 + size, x0 : x0 + size], (y0, x0),
                                 valid_extent(sample, (y0, x0), size)))
    return patches


def distance_targets(labels: np.ndarray, min_size: int = MIN_OBJECT_SIZE) -> np.ndarray:
    """AIS decoder targets (3, H, W) float32: foreground, center distance, boundary distance.

    Same definition as torch_em's ``PerObjectDistanceTransform`` (distances, boundary_distances,
    foreground; normalised per object; fill value 1 outside objects): the center distance is the
    distance to the object's centroid (or its most interior point when the centroid lies
    outside), the boundary distance is ``max(inner distance) - inner distance``; both are 0 at the
    center, so AIS seeds are where both are small.
    """
    labels = _relabel(labels, min_size)
    foreground = (labels > 0).astype(np.float32)
    center = np.ones(labels.shape, dtype=np.float32)
    boundary = np.ones(labels.shape, dtype=np.float32)
    boundaries = find_boundaries(labels, mode="inner")
    for prop in regionprops(labels):
        box = prop.slice
        mask = labels[box] == prop.label
        inner = ndimage.distance_transform_edt(~boundaries[box])
        inner[~mask] = 0
        cy, cx = (int(round(c)) - s.start for c, s in zip(prop.centroid, box))
        if not mask[cy, cx]:
            cy, cx = np.unravel_index(np.argmax(inner), inner.shape)
        yy, xx = np.indices(mask.shape)
        dist_center = np.hypot(yy - cy, xx - cx)
        dist_boundary = inner.max() - inner
        center[box][mask] = (dist_center / (dist_center[mask].max() + _EPS))[mask]
        boundary[box][mask] = (dist_boundary / (np.abs(dist_boundary[mask]).max() + _EPS))[mask]
    return np.stack([foreground, center, boundary])


def _relabel(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Split disconnected parts into their own objects and drop objects below ``min_size``."""
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, dtype=np.int32)
    next_id = 1
    for prop in regionprops(labels.astype(np.int32)):
        parts, n_parts = ndimage.label(prop.image)
        for part in range(1, n_parts + 1):
            part_mask = parts == part
            if part_mask.sum() < min_size:
                continue
            out[prop.slice][part_mask] = next_id
            next_id += 1
    return out


def object_ids(labels: np.ndarray, min_size: int = MIN_OBJECT_SIZE) -> np.ndarray:
    """Ids of objects with at least ``min_size`` pixels (prompt sampling candidates)."""
    ids, counts = np.unique(labels, return_counts=True)
    return ids[(ids > 0) & (counts >= min_size)]


def split_validation(samples: Sequence[TrainingImage], fraction: float) -> tuple[list, list]:
    """Deterministic split: the last ``ceil(fraction * n)`` samples validate (at least one train)."""
    samples = list(samples)
    if fraction <= 0 or len(samples) < 2:
        return samples, []
    n_val = min(len(samples) - 1, max(1, int(np.ceil(fraction * len(samples)))))
    return samples[:-n_val], samples[-n_val:]


def load_data_dir(directory: str | Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image, labels) for every ``images/<name>`` with a ``labels/<name>`` (tif/npy).

    Only regular files inside ``directory`` are read (no FIFOs, devices or symlinks leading out)."""
    directory = Path(directory)
    images_dir, labels_dir = directory / "images", directory / "labels"
    if not images_dir.is_dir() or not labels_dir.is_dir():
        raise InvalidInput(f"data_dir '{directory.name}' must contain images/ and labels/ folders")
    found = False
    for path in sorted(images_dir.iterdir()):
        label_path = labels_dir / path.name
        if not label_path.exists():
            continue
        found = True
        # Every file is opened once and checked as opened: regular, and inside the data folder.
        with open_confined(path, directory) as image_file, open_confined(label_path, directory) as label_file:
            yield path.stem, _read_array(image_file, path.name), _read_array(label_file, label_path.name)
    if not found:
        raise InvalidInput(f"data_dir '{directory.name}' has no image with a same-named label file")


def _read_array(handle, name: str) -> np.ndarray:
    """A .npy (no pickles) or TIFF array from an open file; InvalidInput names an unreadable one."""
    import io

    import tifffile

    try:
        if name.endswith(".npy"):
            return np.load(handle, allow_pickle=False)
        return tifffile.imread(io.BytesIO(handle.read()))  # tifffile wants a name, fdopen has none
    except Exception as err:  # noqa: BLE001 - any parse failure is the user's file, not our bug
        raise InvalidInput(f"cannot read {name!r} as a TIFF or .npy array: {err}") from None


def synthetic_nuclei(shape: tuple[int, int], n_objects: int, rng: np.random.Generator,
                     radius: tuple[float, float] = (8.0, 18.0)) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic fluorescence image of non-overlapping ellipses with blur, texture and noise."""
    labels = np.zeros(shape, dtype=np.int32)
    yy, xx = np.indices(shape)
    next_id = 1
    for _ in range(n_objects * 4):
        if next_id > n_objects:
            break
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        ry, rx = rng.uniform(*radius, size=2)
        angle = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = dy * np.cos(angle) + dx * np.sin(angle)
        v = -dy * np.sin(angle) + dx * np.cos(angle)
        mask = (u / ry) ** 2 + (v / rx) ** 2 <= 1
        if not mask.any() or (labels[mask] > 0).any():
            continue
        labels[mask] = next_id
        next_id += 1
    brightness = rng.uniform(0.4, 1.0, size=next_id)
    brightness[0] = 0.0
    image = brightness[labels] * (1 + 0.2 * ndimage.gaussian_filter(rng.normal(size=shape), 2))
    image = ndimage.gaussian_filter(image, rng.uniform(0.8, 2.0))
    image += rng.uniform(0.05, 0.2) + rng.normal(0, rng.uniform(0.01, 0.08), size=shape)
    return (np.clip(image, 0, None) * 1000).astype(np.uint16), labels


def pairs_from_folder(directory: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, labels) of every pair in a training folder (``load_data_dir``'s layout)."""
    return [(image, labels) for _, image, labels in load_data_dir(directory)]


def pairs_from_images(pairs: Sequence[tuple[StoredImage, StoredImage]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image plane, labels plane) of stored (image, labels) pairs; stacks give one pair per plane."""
    samples = []
    for i, (image, labels) in enumerate(pairs):
        if image.is_stack != labels.is_stack or image.n_slices != labels.n_slices:
            raise InvalidInput(f"pair {i}: image has {image.n_slices} planes, labels {labels.n_slices}")
        samples += [(image.plane(z), labels.plane(z)) for z in range(image.n_slices)]
    return samples
