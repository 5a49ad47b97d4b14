"""--compile: the torch.compile'd encoder gives the eager encoder's embeddings and is compiled before serving."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.requests import EmbeddingRequest
from sambridge_server.engine.workspace import Workspace

# Inductor writes and builds C++ kernels on a CPU.
pytestmark = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                                reason="torch.compile needs a C++ compiler on a CPU")


def test_compiled_embeddings_equal_eager_ones_and_compile_before_serving(tiny_checkpoint, hela_crop):
    def workspace(compile: bool) -> Workspace:
        ws = Workspace(ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")],
                                    precision="fp32", compile=compile))
        ws.images.put("hela", hela_crop, "yx")
        return ws

    compiled = workspace(True)
    seconds = compiled.prepare_compiled()
    assert set(seconds) == {"tiny"} and seconds["tiny"] > 0
    # Compiled at start: the first user's embedding does not pay the compilation.
    batcher = compiled.encoder_batcher(compiled.models.get("tiny"))
    assert compiled.encoder_batcher(compiled.models.get("tiny")) is batcher
    tiled = EmbeddingRequest("hela", tile_shape=(128, 160), halo=(16, 16))
    got, _, _ = compiled.embeddings_for(tiled)
    want, _, _ = workspace(False).embeddings_for(tiled)
    assert got.n_tiles == want.n_tiles == 4
    np.testing.assert_allclose(got.features, want.features, rtol=0, atol=1e-4)
    # ... and what users get from it: the same box mask.
    box = np.array([40.0, 40.0, 120.0, 110.0])
    a, b = compiled.segment(tiled, box=box).masks[0], workspace(False).segment(tiled, box=box).masks[0]
    assert a.sum() > 0 and (a & b).sum() / (a | b).sum() > 0.99
