"""Fixtures: a live in-process server on a random-weight tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge import Client
from sambridge_server.app import build_server
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint
from sambridge_server.engine.workspace import Workspace


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    """A random-weight vit_tiny saved in Meta's format."""
    path = tmp_path_factory.mktemp("models") / "tiny.pth"
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=1), path, fmt="meta")
    return str(path)


def _start(config: ServerConfig):
    """Start a server for ``config``; return (server, workspace, address)."""
    workspace = Workspace(config)
    server, port = build_server(config, workspace)
    server.start()
    return server, workspace, f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def live(tiny_checkpoint, tmp_path_factory):
    """(workspace, address) of a running server with model 'tiny' (fp32) and a model root."""
    root = tmp_path_factory.mktemp("model_root")
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                          model_roots=[root], max_image_pixels=50_000_000)
    server, workspace, address = _start(config)
    yield workspace, address
    server.stop(grace=0)


@pytest.fixture()
def client(live):
    """A client connected to the live server."""
    with Client(live[1], timeout=120) as c:
        yield c


@pytest.fixture(scope="session")
def hela_crop(hela_frame) -> np.ndarray:
    """A 512x512 crop of a real HeLa frame (uint16)."""
    return np.ascontiguousarray(hela_frame[100:612, 200:712])


@pytest.fixture()
def start_server():
    """A function starting a server for a config; every server is stopped after the test."""
    servers = []

    def start(config: ServerConfig):
        server, workspace, address = _start(config)
        servers.append(server)
        return server, workspace, address

    yield start
    for server in servers:
        server.stop(grace=0)


@pytest.fixture()
def slow_encoder(monkeypatch):
    """Every encoder batch takes 0.1 s and returns zero features; yields the batch start times.

    Makes "long" embeddings deterministic and cheap for cancellation and deadline tests.
    """
    import time

    from sambridge_server.engine import embeddings

    calls: list[float] = []

    def encode_batch(sam, batch, precision="fp32", attention="sdpa"):
        calls.append(time.monotonic())
        time.sleep(0.1)
        return np.zeros((batch.shape[0], 256, 64, 64), np.float32)

    monkeypatch.setattr(embeddings, "encode_batch", encode_batch)
    return calls
