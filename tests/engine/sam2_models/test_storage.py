"""SAM2 features survive the zarr form the embedding cache stores; damage is detected."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from sambridge_server.engine.sam2_models.storage import read_group, write_group


def test_round_trip_and_damage(features, hela_frames, tmp_path):
    mine = features("hela0", hela_frames[0])
    group = zarr.open_group(str(tmp_path / "entry.zarr"), mode="w")
    group.attrs.update(write_group(group, mine))
    again = read_group(zarr.open_group(str(tmp_path / "entry.zarr"), mode="r"), None, None)
    assert again.image_shape == mine.image_shape and again.original_sizes == mine.original_sizes
    for name, array in mine.arrays().items():
        np.testing.assert_array_equal(getattr(again, name), array)
    group["high_res_1"][0, 0, 0, 0] = 7.0
    with pytest.raises(ValueError, match="high_res_1.*checksum"):
        read_group(zarr.open_group(str(tmp_path / "entry.zarr"), mode="r"), None, None)


def test_the_embedding_cache_holds_sam2_features(ours, features, hela_frames, tmp_path):
    from sambridge_server.engine.cache import EmbeddingCache

    mine = features("hela0", hela_frames[0])
    cache = EmbeddingCache(memory_budget_bytes=1 << 30, cache_dir=tmp_path)
    key = cache.key_for(hela_frames[0], ours.model_hash)
    cache.put(key, mine)
    assert cache.memory_bytes == mine.nbytes
    cache.clear_memory()
    again = cache.get(key)
    assert cache.hits_disk == 1 and again.family == "sam2"
    for name, array in mine.arrays().items():
        np.testing.assert_array_equal(getattr(again, name), array)
