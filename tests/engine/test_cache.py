"""EmbeddingCache: LRU byte budget, persistence across restarts, corruption recovery."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from sambridge_server.engine.cache import EmbeddingCache, image_hash, make_key
from sambridge_server.engine.embeddings import ImageEmbeddings
from sambridge_server.engine.models import PRESETS, LoadedModel
from sambridge_server.engine.tiling import make_grid

TILE_BYTES = 256 * 64 * 64 * 4


def _fake_embeddings(seed: int, shape=(300, 500), tile_shape=None, halo=None) -> ImageEmbeddings:
    grid = make_grid(shape, tile_shape, halo)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(len(grid.tiles), 256, 64, 64)).astype(np.float32)
    sizes = tuple((614, 1024) for _ in grid.tiles)
    return ImageEmbeddings(features, sizes, tuple(tile.shape for tile in grid.tiles), grid)


def _key(seed: int, tile_shape=None, halo=None):
    return make_key(np.full((3, 3), seed, np.uint8), "xxh128:m", tile_shape, halo, "fp32")


def test_image_hash_covers_dtype_shape_and_pixels():
    image = np.arange(12, dtype=np.uint16).reshape(3, 4)
    assert image_hash(image) == image_hash(image.copy())
    assert image_hash(image) != image_hash(image.astype(np.int16))
    assert image_hash(image) != image_hash(image.reshape(4, 3))
    changed = image.copy()
    changed[0, 0] = 99
    assert image_hash(image) != image_hash(changed)
    assert image_hash(image[:, ::2]) == image_hash(np.ascontiguousarray(image[:, ::2]))


def test_keys_differ_by_every_setting():
    image = np.zeros((4, 4), np.uint8)
    keys = {
        make_key(image, "a", None, None, "fp32").digest(),
        make_key(image, "b", None, None, "fp32").digest(),
        make_key(image, "a", (2, 2), (1, 1), "fp32").digest(),
        make_key(image, "a", (2, 2), (0, 0), "fp32").digest(),
        make_key(image, "a", None, None, "bf16").digest(),
    }
    assert len(keys) == 5


def test_memory_lru_respects_byte_budget():
    cache = EmbeddingCache(memory_budget_bytes=2 * TILE_BYTES)
    for seed in range(3):
        cache.put(_key(seed), _fake_embeddings(seed))
    assert cache.memory_bytes == 2 * TILE_BYTES
    assert cache.get(_key(0)) is None  # least recently used went first
    assert cache.get(_key(1)) is not None and cache.hits_memory == 1
    cache.put(_key(3), _fake_embeddings(3))  # evicts 2, since 1 was just used
    assert cache.get(_key(2)) is None and cache.get(_key(1)) is not None
    cache.put(_key(9, (100, 100), (10, 10)), _fake_embeddings(9, tile_shape=(100, 100), halo=(10, 10)))
    assert cache.memory_bytes <= 2 * TILE_BYTES  # 15-tile entry exceeds the budget: not kept


def test_disk_entries_survive_restart(tmp_path):
    embeddings = _fake_embeddings(1, tile_shape=(200, 200), halo=(16, 16))
    key = _key(1, (200, 200), (16, 16))
    EmbeddingCache(cache_dir=tmp_path).put(key, embeddings)
    restarted = EmbeddingCache(cache_dir=tmp_path)
    loaded = restarted.get_or_compute(key, lambda: pytest.fail("must not recompute"))
    assert (restarted.hits_disk, restarted.computes) == (1, 0)
    np.testing.assert_array_equal(loaded.features, embeddings.features)
    assert loaded.input_sizes == embeddings.input_sizes and loaded.grid == embeddings.grid
    restarted.get(key)
    assert restarted.hits_memory == 1  # promoted to memory after the disk hit
    assert not list((tmp_path / ".tmp").iterdir())


@pytest.mark.parametrize("damage", ["marker", "chunk", "attrs", "deleted chunk", "random bytes", "nan"])
def test_corrupt_entries_are_detected_and_recomputed(tmp_path, damage, caplog):
    key = _key(2)
    EmbeddingCache(cache_dir=tmp_path).put(key, _fake_embeddings(2))
    entry = next(tmp_path.glob("*.zarr"))
    chunk = next(path for path in (entry / "features").rglob("*") if path.is_file() and path.name != "zarr.json")
    if damage == "marker":
        (entry / "COMPLETE").unlink()
    elif damage == "chunk":
        chunk.write_bytes(chunk.read_bytes()[:100])
    elif damage == "deleted chunk":  # zarr reads a missing chunk back as zeros
        chunk.unlink()
    elif damage == "random bytes":  # same size, so only the checksum can tell
        chunk.write_bytes(np.random.default_rng(0).bytes(chunk.stat().st_size))
    elif damage == "nan":
        chunk.write_bytes(np.full(chunk.stat().st_size // 4, np.nan, np.float32).tobytes())
    else:
        (entry / "zarr.json").write_text("{broken")
    cache = EmbeddingCache(cache_dir=tmp_path)
    recomputed = cache.get_or_compute(key, lambda: _fake_embeddings(2))
    assert (cache.hits_disk, cache.computes) == (0, 1)
    assert recomputed.features.shape == (1, 256, 64, 64)
    assert "discarding corrupt embedding cache entry" in caplog.text
    assert EmbeddingCache(cache_dir=tmp_path).get(key) is not None  # rewritten intact


def test_leftover_temp_dirs_are_not_entries(tmp_path):
    cache = EmbeddingCache(cache_dir=tmp_path)
    cache.put(_key(3), _fake_embeddings(3))
    entry = next(tmp_path.glob("*.zarr"))
    shutil.copytree(entry, tmp_path / ".tmp" / "half-written.zarr")  # as after a crash mid-write
    shutil.rmtree(entry)
    assert EmbeddingCache(cache_dir=tmp_path).get(_key(3)) is None


def test_concurrent_requests_compute_once():
    cache = EmbeddingCache()
    calls = []

    def slow_compute():
        calls.append(1)
        time.sleep(0.2)
        return _fake_embeddings(4)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute(_key(4), slow_compute))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and cache.computes == 1 and len(results) == 4
    assert all(result is results[0] for result in results)


def test_embed_through_cache_uses_real_model(tiny_sam, hela_crop, tmp_path):
    model = LoadedModel("tiny", "vit_tiny", PRESETS["vit_tiny"], tiny_sam, None, "xxh128:tiny")
    image = hela_crop[:100, :120]
    first = EmbeddingCache(cache_dir=tmp_path).embed(model, image)
    cache = EmbeddingCache(cache_dir=tmp_path)
    again = cache.embed(model, image)
    assert cache.hits_disk == 1 and cache.computes == 0
    np.testing.assert_array_equal(first.features, again.features)
    cache.embed(model, image, precision="bf16")
    assert cache.computes == 1
