"""The Java bridge against a live server: Java integration test + a real ImageJ run under Xvfb.

java_bridge/test_live.sh drives the plugin commands through an ImageJ macro and checks its
output files (ROI zips vs label images); this test then replays the same requests with the
Python client and requires identical objects (count and pixel areas per label).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from sambridge import Client
from sambridge_server.app import build_server
from sambridge_server.config import ServerConfig
from sambridge_server.default_model import ensure_default_model
from sambridge_server.engine.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "java_bridge" / "build" / "classpath.txt"


def _require_java_build() -> None:
    if BUILD.exists() and shutil.which("xvfb-run"):
        return
    if os.environ.get("CI"):
        pytest.fail("the Java bridge is not built (java_bridge/ci.sh must run before the tests in CI)")
    pytest.skip("Java bridge not built; run java_bridge/ci.sh")


def _areas(labels: np.ndarray) -> dict[str, int]:
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return {f"SAM-{int(i):04d}": int(c) for i, c in zip(ids, counts)}


@pytest.fixture(scope="module")
def server():
    config = ServerConfig(port=0, token="java-secret", models=[ensure_default_model()], max_image_pixels=10**8)
    workspace = Workspace(config)
    grpc_server, port = build_server(config, workspace)
    grpc_server.start()
    yield f"127.0.0.1:{port}"
    grpc_server.stop(grace=0)


def test_imagej_plugin_matches_python_client(server, tmp_path):
    _require_java_build()
    out = tmp_path / "java"
    env = dict(os.environ, PYTHON=sys.executable)
    result = subprocess.run(["bash", str(REPO / "java_bridge" / "test_live.sh"), server, "java-secret", str(out)],
                            capture_output=True, text=True, timeout=1500, env=env)
    log = result.stdout[-4000:] + result.stderr[-2000:]
    assert (out / "imagej_summary.json").exists(), log
    summary = json.loads((out / "imagej_summary.json").read_text())
    assert summary["ok"], summary["problems"]
    assert result.returncode == 0, log

    image = tifffile.imread(out / "input" / "hela.tif")
    prompts = json.loads((out / "input" / "prompts.json").read_text())
    with Client(server, token="java-secret") as client:
        points_labels = client.segment_objects(image, points=prompts["points"])
        masks, _ = client.segment(image, box=prompts["box"], multimask=True)
        ais_labels = client.auto_segment(image, method="auto")
    assert summary["points"]["areas"] == _areas(points_labels)
    assert summary["box"]["areas"] == _areas(masks[0])
    assert summary["ais"]["roi_count"] == len(np.unique(ais_labels)) - 1
    assert summary["ais"]["areas"] == _areas(ais_labels)
