"""Two processes sharing one cache folder compute an entry once; the other reads it, whole."""

from __future__ import annotations

import multiprocessing

import numpy as np

from sambridge_server.engine.cache import EmbeddingCache, make_key
from sambridge_server.engine.embeddings import ImageEmbeddings
from sambridge_server.engine.tiling import make_grid


def _fake_embeddings(seed: int) -> ImageEmbeddings:
    grid = make_grid((64, 64))
    features = np.random.default_rng(seed).random((1, 256, 64, 64), dtype=np.float32)
    return ImageEmbeddings(features, ((64, 64),), ((64, 64),), grid)


def _worker(folder: str, start, seed: int, queue) -> None:
    import time

    cache = EmbeddingCache(1 << 30, folder)
    key = make_key(np.zeros((64, 64), np.uint8), "model", None, None, "fp32")

    def compute() -> ImageEmbeddings:
        time.sleep(1.0)  # long enough for the other process to arrive meanwhile
        return _fake_embeddings(seed)

    start.wait()
    embeddings = cache.get_or_compute(key, compute)
    queue.put((cache.computes, cache.hits_disk, float(embeddings.features.sum())))


def test_two_processes_compute_a_shared_entry_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    start, queue = context.Barrier(2), context.Queue()
    # different seeds: had both computed, their results would differ
    processes = [context.Process(target=_worker, args=(str(tmp_path), start, seed, queue)) for seed in (1, 2)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
    assert sorted((computes, hits) for computes, hits, _ in results) == [(0, 1), (1, 0)]
    assert results[0][2] == results[1][2]  # the reader got the writer's features
    assert len(list(tmp_path.glob("*.zarr"))) == 1 and not any((tmp_path / ".tmp").iterdir())
