"""Many clients at once: private object handles, bounded concurrency, honoured deadlines."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest

from sambridge import Client, SamBridgeError
from sambridge.v1 import common_pb2, embeddings_pb2, prompts_pb2
from sambridge_server.config import ModelSource, ServerConfig


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(11).integers(0, 255, size=(96, 96), dtype=np.uint8)


def test_object_handles_are_private_to_each_client(live, image):
    address = live[1]
    with Client(address, timeout=120) as alice, Client(address, timeout=120) as bob:
        alice.segment(image, box=(20, 20, 70, 70), object_id="cell-1", model="tiny")
        # Bob's "cell-1" is a new object: his negative point gets no mask prompt from Alice's logits.
        plain = bob.segment(image, points=[(30, 30)], point_labels=[0], model="tiny")
        bobs = bob.segment(image, points=[(30, 30)], point_labels=[0], object_id="cell-1", model="tiny")
        assert np.array_equal(bobs, plain)
        # Alice's correction does use her previous logits.
        alices = alice.segment(image, points=[(30, 30)], point_labels=[0], object_id="cell-1", model="tiny")
        assert not np.array_equal(alices, plain)
        # Same id on another image is fine for a third client; releasing only touches one's own handle.
        with Client(address, timeout=120) as carol:
            carol.segment(image[::-1].copy(), box=(20, 20, 70, 70), object_id="cell-1", model="tiny")
            assert carol.release_object("cell-1") is True
        assert bob.release_object("cell-1") is True
        assert bob.release_object("cell-1") is False
        assert alice.release_object("cell-1") is True


def test_raw_stub_without_session_is_scoped_to_its_connection(live, image):
    """Clients that send no session metadata (e.g. a bare gRPC stub) are told apart by connection."""
    from sambridge.v1 import prompts_pb2_grpc

    address = live[1]
    with Client(address, timeout=120) as client:
        image_id = client.upload(image)
    request = prompts_pb2.SegmentRequest(key=common_pb2.EmbeddingKey(image_id=image_id, model="tiny"),
                                         box=common_pb2.Box(x0=20, y0=20, x1=70, y1=70), object_id="raw-1")
    # Two separate connections (channels in one process share one unless told not to).
    own = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(address, options=own) as first, grpc.insecure_channel(address, options=own) as second:
        prompts_pb2_grpc.PromptServiceStub(first).Segment(request, timeout=60)
        released = prompts_pb2_grpc.PromptServiceStub(second).ReleaseObject(prompts_pb2.ObjectRef(object_id="raw-1"))
        assert released.released is False
        released = prompts_pb2_grpc.PromptServiceStub(first).ReleaseObject(prompts_pb2.ObjectRef(object_id="raw-1"))
        assert released.released is True


def _settles(calls: list[float], within_s: float) -> bool:
    """True when no encoder batch starts during a quiet period after ``within_s``."""
    time.sleep(within_s)
    seen = len(calls)
    time.sleep(0.5)
    return len(calls) == seen


@pytest.mark.parametrize("call", ["embed", "segment"])
def test_client_deadline_stops_server_work(tiny_checkpoint, start_server, slow_encoder, call):
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32")
    _, workspace, address = start_server(config)
    image = np.random.default_rng(5).integers(0, 255, size=(256, 256), dtype=np.uint8)
    tiling = dict(tile_shape=(16, 16), halo=(0, 0))  # 256 tiles = 26 s of (slowed) encoder work
    with Client(address) as client:
        image_id = client.upload(image)
        key = client._key(image_id, "tiny", **tiling)
        began = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            if call == "embed":
                for _ in client._embeddings.Embed(embeddings_pb2.EmbedRequest(key=key), timeout=0.5,
                                                  metadata=client._metadata):
                    pass
            else:  # a unary call that has to compute the embeddings first
                client._prompts.Segment(prompts_pb2.SegmentRequest(key=key, box=common_pb2.Box(x0=1, y0=1, x1=9, y1=9)),
                                        timeout=0.5, metadata=client._metadata)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert _settles(slow_encoder, within_s=max(0.0, began + 1.5 - time.monotonic()))
    assert len(slow_encoder) < 20  # stopped within about a second, not after 256 tiles
    assert workspace.cache.computes == 0  # nothing half-computed was cached


def test_calls_beyond_the_concurrency_limit_get_resource_exhausted(tiny_checkpoint, start_server, monkeypatch):
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], workers=1)
    _, workspace, address = start_server(config)
    release = threading.Event()
    started = threading.Semaphore(0)

    from sambridge_server.engine.requests import EmbedSummary

    def fake_embed(request, indices=(), progress=None, cancelled=None):
        started.release()
        release.wait(timeout=30)
        return EmbedSummary(1, 1, 0, 0.0)

    monkeypatch.setattr(workspace, "embed", fake_embed)
    limit = config.workers * 8
    with Client(address) as client:
        request = embeddings_pb2.EmbedRequest(key=common_pb2.EmbeddingKey(image_id="sha1:" + "0" * 40))
        calls = [client._embeddings.Embed(request, timeout=60, metadata=client._metadata) for _ in range(limit)]
        try:
            # Streams start lazily; wait until the server is executing (or queueing) all of them.
            deadline = time.monotonic() + 20
            for call in calls[:config.workers]:
                assert started.acquire(timeout=max(0.1, deadline - time.monotonic()))
            time.sleep(0.3)
            with pytest.raises(SamBridgeError) as err:
                client.models()
            assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            release.set()
        results = [[event.WhichOneof("event") for event in call] for call in calls]
    assert all(events[-1] == "result" for events in results)
    with Client(address) as client:  # and the server serves again
        assert client.models()[0]["name"] == "tiny"
