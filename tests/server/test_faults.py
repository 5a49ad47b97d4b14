"""Faults: a cancelled call frees its server work within a second; memory limits are enforced.

(Corrupt, partial and half-written embedding cache entries: tests/engine/test_cache.py.
Crashes while storing images: tests/engine/test_image_store.py.)
"""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest

from sambridge import Client, SamBridgeError, wire
from sambridge.v1 import automatic_pb2, embeddings_pb2, tracking_pb2, volume_pb2
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.volume import propagation as volume

PLANES = 40


@pytest.fixture()
def server(tiny_checkpoint, start_server):
    """A fresh server (its cache must not keep the slowed encoder's zero features)."""
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32")
    _, workspace, address = start_server(config)
    return workspace, address


def _slow_planes(monkeypatch, workspace) -> list[float]:
    """AIS per plane takes 0.2 s (stubbed) and ignores cancellation itself; returns call times."""
    calls: list[float] = []

    def segment_plane(request, index, model, embeddings, method, params, *progress_and_cancel):
        calls.append(time.monotonic())
        time.sleep(0.2)
        return np.zeros(embeddings.image_shape, np.uint32), {}

    monkeypatch.setattr(workspace.automatic, "decoder", lambda model: None)
    monkeypatch.setattr(workspace.automatic, "_segment_plane", segment_plane)
    return calls


def _slow_propagation(monkeypatch) -> list[float]:
    """Each propagation step takes 0.2 s and keeps the object unchanged; returns call times."""
    calls: list[float] = []

    def decode_slice(source, z, requests, options):
        calls.append(time.monotonic())
        time.sleep(0.2)
        return np.stack([mask for _, mask, _ in requests]), np.ones(len(requests))

    monkeypatch.setattr(volume, "_decode_slice", decode_slice)
    return calls


def _request(kind: str, client: Client, workspace, monkeypatch, encoder_calls):
    """(stub method, request, list of work-call times) of a long call of ``kind``."""
    rng = np.random.default_rng(0)
    if kind == "embed":
        image_id = client.upload(rng.integers(0, 255, (256, 256), dtype=np.uint8))
        key = client._key(image_id, "tiny", tile_shape=(16, 16), halo=(0, 0))  # 256 tiles
        return client._embeddings.Embed, embeddings_pb2.EmbedRequest(key=key), encoder_calls
    stack = rng.integers(0, 255, (PLANES, 32, 32), dtype=np.uint8)
    if kind == "ais":
        key = client._key(client.upload(stack, "zyx"), "tiny")
        request = automatic_pb2.AutoSegmentRequest(key=key, method=automatic_pb2.AIS)
        return client._automatic.AutoSegment, request, _slow_planes(monkeypatch, workspace)
    if kind == "tracking":
        key = client._key(client.upload(stack, "tyx"), "tiny")
        request = tracking_pb2.TrackRequest(key=key, method=tracking_pb2.AUTO, segmentation_method=automatic_pb2.AIS)
        return client._tracking.Track, request, _slow_planes(monkeypatch, workspace)
    mask = np.zeros((32, 32), bool)
    mask[8:20, 8:20] = True
    request = volume_pb2.PropagateRequest(key=client._key(client.upload(stack, "zyx"), "tiny"))
    request.annotations.add(z=0, mask=wire.to_mask(mask))
    request.options.iou_threshold = 0.0
    return client._volume.Propagate, request, _slow_propagation(monkeypatch)


def _new_work_threads(before: set) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sambridge-work" and t not in before]


@pytest.mark.parametrize("kind", ["embed", "ais", "propagate", "tracking"])
def test_cancel_frees_server_work_within_a_second(server, kind, monkeypatch, slow_encoder):
    workspace, address = server
    with Client(address) as client:
        method, request, calls = _request(kind, client, workspace, monkeypatch, slow_encoder)
        before = set(threading.enumerate())
        call = method(request, metadata=client._metadata, timeout=120)
        first = next(call)
        assert first.WhichOneof("event") == "progress"
        while not calls:  # the slow work itself has started
            time.sleep(0.01)
        call.cancel()
        cancelled_at = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            for _ in call:
                pass
        assert err.value.code() == grpc.StatusCode.CANCELLED
        for thread in _new_work_threads(before):
            thread.join(timeout=5)
        freed_after = time.monotonic() - cancelled_at
    assert not _new_work_threads(before)
    assert freed_after < 1.0, f"{kind}: work went on for {freed_after:.2f} s after the cancel"
    assert calls[-1] - cancelled_at < 1.0
    assert len(calls) < 10  # far from done: the cancel, not the end of the work, stopped it


def test_image_size_limit_is_enforced(tiny_checkpoint, start_server):
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], max_image_pixels=10_000)
    _, _, address = start_server(config)
    with Client(address) as client:
        assert client.upload(np.ones((100, 100), np.uint8))
        with pytest.raises(SamBridgeError) as err:
            client.upload(np.ones((101, 100), np.uint8))
        assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit" in err.value.details
        assert client.server_info().max_image_pixels == 10_000


def test_embedding_and_image_memory_budgets_are_enforced(tiny_checkpoint, start_server, slow_encoder):
    # One embedding is 4 MiB: a 9 MiB budget holds two. Images: 1 MiB holds two of 400 KiB.
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], cache_mb=9, image_mb=1)
    _, workspace, address = start_server(config)
    images = [np.full((640, 640), i, np.uint8) for i in range(4)]
    with Client(address) as client:
        ids = []
        for image in images:
            ids.append(client.upload(image))
            client.embed(ids[-1])
            assert workspace.cache.memory_bytes <= 9 * 1024 * 1024
        assert workspace.cache.memory_bytes > 4 * 1024 * 1024
        # Without a cache dir the oldest image is forgotten; the client is told to upload it again ...
        with pytest.raises(SamBridgeError) as err:
            client.segment(ids[0], box=(10, 10, 100, 100))
        assert err.value.code == grpc.StatusCode.NOT_FOUND and "upload" in err.value.details
        # ... and passing the array again does so.
        assert client.segment(images[0], box=(10, 10, 100, 100)).shape == (640, 640)
        assert client.segment(ids[-1], box=(10, 10, 100, 100)).shape == (640, 640)
