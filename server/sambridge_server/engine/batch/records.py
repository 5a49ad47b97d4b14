"""Done-records of chunks: a chunk's labels on disk, trusted only when completely written.

A finished chunk is two files in the job's chunk folder, named by the chunk's key (a digest of
the input's identity, the region, the method, its parameters and the model):
``<key>.npz`` (the labels of the outer region, uint32 1..n, and one score per label) and
``<key>.json`` (the done-record: label count, the labels' xxh3 checksum, seconds taken). Both
are written under a unique temporary name and renamed into place, the data first and the
record last, so a record exists only for complete data; a chunk whose data fail the checksum is
treated as not done (and its files removed). Any process (a worker, a restarted server, a second
replica) can therefore tell done from missing by looking, and a rerun computes only the missing.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..files import write_atomically

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkRecord:
    """What a finished chunk left: its key, label count, checksum and compute time."""

    key: str
    n_labels: int
    checksum: str
    seconds: float
    computed: bool = False  # True when this call computed it (not found done)


def labels_checksum(labels: np.ndarray) -> str:
    """xxh3-64 of the uint32 label bytes."""
    import xxhash

    return xxhash.xxh3_64_hexdigest(np.ascontiguousarray(labels, dtype=np.uint32).tobytes())


class ChunkStore:
    """The chunk folder of a batch: write, find and load chunk results by key."""

    def __init__(self, directory: str | Path) -> None:
        """Use (and create) ``directory``."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.directory / f"{key}.npz", self.directory / f"{key}.json"

    def write(self, key: str, labels: np.ndarray, scores: np.ndarray, seconds: float) -> ChunkRecord:
        """Store a chunk's labels (uint32, 1..n) and scores (n,), data first, record last."""
        labels = np.ascontiguousarray(labels, dtype=np.uint32)
        n_labels = int(labels.max()) if labels.size else 0
        scores = np.asarray(scores, dtype=np.float32)
        if scores.shape != (n_labels,):
            raise ValueError(f"{n_labels} labels but {scores.shape} scores")
        data, record_path = self._paths(key)
        buffer = io.BytesIO()
        np.savez(buffer, labels=labels, scores=scores)
        write_atomically(data, buffer.getvalue())
        record = ChunkRecord(key, n_labels, labels_checksum(labels), float(seconds), computed=True)
        write_atomically(record_path, json.dumps(asdict(record)).encode())
        return record

    def done(self, key: str) -> ChunkRecord | None:
        """The chunk's record if it is done (record and data present), else None."""
        data, record_path = self._paths(key)
        if not record_path.is_file() or not data.is_file():
            return None
        try:
            values = json.loads(record_path.read_text())
            values["computed"] = False
            return ChunkRecord(**values)
        except (ValueError, TypeError, OSError):
            return None

    def load(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) of a done chunk; ValueError (and the chunk forgotten) if damaged."""
        record = self.done(key)
        if record is None:
            raise ValueError(f"chunk {key} is not done")
        data, record_path = self._paths(key)
        try:
            with np.load(data, allow_pickle=False) as stored:
                labels, scores = stored["labels"], stored["scores"]
            if labels_checksum(labels) != record.checksum or scores.shape != (record.n_labels,):
                raise ValueError("checksum or size mismatch")
        except (ValueError, OSError, KeyError) as error:
            _LOG.warning("discarding damaged chunk %s: %s", key, error)
            self.forget(key)
            raise ValueError(f"chunk {key} is damaged ({error}); run the batch again to recompute it") from None
        return labels, scores

    def forget(self, key: str) -> None:
        """Remove a chunk's files (record first, so it never reads as done without data)."""
        data, record_path = self._paths(key)
        record_path.unlink(missing_ok=True)
        data.unlink(missing_ok=True)
