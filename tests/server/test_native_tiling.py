"""A model's native tiling: served when a request leaves the tiling unset, reported, overridable,
and inherited by models finetuned from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge import Client
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint, save_checkpoint
from sambridge_server.engine.tiling import NativeTiling
from sambridge_server.engine.training.data import synthetic_nuclei

NATIVE = NativeTiling((64, 64), (16, 16))


@pytest.fixture()
def native_server(start_server, tmp_path):
    """A server with the same random tiny SAM twice: 'native' (tiles 64/16) and 'plain' (none)."""
    sam = build_sam(PRESETS["vit_tiny"], seed=3)
    native, plain = tmp_path / "native.pt", tmp_path / "plain.pt"
    save_checkpoint(sam, native, fmt="micro_sam", native_tiling=NATIVE)
    save_checkpoint(sam, plain, fmt="micro_sam")
    config = ServerConfig(port=0, models=[ModelSource(path=str(native), name="native"),
                                          ModelSource(path=str(plain), name="plain")],
                          precision="fp32", cache_dir=tmp_path / "cache")
    _, workspace, address = start_server(config)
    return workspace, address


def test_unset_tiling_means_the_models_native_tiling(native_server, hela_crop):
    image = np.ascontiguousarray(hela_crop[:200, :200])
    box = (60, 60, 110, 100)  # spans tiles: the tile is chosen as for any tiled request
    with Client(native_server[1], timeout=120) as client:
        info = {m["name"]: m["native_tiling"] for m in client.models()}
        assert info == {"native": {"tile_shape": (64, 64), "halo": (16, 16)}, "plain": None}
        assert client.embed(image, model="native").n_tiles == 16  # ceil(200 / 64) ** 2
        assert client.embed(image, model="native", tile_shape="whole").n_tiles == 1
        assert client.embed(image, model="native", tile_shape=(128, 128), halo=(8, 8)).n_tiles == 4
        assert client.embed(image, model="plain").n_tiles == 1
        served = client.segment(image, box=box, model="native")
        assert np.array_equal(served, client.segment(image, box=box, model="plain", tile_shape=(64, 64),
                                                     halo=(16, 16)))
        whole = client.segment(image, box=box, model="native", tile_shape="whole")
        assert np.array_equal(whole, client.segment(image, box=box, model="plain"))
        assert not np.array_equal(served, whole)  # the two paths really differ


def test_cli_embeds_in_native_tiles_unless_told_whole(native_server, hela_crop, tmp_path, capsys):
    import tifffile

    from sambridge.cli import main

    path = tmp_path / "crop.tif"
    tifffile.imwrite(path, np.ascontiguousarray(hela_crop[:200, :200]))
    common = ["--address", native_server[1], "embed", str(path), "--model", "native"]
    assert main(common) == 0 and "16 tile(s)" in capsys.readouterr().out
    assert main(common + ["--tile", "whole"]) == 0 and "1 tile(s)" in capsys.readouterr().out


def test_finetuned_models_keep_the_native_tiling(native_server):
    workspace, address = native_server
    workspace.jobs.config_overrides = dict(patch_size=64, ais_patch_size=64, n_objects_per_batch=2,
                                           n_sub_iterations=1, steps_per_epoch=1, validation_patches=1)
    rng = np.random.default_rng(0)
    pairs = [synthetic_nuclei((96, 96), 5, rng, radius=(6.0, 9.0)) for _ in range(2)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with Client(address, timeout=120) as client:
            job = client.train("tuned", pairs, base_model="native", epochs=1, validation_fraction=0.5)
            final = [e["job"] for e in client.watch(job) if "job" in e][-1]
            assert final.state == "SUCCEEDED", final.message
            tuned = {m["name"]: m["native_tiling"] for m in client.models()}["tuned"]
    finally:
        torch.set_num_threads(threads)
    assert tuned == {"tile_shape": (64, 64), "halo": (16, 16)}
    assert load_checkpoint(final.checkpoint_path).native_tiling == NATIVE
