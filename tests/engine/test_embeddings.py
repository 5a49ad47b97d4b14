"""Embeddings (untiled, tiled, volume) against micro_sam's precompute_image_embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bioimage_cpp.utils import Blocking

from sambridge_server.engine import embeddings as embeddings_module
from sambridge_server.engine.cache import EmbeddingCache
from sambridge_server.engine.encoder import encode
from sambridge_server.engine.errors import Cancelled, InvalidInput
from sambridge_server.engine.embeddings import compute_embeddings, compute_volume_embeddings
from sambridge_server.engine.models import LoadedModel, PRESETS
from sambridge_server.engine.tiling import make_grid

TILE_SHAPE, HALO = (128, 128), (32, 32)  # 6 tiles on the 256 x 320 crop


def _relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def micro_sam_tiled(micro_sam_predictor, hela_crop):
    from micro_sam.util import precompute_image_embeddings

    return precompute_image_embeddings(
        micro_sam_predictor, hela_crop, tile_shape=TILE_SHAPE, halo=HALO, verbose=False
    )


@pytest.mark.parametrize(
    "shape, tile_shape, halo",
    [((256, 320), (128, 128), (32, 32)), ((700, 1100), (256, 384), (64, 32)), ((100, 90), (512, 512), (64, 64))],
)
def test_grid_matches_micro_sams_blocking(shape, tile_shape, halo):
    blocking = Blocking([0, 0], list(shape), list(tile_shape))
    grid = make_grid(shape, tile_shape, halo)
    assert len(grid.tiles) == blocking.number_of_blocks
    for tile in grid.tiles:
        block = blocking.get_block_with_halo(tile.index, list(halo))
        assert tile.outer == tuple(block.outer_block.begin) + tuple(block.outer_block.end)
        assert tile.inner == tuple(block.inner_block.begin) + tuple(block.inner_block.end)
    for y, x in [(0, 0), (shape[0] - 1, shape[1] - 1), (shape[0] // 2, shape[1] // 3)]:
        assert grid.tile_at(y, x).index == blocking.coordinates_to_block_id([y, x])


def test_best_tile_uses_micro_sams_centre_rule():
    grid = make_grid((512, 512), (128, 128), (32, 32))
    blocking = Blocking([0, 0], [512, 512], [128, 128])
    # A box larger than any tile: no tile holds it, micro_sam's choice (centre tile) is kept.
    box_yx = np.array([[60, 20], [300, 101]])
    assert grid.best_tile(box_yx).index == blocking.coordinates_to_block_id([180, 60]) == 4
    # The centre is rounded like micro_sam (numpy round-half-to-even): 127.5 -> 128 -> tile 4.
    assert grid.best_tile(np.array([[127, 10], [128, 10]])).index == 4
    assert grid.best_tile(np.array([[126, 10], [127, 10]])).index == 0


def test_untiled_matches_micro_sam(tiny_sam, micro_sam_predictor, hela_crop):
    from micro_sam.util import precompute_image_embeddings

    expected = precompute_image_embeddings(micro_sam_predictor, hela_crop, verbose=False)
    ours = compute_embeddings(tiny_sam, hela_crop)
    assert ours.features.shape == (1, 256, 64, 64) and ours.features.dtype == np.float32
    assert ours.input_sizes == (tuple(expected["input_size"]),)
    assert ours.original_sizes == (tuple(expected["original_size"]),) == (hela_crop.shape,)
    assert _relative_l2(ours.features, expected["features"]) < 1e-5


def test_tiled_matches_micro_sam(tiny_sam, micro_sam_tiled, hela_crop):
    ours = compute_embeddings(tiny_sam, hela_crop, TILE_SHAPE, HALO, batch_size=2)
    features = micro_sam_tiled["features"]
    assert ours.n_tiles == len(features) == 6
    for tile in ours.grid.tiles:
        reference = features[str(tile.index)]
        assert ours.input_sizes[tile.index] == tuple(reference.attrs["input_size"])
        assert ours.original_sizes[tile.index] == tuple(reference.attrs["original_size"])
        assert _relative_l2(ours.tile_features(tile.index), reference[:]) < 1e-5


def test_sdpa_encoder_equals_reference_and_bf16_is_close(tiny_sam):
    x = torch.randn(2, 3, 1024, 1024, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        reference = tiny_sam.image_encoder(x)
        fused = encode(tiny_sam.image_encoder, x, "sdpa")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = encode(tiny_sam.image_encoder, x, "sdpa").float()
    torch.testing.assert_close(fused, reference, rtol=1e-4, atol=1e-4)
    error = (bf16 - reference).norm() / reference.norm()
    assert 0 < error < 0.03


def test_bf16_embeddings_are_close_to_fp32(tiny_sam, hela_crop):
    fp32 = compute_embeddings(tiny_sam, hela_crop)
    bf16 = compute_embeddings(tiny_sam, hela_crop, precision="bf16")
    assert bf16.precision == "bf16" and bf16.features.dtype == np.float32
    assert 0 < _relative_l2(bf16.features, fp32.features) < 0.03


def test_progress_and_cancellation(tiny_sam, hela_crop):
    calls = []
    compute_embeddings(tiny_sam, hela_crop[:128, :200], (64, 100), (8, 8), progress=lambda d, t: calls.append((d, t)), batch_size=3)
    assert calls == [(3, 4), (4, 4)]
    polls = []

    def cancel_after_first_batch() -> bool:
        polls.append(1)
        return len(polls) > 1

    with pytest.raises(Cancelled):
        compute_embeddings(tiny_sam, hela_crop[:128, :200], (64, 100), (8, 8), cancelled=cancel_after_first_batch)
    assert len(polls) == 2  # stopped right after the first tile


@pytest.mark.parametrize(
    "kwargs, message",
    [({"precision": "fp16"}, "precision"), ({"tile_shape": (0, 10)}, "tile_shape"), ({"halo": (8, 8)}, "halo given")],
)
def test_invalid_options(tiny_sam, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        compute_embeddings(tiny_sam, np.zeros((16, 16), np.uint8), **kwargs)


def test_volume_matches_micro_sam_3d_and_resumes_from_cache(tiny_sam, micro_sam_predictor, hela_movie, monkeypatch, tmp_path):
    from micro_sam.util import precompute_image_embeddings

    volume = np.ascontiguousarray(hela_movie[:3, 200:328, 300:400])
    expected = precompute_image_embeddings(micro_sam_predictor, volume, verbose=False, batch_size=2)
    model = LoadedModel("tiny", "vit_tiny", PRESETS["vit_tiny"], tiny_sam, None, "xxh128:tiny")
    cache = EmbeddingCache(cache_dir=tmp_path)
    encoded = []
    real_encode_batch = embeddings_module.encode_batch

    def counting_encode_batch(sam, batch, *args, **kwargs):
        encoded.append(batch.shape[0])
        return real_encode_batch(sam, batch, *args, **kwargs)

    monkeypatch.setattr(embeddings_module, "encode_batch", counting_encode_batch)
    with pytest.raises(Cancelled):  # crash/cancel after the first batch of two slices
        compute_volume_embeddings(model, volume, batch_size=2, cache=cache, cancelled=lambda: len(encoded) >= 1)
    assert encoded == [2]
    fresh_cache = EmbeddingCache(cache_dir=tmp_path)  # as after a restart
    result = compute_volume_embeddings(model, volume, batch_size=2, cache=fresh_cache)
    assert encoded == [2, 1] and fresh_cache.hits_disk == 2
    assert len(result) == 3
    for z, embeddings in enumerate(result):
        assert embeddings.input_sizes == (tuple(expected["input_size"]),)
        assert _relative_l2(embeddings.features, expected["features"][z]) < 1e-5
