"""The README's ```python blocks run as written against the demo image and a live server.

Every block is executed, in order, in one namespace, in a folder holding the demo's
``sambridge_demo/image.tif`` (the image the demo ships); a block right after the comment
``<!-- readme-test: skip (reason) -->`` is not. The only change to the code: the server
address 127.0.0.1:50051 becomes the test server's. That server is real but small: a random-weight
tiny model, training with tiny patch settings, and AIS decoder maps from a stand-in that draws
round nuclei (the random decoder finds no objects to train on, and at 1024 px per plane it would
take minutes on 2 CPU cores for the README's 10 planes; tests/server/test_automatic_rpc.py and
the parity tests cover the real decoder).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from sambridge_server.app import build_server
from sambridge_server.engine.automatic import planes as planes_module
from sambridge_server.engine.automatic.ais import AISMaps
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.automatic.ais_decoder import AISDecoder
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint
from sambridge_server.engine.workspace import Workspace

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_IMAGE = Path(__file__).resolve().parents[1] / "server" / "sambridge_server" / "data" / "hela_frame0.tif"
BLOCK = re.compile(r"(<!-- readme-test: skip[^>]*-->\s*)?```python\n(.*?)```", re.S)
TRAINING = dict(patch_size=64, ais_patch_size=64, n_objects_per_batch=2, n_sub_iterations=2, steps_per_epoch=2,
                validation_patches=1)


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code, skipped) of every ```python block."""
    return [(text[:m.start(2)].count("\n") + 1, m.group(2), bool(m.group(1))) for m in BLOCK.finditer(text)]


def stand_in_ais_maps(decoder, embeddings, progress=None) -> AISMaps:
    """Decoder maps of round "nuclei" (radius 15 px, every 80 px) over the embedded image."""
    height, width = embeddings.image_shape
    yy, xx = np.mgrid[:height, :width]
    dy, dx = (yy % 80) - 40, (xx % 80) - 40
    radius = np.sqrt(dy ** 2 + dx ** 2) / 15.0
    inside = radius < 1
    if progress is not None:
        progress(embeddings.n_tiles, embeddings.n_tiles)
    return AISMaps(foreground=inside.astype(np.float32), center_distances=np.minimum(radius, 1).astype(np.float32),
                   boundary_distances=np.where(inside, 0.2, 1.0).astype(np.float32))


@pytest.fixture(scope="module")
def address(tmp_path_factory):
    path = tmp_path_factory.mktemp("readme") / "tiny.pt"
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=5), path, decoder_state=AISDecoder().state_dict(),
                    fmt="micro_sam")
    config = ServerConfig(port=0, precision="fp32", models=[ModelSource(path=path, name="tiny")],
                          cache_dir=tmp_path_factory.mktemp("readme_cache"))
    workspace = Workspace(config)
    workspace.jobs.config_overrides = TRAINING
    server, port = build_server(config, workspace)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=0)


def test_readme_has_the_python_client_block():
    blocks = python_blocks(README.read_text())
    run = [code for _, code, skipped in blocks if not skipped]
    assert any('tifffile.imread("sambridge_demo/image.tif")' in code for code in run)
    assert all("127.0.0.1:50051" not in code for _, code, skipped in blocks if skipped)


def test_readme_python_blocks_run(address, tmp_path, monkeypatch, capsys):
    if not DEMO_IMAGE.exists():
        pytest.skip("the demo image is not shipped in this checkout")
    (tmp_path / "sambridge_demo").mkdir()
    tifffile.imwrite(tmp_path / "sambridge_demo" / "image.tif", tifffile.imread(DEMO_IMAGE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(planes_module, "embeddings_ais_maps", stand_in_ais_maps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict = {"__name__": "__readme__"}
    try:
        for line, code, skipped in python_blocks(README.read_text()):
            if skipped:
                continue
            start = time.perf_counter()
            exec(compile(code.replace("127.0.0.1:50051", address), f"README.md:{line}", "exec"), namespace)
            print(f"README.md:{line} ran in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    finally:
        torch.set_num_threads(threads)
    # What the walkthrough produced is real output, not just the absence of errors.
    labels = tifffile.imread(tmp_path / "labels.tif")
    assert labels.shape == namespace["image"].shape and labels.dtype == np.uint32 and labels.max() > 50
    assert namespace["auto3d"].shape == namespace["volume"].shape
    assert (tmp_path / "tracking_out" / "res_track.txt").exists()
    assert namespace["job"].job_id and namespace["event"]["job"].state == "SUCCEEDED"
