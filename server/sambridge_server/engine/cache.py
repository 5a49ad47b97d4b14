"""Embedding cache: an in-memory LRU with a byte budget plus an optional on-disk zarr store.

On disk every entry is one zarr group ``<cache_dir>/<key digest>.zarr`` holding ``features``
(n_tiles, 256, 64, 64) float32 chunked per tile, the sizes needed to decode, and the full key
(a SAM2 model's entry, attribute ``family`` = ``"sam2"``, holds SAM2's three maps instead:
``sam2_models/storage.py``; the memory LRU holds either kind, counted by ``nbytes``).
An entry is written into ``<cache_dir>/.tmp/`` and renamed into place (atomic on one file
system) only after a ``COMPLETE`` marker was written, so a crash never leaves a half entry
under a valid name; an entry that still fails the marker/shape/key checks is deleted and
recomputed. No pickle anywhere. Volumes are cached per slice, so partial stacks resume.

Several server processes (replicas, batch workers) may share one cache folder: an entry is
computed under a per-key lock file (``.locks/<digest>.lock``, filelock), so a second process
asking for the same embeddings waits and reads the first one's entry instead of computing it
again; readers only ever see renamed, complete entries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import zarr

from .callbacks import raise_if_cancelled
from .embeddings import ImageEmbeddings, Precision, ProgressFn, CancelledFn, compute_embeddings
from .lru import LRU
from .models import LoadedModel
from .sam2_models import storage as sam2_storage
from .sam2_models.features import Sam2Features
from .tiling import make_grid

_LOG = logging.getLogger(__name__)
_COMPLETE_MARKER = "COMPLETE"
_FORMAT_VERSION = 2  # 2: features checksum
_STALE_TMP_SECONDS = 3600


def image_hash(array: np.ndarray) -> str:
    """sha1 of dtype, shape and pixel bytes (micro_sam hashes the bytes only)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha1()
    digest.update(array.dtype.str.encode())
    digest.update(str(tuple(array.shape)).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def features_checksum(features: np.ndarray) -> str:
    """xxh3-64 of the float32 feature bytes, written with every disk entry and verified on read."""
    import xxhash

    return xxhash.xxh3_64_hexdigest(np.ascontiguousarray(features, dtype=np.float32).tobytes())


@dataclass(frozen=True)
class CacheKey:
    """Everything that determines an embedding."""

    image_hash: str
    model_hash: str
    tile_shape: tuple[int, int] | None
    halo: tuple[int, int] | None
    precision: str

    def digest(self) -> str:
        """Stable file-name-safe identifier of the key."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def make_key(
    image: np.ndarray,
    model_hash: str,
    tile_shape: Sequence[int] | None,
    halo: Sequence[int] | None,
    precision: str,
) -> CacheKey:
    """Cache key of embedding ``image`` with these settings."""
    return CacheKey(
        image_hash=image_hash(image),
        model_hash=model_hash,
        tile_shape=None if tile_shape is None else (int(tile_shape[0]), int(tile_shape[1])),
        halo=None if halo is None or tile_shape is None else (int(halo[0]), int(halo[1])),
        precision=precision,
    )


class DiskStore:
    """Zarr-on-disk entries with atomic publication and corruption detection."""

    def __init__(self, root: str | Path) -> None:
        """Use (and create) ``root``; removes temp dirs left by crashed writers long ago."""
        self.root = Path(root)
        self.tmp = self.root / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():
            if time.time() - stale.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)

    def path(self, key: CacheKey) -> Path:
        """Final location of an entry."""
        return self.root / f"{key.digest()}.zarr"

    def lock(self, key: CacheKey):
        """The cross-process lock under which ``key``'s entry is computed (a ``filelock.FileLock``)."""
        from filelock import FileLock

        (self.root / ".locks").mkdir(exist_ok=True)
        return FileLock(str(self.root / ".locks" / f"{key.digest()}.lock"))

    def write(self, key: CacheKey, embeddings: ImageEmbeddings) -> None:
        """Write the entry to a temp dir, mark it complete, then rename it into place."""
        final = self.path(key)
        if final.exists():
            return
        staging = self.tmp / f"{key.digest()}-{uuid.uuid4().hex}.zarr"
        group = zarr.open_group(str(staging), mode="w")
        if getattr(embeddings, "family", "sam") == sam2_storage.FAMILY:  # SAM2: three maps per tile
            group.attrs.update({"format_version": _FORMAT_VERSION, "key": asdict(key),
                                **sam2_storage.write_group(group, embeddings)})
            self._publish(staging, final)
            return
        array = group.create_array(
            "features",
            shape=embeddings.features.shape,
            chunks=(1,) + embeddings.features.shape[1:],
            dtype="float32",
            compressors=None,  # float features barely compress; skipping it keeps reads fast
        )
        array[:] = embeddings.features
        group.attrs.update(
            {
                "format_version": _FORMAT_VERSION,
                "features_xxh3": features_checksum(embeddings.features),
                "key": asdict(key),
                "image_shape": list(embeddings.image_shape),
                "input_sizes": [list(size) for size in embeddings.input_sizes],
                "original_sizes": [list(size) for size in embeddings.original_sizes],
                "precision": embeddings.precision,
            }
        )
        self._publish(staging, final)

    @staticmethod
    def _publish(staging: Path, final: Path) -> None:
        """Mark a staged entry complete and rename it into place."""
        (staging / _COMPLETE_MARKER).write_text("ok")
        try:
            os.rename(staging, final)
        except OSError:  # another writer won the race; its entry is equivalent
            shutil.rmtree(staging, ignore_errors=True)

    def read(self, key: CacheKey) -> ImageEmbeddings | None:
        """The entry, or None if absent; an invalid entry is deleted and None returned."""
        final = self.path(key)
        if not final.exists():
            return None
        try:
            return self._read_checked(final, key)
        except Exception as error:  # noqa: BLE001 - any failure means "recompute"
            _LOG.warning("discarding corrupt embedding cache entry %s: %s", final, error)
            shutil.rmtree(final, ignore_errors=True)
            return None

    @staticmethod
    def _read_checked(path: Path, key: CacheKey) -> ImageEmbeddings | Sam2Features:
        if not (path / _COMPLETE_MARKER).is_file():
            raise ValueError("completion marker missing")
        group = zarr.open_group(str(path), mode="r")
        attrs = dict(group.attrs)
        if attrs.get("format_version") != _FORMAT_VERSION or attrs.get("key") != json.loads(
            json.dumps(asdict(key))
        ):
            raise ValueError("key or format mismatch")
        if attrs.get("family") == sam2_storage.FAMILY:
            return sam2_storage.read_group(group, key.tile_shape, key.halo)
        grid = make_grid(tuple(attrs["image_shape"]), key.tile_shape, key.halo)
        expected = (len(grid.tiles), 256, 64, 64)
        features = group["features"]
        if tuple(features.shape) != expected or len(attrs["input_sizes"]) != expected[0]:
            raise ValueError(f"features shape {features.shape} != {expected}")
        values = np.asarray(features[:], dtype=np.float32)
        # A deleted chunk reads back as zeros and an overwritten one as anything: only the checksum
        # written with the entry tells.
        if attrs.get("features_xxh3") != features_checksum(values):
            raise ValueError("features checksum mismatch (damaged or missing chunks)")
        if not np.isfinite(values).all():
            raise ValueError("features contain NaN or infinite values")
        return ImageEmbeddings(
            features=values,
            input_sizes=tuple(tuple(size) for size in attrs["input_sizes"]),
            original_sizes=tuple(tuple(size) for size in attrs["original_sizes"]),
            grid=grid,
            precision=attrs["precision"],
        )


class EmbeddingCache:
    """Thread-safe LRU (byte budget) in front of an optional persistent ``DiskStore``.

    Counters ``hits_memory``, ``hits_disk`` and ``computes`` say where results came from.
    Concurrent ``get_or_compute`` calls for the same key compute it once.
    """

    def __init__(self, memory_budget_bytes: int = 2 << 30, cache_dir: str | Path | None = None) -> None:
        """``memory_budget_bytes`` bounds the in-memory entries; ``cache_dir`` enables disk."""
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.disk = DiskStore(cache_dir) if cache_dir is not None else None
        # An entry larger than the whole budget is kept on disk only.
        self._entries: LRU[CacheKey, ImageEmbeddings] = LRU(self.memory_budget_bytes, lambda e: e.nbytes)
        self._lock = threading.Lock()
        self._inflight: dict[CacheKey, threading.Event] = {}
        self.hits_memory = 0
        self.hits_disk = 0
        self.computes = 0

    @property
    def memory_bytes(self) -> int:
        """Bytes currently held in memory."""
        with self._lock:
            return int(self._entries.total)

    def key_for(
        self,
        image: np.ndarray,
        model_hash: str,
        tile_shape: Sequence[int] | None = None,
        halo: Sequence[int] | None = None,
        precision: str = "fp32",
    ) -> CacheKey:
        """Cache key for embedding ``image`` (see ``make_key``)."""
        return make_key(image, model_hash, tile_shape, halo, precision)

    def get(self, key: CacheKey) -> ImageEmbeddings | None:
        """Cached embeddings from memory, else disk (then kept in memory), else None."""
        with self._lock:
            if key in self._entries:
                self.hits_memory += 1
                return self._entries.get(key)
        if self.disk is None:
            return None
        embeddings = self.disk.read(key)
        if embeddings is not None:
            with self._lock:
                self.hits_disk += 1
            self._remember(key, embeddings)
        return embeddings

    def put(self, key: CacheKey, embeddings: ImageEmbeddings) -> None:
        """Store in memory (LRU-evicting) and, when enabled, on disk."""
        self._remember(key, embeddings)
        if self.disk is not None:
            self.disk.write(key, embeddings)

    def _remember(self, key: CacheKey, embeddings: ImageEmbeddings) -> None:
        with self._lock:
            self._entries.put(key, embeddings)

    def get_or_compute(self, key: CacheKey, compute: Callable[[], ImageEmbeddings],
                       cancelled: CancelledFn | None = None) -> ImageEmbeddings:
        """Cached embeddings for ``key`` or ``compute()`` them once (other callers wait).

        A waiting caller whose ``cancelled()`` turns True stops waiting with ``Cancelled``.
        """
        while True:
            cached = self.get(key)
            if cached is not None:
                return cached
            with self._lock:
                event = self._inflight.get(key)
                if event is None:
                    self._inflight[key] = threading.Event()
                    break
            while not event.wait(0.1):
                raise_if_cancelled(cancelled, "the call was cancelled while waiting for the same embeddings")
        try:
            return self._compute_shared(key, compute, cancelled)
        finally:
            with self._lock:
                self._inflight.pop(key).set()

    def _compute_shared(self, key: CacheKey, compute: Callable[[], ImageEmbeddings],
                        cancelled: CancelledFn | None) -> ImageEmbeddings:
        """``compute()`` and store, unless another process sharing the disk store has (or is) computing it."""
        lock = self.disk.lock(key) if self.disk is not None else None
        if lock is not None:
            _acquire_file_lock(lock, cancelled)
        try:
            stored = self.disk.read(key) if self.disk is not None else None
            if stored is not None:  # another process finished it while this one waited for the lock
                with self._lock:
                    self.hits_disk += 1
                self._remember(key, stored)
                return stored
            embeddings = compute()
            with self._lock:
                self.computes += 1
            self.put(key, embeddings)
            return embeddings
        finally:
            if lock is not None:
                lock.release()

    def embed(
        self,
        model: LoadedModel,
        image: np.ndarray,
        tile_shape: Sequence[int] | None = None,
        halo: Sequence[int] | None = None,
        precision: Precision = "fp32",
        progress: ProgressFn | None = None,
        cancelled: CancelledFn | None = None,
    ) -> ImageEmbeddings:
        """``compute_embeddings`` through the cache."""
        key = self.key_for(image, model.model_hash, tile_shape, halo, precision)
        return self.get_or_compute(
            key,
            lambda: compute_embeddings(model, image, tile_shape, halo, precision, progress, cancelled),
        )

    def clear_memory(self) -> None:
        """Drop all in-memory entries (disk entries stay)."""
        with self._lock:
            self._entries.clear()


def _acquire_file_lock(lock, cancelled: CancelledFn | None) -> None:
    """Take a FileLock, polling ``cancelled`` (Cancelled when the caller goes away while waiting)."""
    from filelock import Timeout

    from .errors import Cancelled

    while True:
        try:
            lock.acquire(timeout=0.1)
            return
        except Timeout:
            if cancelled is not None and cancelled():
                raise Cancelled("the call was cancelled while another process computed the same embeddings") from None
