"""The Java bridge against a live server: Java integration test + a real ImageJ run under Xvfb.

java_bridge/test_live.sh drives the plugin commands through an ImageJ macro and checks its
output files (ROI zips vs label images); this test then replays the same requests with the
Python client and requires identical objects (count and pixel areas per label).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
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
    model = ensure_default_model()
    config = ServerConfig(port=0, token="java-secret", models=[model], max_image_pixels=10**8,
                          model_roots=[Path(model.path).parent])
    workspace = Workspace(config)
    # Finetune from ImageJ in seconds: tiny patches, two steps (as tests/server/test_training_rpc.py)
    workspace.jobs.config_overrides = dict(patch_size=64, ais_patch_size=64, n_objects_per_batch=2,
                                           n_sub_iterations=1, steps_per_epoch=2, validation_patches=1)
    grpc_server, port = build_server(config, workspace)
    grpc_server.start()
    yield f"127.0.0.1:{port}", Path(model.path).name
    grpc_server.stop(grace=0)


def test_imagej_plugin_matches_python_client(server, tmp_path):
    _require_java_build()
    server, checkpoint = server
    out = tmp_path / "java"
    env = dict(os.environ, PYTHON=sys.executable, LIVE_CHECKPOINT=checkpoint)
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
    # every other command, judged by its output (CapabilityChecks)
    assert gui["auto3d_objects"] > 0 and gui["propagate_all_objects"] > 0
    assert gui["ctc_tracks"] > 0 and (out / "ctc" / "res_track.txt").exists() and (out / "ctc" / "mask002.tif").exists()
    assert gui["load_model"] == "true"
    assert int(gui["finetune_plot_points"]) > 0
    assert "tuned_rois" in gui["finetune_models"] and "tuned_labels" in gui["finetune_models"]
    assert "served: default" in gui["status_log"] and "Not connected" in gui["after_disconnect"]


def _processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line contains marker (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_start_local_server_serves_and_stops_when_imagej_quits(tmp_path):
    """Edit > Options > SAMBridge stores the python; "Start local server" starts sambridge-server from
    it, shows its log, connects (Status answers); after ImageJ quits the server process is gone."""
    _require_java_build()
    home = tmp_path / "imagej"
    (home / "plugins" / "jars").mkdir(parents=True)
    build = REPO / "java_bridge" / "build"
    shutil.copy(build / "SAMBridge_.jar", home / "plugins")
    for jar in (build / "lib").glob("*.jar"):
        shutil.copy(jar, home / "plugins" / "jars")
    cache = tmp_path / "local-server-cache-marker"
    out = tmp_path / "local_server.json"
    classpath = BUILD.read_text().strip()
    result = subprocess.run(["xvfb-run", "-a", "java", "-Xmx1g", f"-Dplugins.dir={home}", f"-Duser.home={home}",
                             "-cp", classpath, "org.sambridge.live.LocalServerGuiTest", sys.executable, str(cache),
                             str(out)], capture_output=True, text=True, timeout=600)
    log = result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary["ok"], (summary["problems"], log)
    assert result.returncode == 0, log  # ImageJ exited through Quit (not the 30 s fallback)
    deadline = time.time() + 15
    while _processes_mentioning(str(cache)) and time.time() < deadline:
        time.sleep(0.5)
    assert not _processes_mentioning(str(cache)), "the local server outlived ImageJ"
    host, port = summary["address"].rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex((host, int(port))) != 0, "something still listens on the local server's port"
