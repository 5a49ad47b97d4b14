"""The store of uploaded images, addressed by content id.

Images are kept in memory up to a byte budget and, with a cache dir, also as
``.npy`` files (written atomically, read with ``allow_pickle=False``) so that
ids stay valid across restarts and an evicted image is never lost. A file read
back is trusted only if its pixels still hash to its id. Without a cache dir the
least recently used images beyond the budget are forgotten (clients re-upload).

Callers hold references: uploading (or looking up) an image gives the caller one, deleting it
drops only that caller's, and the data goes when no caller references it any more. References
are opaque owner keys, kept in ``<id>.refs`` next to the image (rewritten atomically), so a
restart keeps them. An image stored without an owner (by the server itself, or before
references existed) is referenced by nobody and any delete removes it.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from sambridge_common.content_id import image_id as content_id

from .files import atomic_path, write_atomically
from .lru import LRU
from .errors import InvalidInput, NotFound, ResourceExhausted

MAX_CHANNELS = 16
SUPPORTED_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float32", "float64")
LABEL_DTYPES = ("uint8", "uint16", "uint32", "int32", "int64", "uint64")
# The only ids Upload ever hands out; anything else is unknown without touching the disk
# (no path traversal, no over-long file names).
_STALE_TMP_SECONDS = 3600
_IMAGE_ID = re.compile(r"sha1:[0-9a-f]{40}")


@dataclass(frozen=True)
class StoredImage:
    """An uploaded array with its axes string and content id."""

    image_id: str
    array: np.ndarray
    axes: str

    @property
    def is_stack(self) -> bool:
        """True for (z, y, x) and (t, y, x) data."""
        return self.axes[0] in "zt"

    @property
    def n_slices(self) -> int:
        """Number of 2D planes (1 for a 2D image)."""
        return int(self.array.shape[0]) if self.is_stack else 1

    @property
    def spatial_shape(self) -> tuple[int, int]:
        """(height, width) of one plane."""
        offset = 1 if self.is_stack else 0
        return int(self.array.shape[offset]), int(self.array.shape[offset + 1])

    def plane(self, index: int = 0) -> np.ndarray:
        """The 2D plane ``index`` ((y, x) or (y, x, c)); InvalidInput if out of range."""
        if not self.is_stack:
            if index not in (0, -1):
                raise InvalidInput(f"index {index} given for 2D image {self.image_id} (axes {self.axes})")
            return self.array
        if not 0 <= index < self.n_slices:
            raise InvalidInput(
                f"index {index} out of range for image {self.image_id} with {self.n_slices} {self.axes[0]}-planes"
            )
        return self.array[index]


_FLOAT_LIMIT = 1e30  # well inside float32 (3.4e38), so differences of values stay finite


def validate_image(array: np.ndarray, axes: str, max_pixels: int) -> None:
    """Check dtype, shape, size and finiteness of an uploaded image (InvalidInput)."""
    if array.dtype.name not in SUPPORTED_DTYPES:
        raise InvalidInput(f"dtype {array.dtype.name} is not supported for images; use one of {SUPPORTED_DTYPES}")
    if array.size == 0:
        raise InvalidInput(f"image is empty (shape {array.shape})")
    spatial = [s for a, s in zip(axes, array.shape) if a in "yx"]
    if min(spatial) < 2:
        raise InvalidInput(f"image of shape {array.shape} ({axes}) is too small")
    if "c" in axes and array.shape[-1] > MAX_CHANNELS:
        raise InvalidInput(f"image of shape {array.shape} with axes {axes!r} has {array.shape[-1]} channels, "
                           f"more than {MAX_CHANNELS}: select channels or give the right axes "
                           f"(czyx, zcyx, tzyx, tczyx are accepted too)")
    if array.size > max_pixels:
        raise ResourceExhausted(f"image has {array.size} elements, over the server limit of {max_pixels}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput("image contains NaN or infinite values")
    if array.dtype.kind == "f":
        # Min-max scaling subtracts the minimum: a range beyond float32 would scale to garbage.
        low, high = float(array.min()), float(array.max())
        if max(abs(low), abs(high)) > _FLOAT_LIMIT:
            raise InvalidInput(f"image values span [{low:g}, {high:g}], beyond what can be scaled "
                               f"(at most +-{_FLOAT_LIMIT:g}); rescale the data first")


class ImageStore:
    """Thread-safe id -> StoredImage map with a memory budget and optional disk copy."""

    def __init__(self, budget_bytes: int = 4 << 30, directory: Path | None = None) -> None:
        self._directory = Path(directory) if directory else None
        if self._directory:
            self._directory.mkdir(parents=True, exist_ok=True)
            for leftover in self._directory.glob("*.tmp"):  # from writers that crashed long ago
                if time.time() - leftover.stat().st_mtime > _STALE_TMP_SECONDS:
                    leftover.unlink(missing_ok=True)
        # The newest image always stays, even when it alone is over the budget.
        self._images: LRU[str, StoredImage] = LRU(budget_bytes, lambda image: image.array.nbytes, keep_newest=True)
        self._lock = threading.Lock()
        # References: in memory without a directory, in <id>.refs files with one. Changes of one
        # image's references (and its deletion) are serialised by that image's stripe lock.
        self._refs: dict[str, set[str]] = {}
        self._stripes = [threading.Lock() for _ in range(64)]

    def _stripe(self, image_id: str) -> threading.Lock:
        return self._stripes[hash(image_id) % len(self._stripes)]

    def _path(self, image_id: str) -> Path | None:
        if self._directory is None or not _IMAGE_ID.fullmatch(image_id):
            return None
        return self._directory / (image_id.replace(":", "_") + ".npy")

    def __contains__(self, image_id: str) -> bool:
        with self._lock:
            if image_id in self._images:
                return True
        path = self._path(image_id)
        return bool(path and path.exists())

    def put(self, image_id: str, array: np.ndarray, axes: str, owner: str = "") -> StoredImage:
        """Store an image (already validated) under its id and return it; ``owner`` gets a reference."""
        image = StoredImage(image_id, array, axes)
        path = self._path(image_id)
        with self._stripe(image_id):  # a concurrent last-reference delete cannot remove what this writes
            if path is not None and not path.exists():
                # The axes ride along in a tiny sidecar (published first) so the .npy stays plain;
                # both are written to temp files and renamed, so a crash never leaves a partial file.
                write_atomically(path.with_suffix(".axes"), axes.encode())
                with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                    np.save(handle, array, allow_pickle=False)
            with self._lock:
                self._evict(self._images.put(image_id, image))
            if owner:
                self._write_refs(image_id, self._read_refs(image_id) | {owner})
        return image

    def _evict(self, evicted: list[tuple[str, StoredImage]]) -> None:
        # Without a directory an evicted image is gone, and so are its references.
        if self._directory is None:
            for image_id, _ in evicted:
                self._refs.pop(image_id, None)

    # -- references ---------------------------------------------------------------------
    def _read_refs(self, image_id: str) -> set[str]:
        """Owner keys referencing the image (call with its stripe lock held)."""
        path = self._path(image_id)
        if path is None:
            return set(self._refs.get(image_id, ()))
        try:
            return set(path.with_suffix(".refs").read_text().split())
        except OSError:
            return set()

    def _write_refs(self, image_id: str, refs: set[str]) -> None:
        """Replace the image's references (atomically on disk; call with its stripe lock held)."""
        path = self._path(image_id)
        if path is None:
            self._refs[image_id] = set(refs)
        else:
            write_atomically(path.with_suffix(".refs"), "".join(f"{r}\n" for r in sorted(refs)).encode())

    def references(self, image_id: str) -> set[str]:
        """The owner keys referencing an image (empty for an unknown or unowned one)."""
        with self._stripe(image_id):
            return self._read_refs(image_id)

    def add_reference(self, image_id: str, owner: str) -> bool:
        """Give ``owner`` a reference to a stored image; False (nothing changed) if it is not stored."""
        with self._stripe(image_id):
            if image_id not in self:
                return False
            if owner:
                self._write_refs(image_id, self._read_refs(image_id) | {owner})
            return True

    def put_transposed(self, image: StoredImage, axis: str) -> str:
        """Store the stack whose planes are the zy (``axis`` "zy") or zx planes of ``image``; its id.

        Stored once under its content id, so its embeddings are computed lazily and cached like
        any other image's (also across restarts with a cache directory).
        """
        stack = np.ascontiguousarray(np.moveaxis(image.array, 2 if axis == "zy" else 1, 0))
        image_id = content_id(stack, image.axes)
        if image_id not in self:
            self.put(image_id, stack, image.axes)
        return image_id

    def get(self, image_id: str) -> StoredImage:
        """The image with this id (from memory or disk); NotFound otherwise."""
        with self._lock:
            if image_id in self._images:
                return self._images.get(image_id)  # type: ignore[return-value]
        path = self._path(image_id)
        if path is not None and path.exists() and path.with_suffix(".axes").exists():
            image = _load_verified(path, image_id)
            if image is None:
                path.unlink(missing_ok=True)  # a corrupt copy is never trusted
            else:
                with self._lock:
                    self._evict(self._images.put(image_id, image))
                return image
        raise NotFound(f"unknown image id {image_id!r}: upload it first")

    def delete(self, image_id: str, owner: str = "") -> tuple[StoredImage, bool]:
        """Drop ``owner``'s reference; remove the image when no reference is left.

        Returns the image and whether its data was removed. NotFound for an unknown image, and for
        an owner holding no reference to an image others reference (their data stays untouched).
        ``owner`` "" (the server itself) removes the image whatever references it has.
        """
        with self._stripe(image_id):
            image = self.get(image_id)
            refs = self._read_refs(image_id)
            if owner and refs and owner not in refs:
                raise NotFound(f"image {image_id!r} is not referenced by this caller: nothing to delete")
            left = refs - {owner} if owner else set()
            if left:
                self._write_refs(image_id, left)
                return image, False
            with self._lock:
                self._images.pop(image_id)
            self._refs.pop(image_id, None)
            path = self._path(image_id)
            if path is not None:
                path.unlink(missing_ok=True)
                path.with_suffix(".axes").unlink(missing_ok=True)
                path.with_suffix(".refs").unlink(missing_ok=True)
            return image, True


def requested_planes(image: StoredImage, indices: Sequence[int]) -> list[int]:
    """The planes a call works on: ``indices`` (each in range, none twice) or every plane."""
    planes = [int(i) for i in indices]
    if not planes:
        return list(range(image.n_slices))
    # Checked up front: a repeated or huge list must not allocate or loop before failing.
    if len(set(planes)) != len(planes):
        raise InvalidInput("indices must not repeat a plane")
    bad = [i for i in planes if not 0 <= i < image.n_slices]
    if bad:
        raise InvalidInput(f"indices {bad[:5]} out of range for image {image.image_id} with {image.n_slices} planes")
    return planes


def _load_verified(path: Path, image_id: str) -> StoredImage | None:
    """The image stored at ``path`` if it loads and its content still hashes to ``image_id``."""
    try:
        array = np.load(path, allow_pickle=False)
        axes = path.with_suffix(".axes").read_text()
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if array.ndim != len(axes) or content_id(array, axes) != image_id:
        return None
    return StoredImage(image_id, array, axes)
