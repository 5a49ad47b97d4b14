"""Compact (int8 decoder) checkpoints: small, loadable by the normal loader, same segmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge_server.engine.automatic.ais import embeddings_ais_maps
from sambridge_server.engine.automatic.ais_decoder import AISDecoder, build_ais_decoder
from sambridge_server.engine.compact_weights import dequantize_tensor, quantize_tensor, save_compact
from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint, save_checkpoint


def test_int8_rows_reconstruct_within_half_a_step():
    weight = torch.randn(32, 16, 3, 3) * torch.logspace(-3, 1, 32)[:, None, None, None]
    entry = quantize_tensor(weight)
    assert entry["int8"].dtype == torch.int8 and entry["scale"].shape == (32,)
    error = (dequantize_tensor(entry) - weight).abs().reshape(32, -1).amax(1)
    step = weight.abs().reshape(32, -1).amax(1) / 127
    assert (error <= step * (0.5 + 1e-5)).all()


def test_compact_checkpoint_is_smaller_and_gives_the_same_decoder_maps(tmp_path, hela_frame):
    torch.manual_seed(0)
    sam = build_sam(PRESETS["vit_tiny"], seed=0)
    decoder_state = AISDecoder().state_dict()
    full = save_checkpoint(sam, tmp_path / "full.pt", decoder_state=decoder_state, fmt="micro_sam")
    compact = save_compact(sam.state_dict(), decoder_state, tmp_path / "compact.pt")
    assert compact.stat().st_size < 0.45 * full.stat().st_size

    original, loaded = load_checkpoint(full), load_checkpoint(compact)
    assert loaded.model_type == "vit_tiny"
    for key, value in original.sam.state_dict().items():  # SAM itself: fp16 only
        torch.testing.assert_close(loaded.sam.state_dict()[key], value, atol=2e-3, rtol=2e-3)
    embeddings = compute_embeddings(original, hela_frame[:256, :256])
    maps = [embeddings_ais_maps(build_ais_decoder(model.decoder_state), embeddings)
            for model in (original, loaded)]
    for name in ("foreground", "center_distances", "boundary_distances"):
        difference = np.abs(getattr(maps[0], name) - getattr(maps[1], name))
        assert difference.mean() < 3e-3 and difference.max() < 5e-2


def test_native_tiling_travels_with_the_checkpoint_and_bad_entries_are_refused(tmp_path):
    from sambridge_server.engine.errors import InvalidInput
    from sambridge_server.engine.tiling import NativeTiling

    sam = build_sam(PRESETS["vit_tiny"], seed=0)
    tiling = NativeTiling((256, 256), (64, 64))
    compact = save_compact(sam.state_dict(), None, tmp_path / "compact.pt", native_tiling=tiling.as_mapping())
    assert load_checkpoint(compact).native_tiling == tiling
    micro = save_checkpoint(sam, tmp_path / "micro.pt", fmt="micro_sam", native_tiling=tiling)
    assert load_checkpoint(micro).native_tiling == tiling
    assert load_checkpoint(save_checkpoint(sam, tmp_path / "plain.pt")).native_tiling is None
    for bad in ({"tile_shape": [256]}, {"tile_shape": [0, 256], "halo": [0, 0]}, {"halo": [1, 1]}):
        path = tmp_path / "bad.pt"
        torch.save({"model_state": sam.state_dict(), "native_tiling": bad}, path)
        with pytest.raises(InvalidInput, match="native_tiling"):
            load_checkpoint(path)
