"""AutoSegment streams progress per tile: embedding tiles, then decoder tiles, over all planes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge import Client
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.automatic import ais
from sambridge_server.engine.automatic.ais_decoder import AISDecoder
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint


@pytest.fixture()
def ais_address(start_server, tmp_path, monkeypatch):
    """A server on a tiny model with an AIS decoder whose per-tile decoding is stubbed (cheap)."""
    path = tmp_path / "tiny_ais.pt"
    torch.manual_seed(5)
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=5), path, decoder_state=AISDecoder().state_dict(),
                    fmt="micro_sam")
    decoded = []

    def fake_maps(decoder, features, input_size, original_size, region=None, precision="fp32"):
        decoded.append(tuple(original_size))
        foreground = np.zeros(original_size, np.float32)
        return foreground, foreground + 1, foreground + 1

    monkeypatch.setattr(ais, "predict_ais_maps", fake_maps)
    _, _, address = start_server(ServerConfig(port=0, precision="fp32", models=[ModelSource(path=path, name="ais")]))
    return address, decoded


def test_progress_counts_embedding_then_decoder_tiles(ais_address):
    address, decoded = ais_address
    image = np.random.default_rng(0).integers(0, 1000, (300, 300)).astype(np.uint16)
    events = []
    with Client(address, timeout=300) as client:
        client.auto_segment(image, method="ais", tile_shape=(160, 160), halo=(16, 16),
                            progress=lambda stage, done, total: events.append((stage, done, total)))
    assert len(decoded) == 4  # 2 x 2 tiles
    stages = [stage for stage, _, _ in events]
    assert set(stages) == {"embedding", "decoding"}
    assert stages.index("decoding") > max(i for i, s in enumerate(stages) if s == "embedding")
    decoding = [(done, total) for stage, done, total in events if stage == "decoding"]
    assert sorted(set(decoding)) == [(1, 4), (2, 4), (3, 4), (4, 4)]  # one step per tile
    assert ("embedding", 4, 4) in events


def test_stack_progress_counts_tiles_over_all_planes(ais_address):
    address, decoded = ais_address
    stack = np.random.default_rng(1).integers(0, 1000, (2, 200, 300)).astype(np.uint16)
    events = []
    with Client(address, timeout=300) as client:
        labels = client.auto_segment(stack, method="ais", axes="zyx", tile_shape=(160, 160), halo=(16, 16),
                                     progress=lambda stage, done, total: events.append((stage, done, total)))
    assert labels.shape == stack.shape
    assert len(decoded) == 8  # 2 planes x 2 x 2 tiles
    decoding = [done for stage, done, total in events if stage == "decoding" and total == 8]
    assert decoding == sorted(decoding) and set(decoding) == set(range(1, 9))
    assert events[-1] == ("decoding", 8, 8)
