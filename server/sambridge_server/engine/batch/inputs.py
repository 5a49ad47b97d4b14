"""Batch inputs: what a job reads, found from server-side paths and read lazily, region by region.

An input is one image file: TIFF / OME-TIFF (any pyramid level, read through tifffile's zarr
view, so a whole slide is never loaded at once), an OME-Zarr image (a pyramid level of its
``multiscales``) or a ``.npy`` array (how uploaded images reach the workers). A spec names a
file, a folder (its images, not recursive; an OME-Zarr folder is one image) or a glob; every
path found is confined to the data roots, symlinks included.

Singleton axes are dropped; what remains must be (y, x) or one plane axis plus (y, x): the
plane axis is reported as ``z`` (Z, or anything but T) or ``t``. Multi-channel images are refused.
"""

from __future__ import annotations

import glob
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import InvalidInput
from ..files import confine

TIFF_SUFFIXES = (".tif", ".tiff")
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class BatchInput:
    """One image of a batch: where it is, its level, planes and identity.

    ``shape`` is (n_planes, height, width); ``axes`` is ``"yx"`` for one plane, else ``"zyx"``
    or ``"tyx"``. ``source_axes`` and ``dataset`` say how to index the stored array.
    ``identity`` changes whenever the file does (path, size, modification time, level).
    """

    name: str
    path: str
    kind: str  # "tiff", "zarr" or "npy"
    level: int
    shape: tuple[int, int, int]
    axes: str
    dtype: str
    source_axes: str
    dataset: str = ""
    identity: str = ""

    @property
    def n_planes(self) -> int:
        """Number of 2D planes."""
        return self.shape[0]

    @property
    def plane_shape(self) -> tuple[int, int]:
        """(height, width) of one plane."""
        return self.shape[1], self.shape[2]


def discover_inputs(specs: Sequence[str], roots: Sequence[Path], level: int = 0) -> list[BatchInput]:
    """The images named by ``specs`` (files, folders, globs) under ``roots``, in order, each once.

    InvalidInput for a path outside the roots, an unreadable file or a spec that finds nothing;
    NotFound for a named file that does not exist.
    """
    if level < 0:
        raise InvalidInput(f"level must be >= 0, got {level}")
    paths: list[Path] = []
    for spec in specs:
        found = _expand(spec, roots)
        if not found:
            raise InvalidInput(f"input {spec!r} names no TIFF, OME-Zarr or .npy image")
        paths += [p for p in found if p not in paths]
    inputs = [open_input(path, level) for path in paths]
    return _unique_names(inputs)


def _expand(spec: str, roots: Sequence[Path]) -> list[Path]:
    if any(char in spec for char in _GLOB_CHARS):
        matches: list[str] = []
        for root in roots:
            pattern = spec if Path(spec).is_absolute() else str(Path(root) / spec)
            matches += sorted(glob.glob(pattern, recursive=True))
        return [confine(m, list(roots), "input") for m in matches if _is_image(Path(m))]
    path = confine(spec, list(roots), "input")
    if path.is_dir() and not _is_zarr_image(path):
        return [confine(str(p), list(roots), "input") for p in sorted(path.iterdir()) if _is_image(p)]
    return [path]


def _is_image(path: Path) -> bool:
    if path.is_dir():
        return _is_zarr_image(path)
    return path.suffix.lower() in TIFF_SUFFIXES + (".npy",)


def _is_zarr_image(path: Path) -> bool:
    return _multiscales(path) is not None


def _multiscales(path: Path) -> dict | None:
    """The first ``multiscales`` entry of an OME-Zarr image group (NGFF 0.4 or 0.5), or None."""
    for name in ("zarr.json", ".zattrs"):
        meta = path / name
        if meta.is_file():
            try:
                attrs = json.loads(meta.read_text())
            except ValueError:
                return None
            attrs = attrs.get("attributes", attrs)
            attrs = attrs.get("ome", attrs)
            scales = attrs.get("multiscales")
            if scales:
                return scales[0]
    return None


