"""The batch's output: one OME-Zarr label image per input plus the object table, published at once.

Layout of ``OUT.zarr`` (NGFF 0.5 via ome-zarr-py)::

    OUT.zarr/                       root group, attributes {"sambridge_batch": {...}}
      <input name>/labels/          {"labels": ["segmentation"]}
        segmentation/               multiscales + image-label metadata, levels s0, s1, ...
      objects.csv                   the per-object table (objects.parquet with pyarrow)

napari, Fiji (N5/Zarr) and QuPath open ``OUT.zarr/<name>/labels/segmentation``. The whole
folder is built under ``OUT.zarr.partial-<id>`` and renamed into place when complete, so a
reader never sees half an output; an existing output is replaced only if an earlier batch wrote it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import numpy as np

from ..errors import InvalidInput

MARKER = "sambridge_batch"
LABEL_NAME = "segmentation"
MIN_LEVEL_SIDE = 256


def check_output(path: Path) -> None:
    """InvalidInput unless ``path`` is free or an earlier batch output (which will be replaced)."""
    if path.suffix != ".zarr":
        raise InvalidInput(f"output must be a folder name ending in .zarr, got {path.name!r}")
    if path.exists() and not is_batch_output(path):
        raise InvalidInput(f"output {path.name!r} exists and was not written by a batch; choose another name")
    if not path.parent.is_dir():
        raise InvalidInput(f"the folder of output {path.name!r} does not exist")


def is_batch_output(path: Path) -> bool:
    """True for a folder an earlier batch published."""
    meta = path / "zarr.json"
    try:
        return MARKER in json.loads(meta.read_text()).get("attributes", {})
    except (OSError, ValueError):
        return False


class OutputBuilder:
    """Builds the output in a partial folder; ``publish`` renames it into place."""

    def __init__(self, final: Path, description: dict) -> None:
        """Start ``final``'s partial folder with the root group and its ``description``."""
        import zarr

        self.final = Path(final)
        self.partial = self.final.with_name(f"{self.final.name}.partial-{uuid.uuid4().hex[:8]}")
        self.root = zarr.open_group(str(self.partial), mode="w")
        self.root.attrs[MARKER] = description

    def level0(self, name: str, shape: tuple[int, ...], chunks: tuple[int, ...]):
        """A scratch uint32 array (full resolution) for input ``name``'s labels, filled by the caller."""
        import zarr

        return zarr.open_array(str(self.partial / f".{name}.level0"), mode="w", shape=shape, chunks=chunks,
                               dtype="uint32", fill_value=0)

    def write_labels(self, name: str, level0, axes: str) -> None:
        """The OME-Zarr label image of ``name`` from its full-resolution array (pyramid by nearest)."""
        import dask.array as da
        from ome_zarr.writer import write_labels

        group = self.root.create_group(name)
        factors, side = [], max(level0.shape[-2:])
        while side // (2 ** (len(factors) + 1)) >= MIN_LEVEL_SIDE:
            factors.append(2 ** (len(factors) + 1))
        chunks = tuple(min(s, c) for s, c in zip(level0.shape, (1,) * (len(axes) - 2) + (1024, 1024)))
        data = da.from_zarr(level0)
        write_labels(data, group, name=LABEL_NAME, scaler=None, scale_factors=tuple(factors), axes=axes,
                     storage_options={"chunks": chunks})
        shutil.rmtree(self.partial / f".{name}.level0", ignore_errors=True)

    def publish(self) -> Path:
        """Rename the finished output into place (replacing an earlier batch output)."""
        old = None
        if self.final.exists():
            old = self.final.with_name(f"{self.final.name}.old-{uuid.uuid4().hex[:8]}")
            self.final.rename(old)
        self.partial.rename(self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def discard(self) -> None:
        """Remove the partial folder (after a failure or cancel)."""
        shutil.rmtree(self.partial, ignore_errors=True)


def read_labels(output: Path, name: str, level: int = 0) -> np.ndarray:
    """The labels of input ``name`` at pyramid ``level``, read back with ome-zarr-py's reader."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    location = parse_url(str(Path(output) / name / "labels" / LABEL_NAME))
    if location is None:
        raise InvalidInput(f"{output} has no labels for {name!r}")
    for node in Reader(location)():
        if any(isinstance(spec, Label) for spec in node.specs):
            return np.asarray(node.data[level])
    raise InvalidInput(f"{output}/{name} is not an OME-Zarr label image")
