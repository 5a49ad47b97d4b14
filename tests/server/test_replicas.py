"""Replicas: two server processes on one --cache-dir embed the same image at once, with identical results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sambridge import Client
from sambridge_server.engine.cache import DiskStore, make_key
from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.models import load_checkpoint
from tests.server.test_training_crash import ServerProcess

TILING = dict(tile_shape=(256, 256), halo=(32, 32))


@pytest.fixture()
def replicas(tiny_checkpoint, tmp_path):
    started = [ServerProcess(tiny_checkpoint, tmp_path / "cache", tmp_path / f"server{i}.log") for i in range(2)]
    yield started, tmp_path / "cache"
    for server in started:
        server.kill()


def test_two_server_processes_embed_concurrently_with_identical_results(replicas, hela_crop, tiny_checkpoint):
    servers, cache = replicas
    image = np.ascontiguousarray(hela_crop[:, ::-1])  # an image no other test embeds
    results, errors = {}, []
    start = threading.Barrier(2)

    def embed_and_segment(i: int) -> None:
        try:
            with Client(servers[i].address, timeout=300) as client:
                start.wait()
                summary = client.embed(image, model="tiny", precision="fp32", **TILING)
                mask, scores = client.segment(image, box=(100, 120, 180, 200), model="tiny", return_scores=True,
                                              multimask=True, **TILING)
                results[i] = (summary, mask, scores)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=embed_and_segment, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    # one process computed, the other waited on the entry's lock file and read it (counted in
    # tests/engine/test_cache_processes.py): identical embeddings, one entry, nothing half-written left
    assert np.array_equal(results[0][1], results[1][1]) and np.array_equal(results[0][2], results[1][2])
    entries = list((cache / "embeddings").glob("*.zarr"))
    assert len(entries) == 1 and not any((cache / "embeddings" / ".tmp").iterdir())
    model = load_checkpoint(tiny_checkpoint)
    key = make_key(image, model.model_hash, TILING["tile_shape"], TILING["halo"], "fp32")
    stored = DiskStore(cache / "embeddings").read(key)
    assert stored is not None and entries[0] == DiskStore(cache / "embeddings").path(key)
    expected = compute_embeddings(model, image, TILING["tile_shape"], TILING["halo"], "fp32")
    np.testing.assert_allclose(stored.features, expected.features, atol=1e-4)
