"""A restarted server with the same --cache-dir reuses stored embeddings and images."""

from __future__ import annotations

import numpy as np

from sambridge import Client
from sambridge_server.config import ModelSource, ServerConfig



def test_restart_reuses_embeddings(tiny_checkpoint, tmp_path, hela_crop, start_server):
    config = ServerConfig(port=0, cache_dir=tmp_path, precision="fp32",
                          models=[ModelSource(path=tiny_checkpoint, name="tiny")])
    server, workspace, address = start_server(config)
    with Client(address) as client:
        first = client.embed(hela_crop)
        mask = client.segment(hela_crop, box=(100, 100, 200, 220))
    server.stop(grace=0)
    assert first.n_cached == 0 and workspace.cache.computes == 1

    server, workspace, address = start_server(config)
    with Client(address) as client:
        image_id = client.upload(hela_crop)
        assert workspace.images.get(image_id) is not None
        again = client.embed(image_id)
        assert again.n_cached == 1
        assert np.array_equal(client.segment(image_id, box=(100, 100, 200, 220)), mask)
    assert workspace.cache.computes == 0 and workspace.cache.hits_disk == 1
