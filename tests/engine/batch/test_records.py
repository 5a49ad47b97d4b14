"""Done-records: written atomically, and nothing half-written or damaged reads as done."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.batch import ChunkStore


def test_written_chunk_is_done_and_loads(tmp_path):
    store = ChunkStore(tmp_path)
    labels = np.array([[0, 1], [2, 2]], np.uint32)
    record = store.write("k", labels, np.array([0.5, 0.9]), 1.5)
    assert record.computed and record.n_labels == 2
    assert store.done("k").n_labels == 2 and not store.done("k").computed
    loaded, scores = store.load("k")
    assert np.array_equal(loaded, labels) and scores.tolist() == pytest.approx([0.5, 0.9])


def test_half_written_chunks_are_not_done(tmp_path):
    store = ChunkStore(tmp_path)
    (tmp_path / ".k.npz.0123.tmp").write_bytes(b"PK\x03\x04 half")  # a writer killed mid-write
    assert store.done("k") is None
    store.write("j", np.ones((4, 4), np.uint32), np.ones(1), 0.1)
    (tmp_path / "j.json").unlink()  # data renamed into place, record not yet: not done
    assert store.done("j") is None


def test_damaged_data_is_forgotten_not_trusted(tmp_path):
    store = ChunkStore(tmp_path)
    store.write("k", np.ones((8, 8), np.uint32), np.ones(1), 0.1)
    store.write("other", np.full((8, 8), 2, np.uint32) * (np.arange(64).reshape(8, 8) % 2), np.ones(2), 0.1)
    (tmp_path / "k.npz").write_bytes((tmp_path / "other.npz").read_bytes())  # wrong content under k's name
    with pytest.raises(ValueError, match="damaged"):
        store.load("k")
    assert store.done("k") is None  # recomputed by the next run
