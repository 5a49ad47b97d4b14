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


def _idle_training(sam, decoder, train_images, val_images, config, run_dir, on_progress, cancelled):
    """A training run that takes no CPU: it waits for its cancel."""
    from sambridge_server.engine.errors import Cancelled

    while not cancelled():
        time.sleep(0.05)
    raise Cancelled("cancelled")


def _watchers(stub, job_id: str, sessions: list[str], token: str = "") -> tuple[list, list[grpc.RpcError]]:
    """Open one WatchJob per session at once; (the admitted calls, the refusals)."""
    from sambridge.v1 import training_pb2

    auth = (("authorization", f"Bearer {token}"),) if token else ()
    calls = [stub.WatchJob(training_pb2.JobRef(job_id=job_id), timeout=60,
                           metadata=(("sambridge-session", session), *auth)) for session in sessions]
    admitted, refused = [], []
    for call in calls:
        try:
            assert next(call).WhichOneof("event") == "job"
            admitted.append(call)
        except grpc.RpcError as err:
            refused.append(err)
    return admitted, refused


def test_job_watchers_hold_no_workers_and_have_a_bound_of_their_own(tiny_checkpoint, start_server, monkeypatch):
    from sambridge.v1 import training_pb2, training_pb2_grpc
    from sambridge_server.engine.training import jobs
    from sambridge_server.engine.training.data import synthetic_nuclei

    monkeypatch.setattr(jobs, "train", _idle_training)
    # 8 calls in flight, 6 watchers (2 per caller), 4 probe threads: a pool of 18 threads.
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                          workers=1, max_watchers=6, watchers_per_caller=2, admin_token="r00t")
    _, workspace, address = start_server(config)
    image = np.random.default_rng(3).integers(0, 255, (64, 64), dtype=np.uint8)
    pairs = [synthetic_nuclei((64, 64), 4, np.random.default_rng(0), radius=(6.0, 10.0))]
    with Client(address, timeout=60) as owner, grpc.insecure_channel(address) as channel:
        expected = owner.segment(image, box=(10, 10, 50, 50), model="tiny")  # embeddings now cached
        job = owner.train("watched", pairs, base_model="tiny", epochs=1)
        stub = training_pb2_grpc.TrainingServiceStub(channel)
        own, refused = _watchers(stub, job.job_id, [owner.session] * 3)
        assert len(own) == 2 and [e.code() for e in refused] == [grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert "per caller" in refused[0].details()
        # 54 watchers (3 x the pool) from as many admin sessions: 4 fit the server-wide bound.
        others, refused = _watchers(stub, job.job_id, [f"admin-{i}" for i in range(54)], token="r00t")
        assert len(others) == 4 and {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert "6 job watchers are open" in refused[0].details()
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(5):  # every watcher is open: other calls are served at once
            start = time.monotonic()
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == \
                health_pb2.HealthCheckResponse.SERVING
            assert time.monotonic() - start < 1.0
            start = time.monotonic()
            assert np.array_equal(owner.segment(image, box=(10, 10, 50, 50), model="tiny"), expected)
            assert time.monotonic() - start < 1.0
        assert owner.job(job).state == "RUNNING"
        for call in own + others:  # watchers that leave hand their slot back at once
            call.cancel()
        left = time.monotonic()
        again, _ = _watchers(stub, job.job_id, [f"later-{i}" for i in range(6)], token="r00t")
        while len(again) < 6 and time.monotonic() - left < 1.0:
            for call in again:
                call.cancel()
            again, _ = _watchers(stub, job.job_id, [f"later-{i}" for i in range(6)], token="r00t")
        assert len(again) == 6, f"only {len(again)} of 6 watchers admitted 1 s after the others left"
        owner.cancel_job(job)
        for call in again:  # they follow the job to its end
            states = [event.job.state for event in call if event.WhichOneof("event") == "job"]
            assert states[-1] == training_pb2.CANCELLED
