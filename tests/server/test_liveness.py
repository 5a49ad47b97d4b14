"""Stalled or long calls cannot freeze the server: health never queues, idle streams are ended,
uploads in progress share a byte budget."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sambridge import Client, SamBridgeError, wire
from sambridge.v1 import images_pb2_grpc
from sambridge_server.config import ModelSource, ServerConfig


def _stalled_upload(release: threading.Event, shape=(64, 64)):
    """An upload that sends its header and one chunk, then nothing until ``release``."""
    chunks = wire.upload_chunks(np.zeros(shape, np.uint8), "yx", chunk_bytes=1024)
    yield next(iter(chunks))
    release.wait(30)


def test_stalled_streams_neither_block_health_nor_outlive_the_idle_limit(tiny_checkpoint, start_server):
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], workers=1,
                          idle_timeout_s=2.0)
    _, _, address = start_server(config)
    release = threading.Event()
    outcomes: list[grpc.StatusCode] = []
    with grpc.insecure_channel(address) as channel:
        stub = images_pb2_grpc.ImageServiceStub(channel)
        calls = [stub.Upload.future(_stalled_upload(release), timeout=30) for _ in range(8)]  # 8 x workers
        time.sleep(0.8)
        try:
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(5):
                start = time.monotonic()
                answer = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
                assert time.monotonic() - start < 1.0
            with Client(address) as client, pytest.raises(SamBridgeError) as err:
                client.models()  # a 9th call: refused at once, not queued
            assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            for call in calls:
                with pytest.raises(grpc.RpcError) as failure:
                    call.result(timeout=10)
                outcomes.append(failure.value.code())
        finally:
            release.set()
    assert outcomes == [grpc.StatusCode.DEADLINE_EXCEEDED] * 8
    with Client(address) as client:  # the slots are free again
        assert client.models()[0]["name"] == "tiny"


def test_uploads_in_progress_share_a_byte_budget(tiny_checkpoint, start_server):
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], upload_mb=1)
    _, _, address = start_server(config)
    release = threading.Event()
    with grpc.insecure_channel(address) as channel, Client(address) as client:
        holding = images_pb2_grpc.ImageServiceStub(channel).Upload.future(
            _stalled_upload(release, shape=(800, 800)), timeout=30)  # 0.61 MiB reserved while it stalls
        time.sleep(0.5)
        try:
            with pytest.raises(SamBridgeError) as err:
                client.upload(np.ones((700, 700), np.uint8))  # 0.47 MiB more would exceed 1 MiB
            assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "uploads in progress" in err.value.details
        finally:
            release.set()
        with pytest.raises(grpc.RpcError):
            holding.result(timeout=10)  # truncated: it never sent the rest
        assert client.upload(np.ones((700, 700), np.uint8))  # the budget was given back