def open_input(path: Path, level: int = 0) -> BatchInput:
    """Describe the image at ``path`` (level ``level`` of its pyramid) without reading its pixels."""
    path = Path(path)
    stat = path.stat()
    if path.is_dir():
        kind, shape, dtype, axes, dataset = _describe_zarr(path, level)
    elif path.suffix.lower() == ".npy":
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        kind, shape, dtype, dataset = "npy", array.shape, array.dtype, ""
        axes = "yx" if array.ndim == 2 else "zyx"
        if level:
            raise InvalidInput(f"{path.name}: a .npy array has no pyramid level {level}")
    else:
        kind, shape, dtype, axes, dataset = _describe_tiff(path, level)
    plane_axes, full = _plane_layout(path.name, axes, shape)
    identity = hashlib.sha1(json.dumps([str(path), stat.st_size, stat.st_mtime_ns, level]).encode()).hexdigest()
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".ome.zarr", ".tiff", ".tif", ".zarr", ".npy"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return BatchInput(name=name or "image", path=str(path), kind=kind, level=level, shape=full, axes=plane_axes,
                      dtype=str(np.dtype(dtype)), source_axes=axes, dataset=dataset, identity=identity)


def _describe_tiff(path: Path, level: int):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            if level >= len(series.levels):
                raise InvalidInput(f"{path.name} has {len(series.levels)} pyramid level(s); level {level} asked")
            page = series.levels[level]
            return "tiff", tuple(page.shape), page.dtype, series.axes.lower(), ""
    except (tifffile.TiffFileError, OSError, ValueError) as error:
        if isinstance(error, InvalidInput):
            raise
        raise InvalidInput(f"cannot read {path.name} as TIFF: {error}") from None


def _describe_zarr(path: Path, level: int):
    import zarr

    meta = _multiscales(path)
    datasets = meta.get("datasets", [])
    if level >= len(datasets):
        raise InvalidInput(f"{path.name} has {len(datasets)} pyramid level(s); level {level} asked")
    axes = "".join(a["name"][0] if isinstance(a, dict) else str(a)[0] for a in meta.get("axes", [])).lower()
    dataset = datasets[level]["path"]
    array = zarr.open_array(str(path / dataset), mode="r")
    if not axes:
        axes = "zyx"[-array.ndim:] if array.ndim <= 3 else "tczyx"[-array.ndim:]
    return "zarr", tuple(array.shape), array.dtype, axes, dataset


def _plane_layout(name: str, axes: str, shape: Sequence[int]) -> tuple[str, tuple[int, int, int]]:
    """Output axes and (n_planes, H, W) of a stored array with these axes."""
    if len(axes) != len(shape) or "y" not in axes or "x" not in axes:
        raise InvalidInput(f"{name}: cannot tell the y and x axes of an array of shape {tuple(shape)} ({axes!r})")
    others = [(a, n) for a, n in zip(axes, shape) if a not in "yx" and n > 1]
    if len(others) > 1 or (others and others[0][0] in "cs"):
        raise InvalidInput(f"{name}: axes {axes!r} of shape {tuple(shape)}: one plane axis (z or t) at most and "
                           "no channels are supported; split channels first")
    height, width = shape[axes.index("y")], shape[axes.index("x")]
    if not others:
        return "yx", (1, int(height), int(width))
    letter, count = others[0]
    return ("tyx" if letter == "t" else "zyx"), (int(count), int(height), int(width))


def _unique_names(inputs: list[BatchInput]) -> list[BatchInput]:
    seen: dict[str, int] = {}
    result = []
    for item in inputs:
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in item.name)
        count = seen.get(name, 0)
        seen[name] = count + 1
        result.append(replace(item, name=name if count == 0 else f"{name}_{count}"))
    return result


def read_region(item: BatchInput, plane: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels of ``box`` = (y0, x0, y1, x1) of plane ``plane``, (y, x), in the stored dtype."""
    y0, x0, y1, x1 = box
    if item.kind == "npy":
        array = np.load(item.path, mmap_mode="r", allow_pickle=False)
        if array.ndim == 2:
            return np.array(array[y0:y1, x0:x1])
        return np.array(array[plane, y0:y1, x0:x1])
    with _opened(item) as array:
        plane_axis = next((a for a, n in zip(item.source_axes, array.shape) if a not in "yx" and n > 1), None)
        index = []
        for axis in item.source_axes:
            if axis == "y":
                index.append(slice(y0, y1))
            elif axis == "x":
                index.append(slice(x0, x1))
            else:
                index.append(plane if axis == plane_axis else 0)
        return np.asarray(array[tuple(index)])


@contextmanager
def _opened(item: BatchInput) -> Iterator:
    """The stored array of a TIFF or OME-Zarr input as a zarr array (closed after)."""
    import zarr

    if item.kind == "zarr":
        yield zarr.open_array(str(Path(item.path) / item.dataset), mode="r")
        return
    import tifffile

    with tifffile.imread(item.path, aszarr=True, level=item.level, series=0) as store:
        yield zarr.open(store, mode="r")
