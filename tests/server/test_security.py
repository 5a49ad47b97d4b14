"""Exposure: tokens, local binds, health, reflection, path confinement."""

from __future__ import annotations

import subprocess
import sys

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sambridge import Client, SamBridgeError
from sambridge_server.config import ModelSource, ServerConfig



@pytest.fixture()
def guarded(tiny_checkpoint, start_server):
    config = ServerConfig(port=0, token="s3cret", admin_token="r00t",
                          models=[ModelSource(path=tiny_checkpoint, name="tiny")])
    return start_server(config)[2]


def test_right_token_works_wrong_or_missing_token_rejected(guarded):
    for token in ("s3cret", "r00t"):  # the admin token is accepted as a token too
        with Client(guarded, token=token) as ok:
            assert ok.models()[0]["name"] == "tiny"
    for token in ("wrong", None):
        with Client(guarded, token=token) as bad, pytest.raises(SamBridgeError) as err:
            bad.models()
        assert err.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert ("invalid token" if token else "missing token") in err.value.details


def test_a_stream_without_token_is_refused_before_its_first_message(guarded):
    import threading
    import time

    from sambridge.v1 import images_pb2_grpc

    never = threading.Event()

    def stalled_upload():
        never.wait(20)  # sends nothing: the server must not wait for a first chunk
        return
        yield

    with grpc.insecure_channel(guarded) as channel:
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            images_pb2_grpc.ImageServiceStub(channel).Upload(stalled_upload(), timeout=15)
        never.set()
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert time.monotonic() - start < 5


def test_health_is_open_without_token(guarded):
    with grpc.insecure_channel(guarded) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        status = stub.Check(health_pb2.HealthCheckRequest(service="sambridge.v1.PromptService")).status
    assert status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_services(live):
    with grpc.insecure_channel(live[1]) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"sambridge.v1.PromptService", "sambridge.v1.ImageService", "sambridge.v1.TrainingService",
            "grpc.health.v1.Health"} <= names


def test_non_local_bind_without_token_is_refused():
    result = subprocess.run([sys.executable, "-m", "sambridge_server", "--host", "0.0.0.0", "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "without a token" in result.stderr
    with pytest.raises(ValueError, match="without a token"):
        ServerConfig(host="0.0.0.0").check_exposure()


def test_load_model_confined_to_roots(client, live, tiny_checkpoint, tmp_path):
    root = live[0].config.model_roots[0]
    outside = tmp_path / "outside.pth"
    outside.write_bytes(open(tiny_checkpoint, "rb").read())
    (root / "escape.pth").symlink_to(outside)
    for path, words in [("../outside.pth", "outside the allowed roots"), (str(outside), "outside the allowed roots"),
                        ("escape.pth", "outside the allowed roots"), ("missing.pth", "does not exist")]:
        with pytest.raises(SamBridgeError) as err:
            client.load_model("x", path)
        assert words in err.value.details
    (root / "inside.pth").write_bytes(open(tiny_checkpoint, "rb").read())
    assert client.load_model("inside", "inside.pth")["model_type"] == "vit_tiny"
    (root / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(SamBridgeError) as err:
        client.load_model("corrupt", "corrupt.pth")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "not a readable" in err.value.details
    assert len(client.models()) >= 2
    assert client.segment(np.ones((32, 32), np.uint8) * np.arange(32, dtype=np.uint8), box=(2, 2, 20, 20),
                          model="inside").shape == (32, 32)


def test_ipv6_loopback_binds_and_serves(start_server, tiny_checkpoint):
    import socket

    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    config = ServerConfig(host="::1", port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")])
    _, _, address = start_server(config)
    port = address.rsplit(":", 1)[1]
    with Client(f"[::1]:{port}", timeout=30) as client:
        assert client.models()[0]["name"] == "tiny"


def test_model_names_are_checked_models_capped_and_unloadable(start_server, tiny_checkpoint, tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    (root / "m.pth").write_bytes(open(tiny_checkpoint, "rb").read())
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], model_roots=[root],
                          max_models=2)
    _, _, address = start_server(config)
    with Client(address, timeout=60) as client:
        for bad in ("../x", "a/b", "x" * 100_000, "", " spaced"):
            with pytest.raises(SamBridgeError) as err:
                client.load_model(bad, "m.pth")
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT, bad[:20]
            assert "model name" in err.value.details and len(err.value.details) < 300
        client.load_model("second", "m.pth")
        with pytest.raises(SamBridgeError) as err:
            client.load_model("third", "m.pth")
        assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "--max-models 2" in err.value.details
        with pytest.raises(SamBridgeError) as err:
            client.unload_model("tiny")
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION and "default" in err.value.details
        with pytest.raises(SamBridgeError) as err:
            client.unload_model("nope")
        assert err.value.code == grpc.StatusCode.NOT_FOUND
        client.unload_model("second")
        assert [m["name"] for m in client.models()] == ["tiny"]
        client.load_model("third", "m.pth")  # room again
        assert sorted(m["name"] for m in client.models()) == ["third", "tiny"]
