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


CORE_PURITY = REPO / "java_bridge" / "check_core_purity.sh"


@pytest.mark.parametrize("line", ["import ij.ImagePlus;", "import java.awt.image.BufferedImage;",
                                  "import javax.swing.JFrame;", "private ij.process.ImageProcessor ip;"])
def test_core_purity_check_rejects_imagej_and_awt(tmp_path, line):
    """The build fails when client-core (the jar QuPath users carry) mentions ImageJ, AWT or Swing."""
    source = tmp_path / "org" / "sambridge" / "client" / "Leak.java"
    source.parent.mkdir(parents=True)
    source.write_text(f"package org.sambridge.client;\n{line}\n/** see org.sambridge.ij.convert */\nclass Leak {{}}\n")
    result = subprocess.run(["bash", str(CORE_PURITY), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Leak.java:2" in result.stderr


def test_client_core_is_free_of_imagej_and_awt():
    result = subprocess.run(["bash", str(CORE_PURITY)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _require_java_build() -> None:
    if BUILD.exists() and shutil.which("xvfb-run"):
        return
    if os.environ.get("CI"):
        pytest.fail("the Java bridge is not built (java_bridge/ci.sh must run before the tests in CI)")
    pytest.skip("Java bridge not built; run java_bridge/ci.sh")


def _areas(labels: np.ndarray) -> list[int]:
    """Object areas in label order."""
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return [int(c) for c in counts]


def _java_areas(step: dict) -> list[int]:
    """Object areas in name order: the plugin numbers objects per image, continuing across calls
    (SAM-0001.. for the first call, then on), in the order of the server's labels."""
    return [step["areas"][name] for name in sorted(step["areas"])]


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
    assert _java_areas(summary["points"]) == _areas(points_labels)
    assert _java_areas(summary["box"]) == _areas(masks[0])
    assert summary["ais"]["roi_count"] == len(np.unique(ais_labels)) - 1
    assert _java_areas(summary["ais"]) == _areas(ais_labels)
    names = sorted(summary["points"]["areas"]) + sorted(summary["box"]["areas"]) + sorted(summary["ais"]["areas"])
    assert len(set(names)) == len(names), "names must continue across calls"
    assert names[0] == "SAM-0001"

    # real windows: click-segment-click, multimask picker, Track positions, recorder without token
    gui = json.loads((out / "imagej_gui.json").read_text())
    assert gui["ok"], gui["problems"]
    assert "java-secret" not in gui["recorded"] and "Connect" in gui["recorded"]
    assert gui["click_loop_names"] == "[SAM-0001, SAM-0002, SAM-0003]"
    assert gui["track_frames"] == "[1, 2, 3]"
