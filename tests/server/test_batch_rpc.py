"""BatchService over the wire: a folder of real images equals per-image AutoSegment, CLI, errors, cancel."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import tifffile
import torch

from sambridge import Client, SamBridgeError
from sambridge.cli import main as cli_main
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.automatic.ais_decoder import AISDecoder
from sambridge_server.engine.batch import read_labels
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint


@pytest.fixture(scope="module")
def batch_server(tmp_path_factory, hela_movie):
    """A server with a tiny AIS model, a data root holding a folder of real HeLa frames, one Dask worker."""
    from tests.conftest import start_local_server

    root = tmp_path_factory.mktemp("data")
    (root / "hela").mkdir()
    frames = [np.ascontiguousarray(hela_movie[t, 200:456, 300:556]) for t in (0, 7)]
    for t, frame in zip((0, 7), frames):
        tifffile.imwrite(root / "hela" / f"frame_{t:02d}.tif", frame)
    path = tmp_path_factory.mktemp("ais") / "tiny_ais.pt"
    torch.manual_seed(5)
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=5), path, decoder_state=AISDecoder().state_dict(),
                    fmt="micro_sam", sam_prefix=True)
    config = ServerConfig(port=0, precision="bf16", models=[ModelSource(path=path, name="ais")], data_roots=[root],
                          dask_workers=1, device="cpu")
    server, workspace, address = start_local_server(config)
    yield workspace, address, root, frames
    server.stop(grace=0)
    workspace.batch.executor.close()


def same_up_to_renumbering(a: np.ndarray, b: np.ndarray) -> bool:
    if not np.array_equal(a > 0, b > 0):
        return False
    fg = a > 0
    pairs = np.unique(np.stack([a[fg], b[fg]]).astype(np.int64), axis=1)
    return pairs.shape[1] == len(np.unique(a[fg])) == len(np.unique(b[fg]))


AMG = dict(points_per_side=3, pred_iou_thresh=0.0, stability_score_thresh=0.0)


def test_folder_batch_equals_per_image_auto_segment(batch_server):
    _, address, root, frames = batch_server
    stages = set()
    with Client(address, timeout=300) as client:
        job = client.batch(["hela"], "hela.zarr", method="amg", model="ais",
                           progress=lambda stage, done, total: stages.add(stage), **AMG)
        assert job.state == "SUCCEEDED", job.message
        assert (job.chunks_total, job.chunks_computed, job.chunks_reused) == (2, 2, 0)
        expected = [client.auto_segment(frame, method="amg", model="ais", **AMG) for frame in frames]
    assert "chunks" in stages
    for t, labels in zip((0, 7), expected):
        assert labels.max() > 0
        assert same_up_to_renumbering(read_labels(root / "hela.zarr", f"frame_{t:02d}"), labels)
    rows = list(csv.DictReader(open(root / "hela.zarr" / "objects.csv")))
    assert len(rows) == job.n_objects == sum(len(np.unique(e)) - 1 for e in expected)


def test_ais_batch_of_an_uploaded_image_equals_auto_segment(batch_server):
    _, address, root, frames = batch_server
    with Client(address, timeout=300) as client:
        job = client.batch([frames[1]], "ais.zarr", method="ais", model="ais", min_size=0)
        expected = client.auto_segment(frames[1], method="ais", model="ais", min_size=0)
    name = next(p.name for p in (root / "ais.zarr").iterdir() if p.is_dir())
    assert expected.max() > 0 and job.n_objects == len(np.unique(expected)) - 1
    assert same_up_to_renumbering(read_labels(root / "ais.zarr", name), expected)


def test_cli_batch_and_its_one_line_errors(batch_server, capsys):
    _, address, root, _ = batch_server
    status = cli_main(["--address", address, "batch", "hela/*.tif", "-o", "cli.zarr", "--method", "threshold",
                       "--param", "threshold=3000"])
    out = capsys.readouterr()
    assert status == 0, out.err
    job = json.loads(out.out.strip().splitlines()[-1])
    assert job["state"] == "SUCCEEDED" and (root / "cli.zarr" / "frame_07" / "labels").is_dir()
    local = root.parent / "local.tif"  # a client-side file, uploaded
    tifffile.imwrite(local, tifffile.imread(root / "hela" / "frame_00.tif"))
    assert cli_main(["--address", address, "batch", str(local), "--upload", "-o", "up.zarr", "--method",
                     "threshold", "--param", "threshold=3000"]) == 0
    uploaded = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = list(csv.DictReader(open(root / "cli.zarr" / "objects.csv")))
    assert uploaded["n_objects"] == sum(row["input"] == "frame_00" for row in rows) > 0
    assert cli_main(["--address", address, "batch", "hela"]) == 2  # no -o
    assert cli_main(["--address", address, "batch", "hela", "-o", "x.zarr", "--method", "threshold",
                     "--param", "threshold"]) == 2
    assert cli_main(["--address", address, "batch", "../etc", "-o", "x.zarr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "outside the allowed roots" in err[-1]


def test_bad_requests_are_clear_statuses(batch_server):
    _, address, _, _ = batch_server
    with Client(address, timeout=60) as client:
        for kwargs, code in ((dict(inputs=["/etc/passwd"], output="x.zarr"), "INVALID_ARGUMENT"),
                             (dict(inputs=["missing.tif"], output="x.zarr"), "NOT_FOUND"),
                             (dict(inputs=["hela"], output="x.zarr", method="ais", model="nope"), "NOT_FOUND"),
                             (dict(inputs=["hela"], output="x.zarr", chunk_size=10), "INVALID_ARGUMENT")):
            with pytest.raises(SamBridgeError) as err:
                client.batch(wait=False, **kwargs)
            assert err.value.code.name == code, kwargs
        with pytest.raises(SamBridgeError) as err:
            client.cancel_batch("0123456789ab")
        assert err.value.code.name == "NOT_FOUND"


def test_uploaded_images_cancel_and_list(batch_server):
    _, address, root, frames = batch_server
    with Client(address, timeout=60) as client, Client(address, timeout=60) as other:
        job = client.batch([frames[0]], "uploaded.zarr", method="threshold", threshold=3000.0)
        assert job.state == "SUCCEEDED" and job.n_objects > 0
        queued = client.batch(["hela"], "cancelled.zarr", method="ais", model="ais", wait=False)
        stopped = client.cancel_batch(queued)
        assert stopped.state in ("CANCELLED", "RUNNING")
        final = [e["job"] for e in client.watch_batch(queued) if "job" in e][-1]
        assert final.state in ("CANCELLED", "SUCCEEDED")
        assert {j.job_id for j in client.batch_jobs()} >= {job.job_id, queued.job_id}
        assert other.batch_jobs() == []  # jobs are private to their caller
