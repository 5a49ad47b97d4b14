"""The fast AIS decoder path: same maps as the plain module forward where a tile keeps them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge_server.engine.automatic.ais import inner_region
from sambridge_server.engine.automatic.ais_decoder import (
    AISDecoder,
    _DecoderBatchNorm,
    decoder_window,
    predict_ais_maps,
    predict_window,
    resize_to_original,
)
from sambridge_server.engine.tiling import make_grid


def _random_decoder(transposed: bool, seed: int) -> AISDecoder:
    """A decoder whose BatchNorm affine parameters and running stats are not identities."""
    torch.manual_seed(seed)
    decoder = AISDecoder(transposed=transposed)
    for module in decoder.modules():
        if isinstance(module, _DecoderBatchNorm):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    return decoder.eval()


def _native_tile_cases() -> list[tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]]:
    """(input_size, original_size, inner region) of every tile of a 700 x 1100 frame in the
    default model's tiling, plus untiled images whose longest side is not the 1024 px canvas."""
    cases = []
    for tile in make_grid((700, 1100), (256, 256), (64, 64)).tiles:
        height, width = tile.shape
        scale = 1024 / max(height, width)
        input_size = (int(height * scale + 0.5), int(width * scale + 0.5))
        cases.append((input_size, tile.shape, inner_region(tile)))
    cases.append(((1024, 745), (700, 509), (0, 0, 700, 509)))
    cases.append(((651, 1024), (700, 1100), (0, 0, 700, 1100)))
    return cases


@pytest.mark.parametrize("case", _native_tile_cases())
def test_window_holds_every_pixel_the_resize_reads(case):
    input_size, original_size, region = case
    maps = torch.rand(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(1))
    y0, x0, y1, x1 = decoder_window(region, input_size, original_size)
    assert 0 <= y0 < y1 <= input_size[0] and 0 <= x0 < x1 <= input_size[1]
    windowed = torch.zeros_like(maps)
    windowed[..., y0:y1, x0:x1] = maps[..., y0:y1, x0:x1]
    full = resize_to_original(maps, input_size, original_size)
    cropped = resize_to_original(windowed, input_size, original_size)
    r0, c0, r1, c1 = region
    assert torch.equal(cropped[..., r0:r1, c0:c1], full[..., r0:r1, c0:c1])
    if region != (0, 0) + tuple(original_size):
        # a tile's inner block needs clearly less than its whole outer block
        assert (y1 - y0) * (x1 - x0) < 0.9 * input_size[0] * input_size[1]


@pytest.mark.parametrize("transposed", [False, True])
def test_windowed_decoder_equals_module_forward_inside_the_window(transposed):
    decoder = _random_decoder(transposed, seed=3)
    # the decoder is fully convolutional: 16x16 embeddings -> 256 px maps keep the test cheap
    embeddings = torch.randn(1, 256, 16, 16, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        reference = decoder(embeddings)
        for window in [(0, 0, 256, 256), (37, 52, 201, 170), (0, 0, 90, 100), (180, 150, 256, 256), (9, 0, 10, 256)]:
            got = predict_window(decoder, embeddings, window)
            y0, x0, y1, x1 = window
            torch.testing.assert_close(got[..., y0:y1, x0:x1], reference[..., y0:y1, x0:x1], atol=1e-5, rtol=1e-4)
            outside = torch.ones_like(got, dtype=torch.bool)
            outside[..., y0:y1, x0:x1] = False
            assert not got[outside].any()  # really not computed there
    assert float(reference.std()) > 1e-3  # not a constant output


def test_tile_inner_block_maps_equal_full_tile_decoding():
    """End to end at the real size: an edge tile of the native tiling (252 x 140 outer block,
    zoomed and padded into the 1024 px canvas), new cropped path vs the plain module forward."""
    decoder = _random_decoder(transposed=False, seed=5)
    tile = make_grid((700, 1100), (256, 256), (64, 64)).tiles[-1]
    assert tile.shape == (252, 140)
    input_size = (1024, 569)
    features = np.random.default_rng(6).normal(size=(1, 256, 64, 64)).astype(np.float32)
    region = inner_region(tile)
    got = predict_ais_maps(decoder, features, input_size, tile.shape, region)
    with torch.inference_mode():
        full = resize_to_original(decoder(torch.from_numpy(features)), input_size, tile.shape)[0].numpy()
    r0, c0, r1, c1 = region
    for ours, reference in zip(got, full):
        assert ours.shape == tile.shape
        np.testing.assert_allclose(ours[r0:r1, c0:c1], reference[r0:r1, c0:c1], atol=1e-4, rtol=0)


def test_bf16_decoding_of_the_default_model_keeps_its_maps(monkeypatch):
    """bf16 embeddings are decoded in bf16 (where the device has it): the served default model's
    foreground and labels on a real nucleus crop stay those of float32 decoding. On a CPU
    without native bf16 the emulated path is forced, so the numbers are checked everywhere."""
    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.demo import sample_image
    from sambridge_server.engine.automatic.ais import ais_segment, default_ais_params, embeddings_ais_maps, tiled_ais_maps
    from sambridge_server.engine.automatic.ais_decoder import build_ais_decoder, uses_bf16
    from sambridge_server.engine.embeddings import compute_embeddings
    from sambridge_server.engine.metrics import mean_segmentation_accuracy
    from sambridge_server.engine.models import load_checkpoint

    assert not uses_bf16("fp32", torch.device("cpu"))
    monkeypatch.setattr("sambridge_server.engine.automatic.ais_decoder.native_bf16", lambda device: True)
    source = ensure_default_model()
    model = load_checkpoint(source.path, source.model_type, "default", device="cpu")
    decoder = build_ais_decoder(model.decoder_state)
    crop = np.ascontiguousarray(sample_image()[200:456, 450:706])  # one 256-px tile, ~10 nuclei
    served = compute_embeddings(model, crop, model.native_tiling.tile_shape, model.native_tiling.halo, "bf16")
    bf16 = embeddings_ais_maps(decoder, served)
    fp32 = tiled_ais_maps(decoder, [served.tile_features(i) for i in range(served.n_tiles)], served.input_sizes,
                          served.grid.tiles, served.image_shape, precision="fp32")
    difference = np.abs(bf16.foreground - fp32.foreground)
    assert 0 < difference.max() < 0.15  # bf16 really ran, and stayed close
    foreground_bf16, foreground_fp32 = bf16.foreground > 0.5, fp32.foreground > 0.5
    assert (foreground_bf16 & foreground_fp32).sum() / (foreground_bf16 | foreground_fp32).sum() > 0.97
    params = default_ais_params("default")
    reference = ais_segment(fp32, params)
    assert reference.max() >= 5
    assert mean_segmentation_accuracy(ais_segment(bf16, params), reference) > 0.8
