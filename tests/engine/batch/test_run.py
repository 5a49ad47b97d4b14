"""A batch end to end on Dask: resume after cancel, a worker killed mid-run, valid OME-Zarr output."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import tifffile

from sambridge_server.engine.batch import BatchSpec, ChunkStore, execute_batch, plan_batch, read_labels
from sambridge_server.engine.errors import Cancelled, InvalidInput

from .conftest import draw_mosaic

SPEC = dict(method="threshold", params=(("threshold", 500.0),), chunk_size=256, overlap=48)


@pytest.fixture(scope="module")
def mosaic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    image = draw_mosaic(side=2048, seam=256, seed=1)
    tifffile.imwrite(root / "mosaic.tif", image, tile=(256, 256))
    tifffile.imwrite(root / "stack.tif", np.stack([image[:512, :512], image[512:1024, :512]]),
                     metadata={"axes": "ZYX"})
    return root


def test_rerun_after_cancel_computes_only_the_missing_chunks(mosaic_root, executor):
    spec = BatchSpec(inputs=("mosaic.tif",), output="resume.zarr", **SPEC)
    plan = plan_batch(spec, [mosaic_root])
    total = len(plan.tasks)
    assert total == 64
    seen = []
    with pytest.raises(Cancelled):
        execute_batch(plan, executor, "first", progress=seen.append,
                      cancelled=lambda: bool(seen) and seen[-1].done >= 10)
    assert not (mosaic_root / "resume.zarr").exists()  # nothing published
    store = ChunkStore(plan.store)
    done_before = sum(store.done(task.key) is not None for task in plan.tasks)
    assert 10 <= done_before < total
    result = execute_batch(plan_batch(spec, [mosaic_root]), executor, "second")
    # chunks still running when the first run was cancelled may finish meanwhile: they count as reused
    assert result.computed + result.reused == total
    assert result.reused >= done_before and result.computed <= total - done_before
    assert result.computed == sum(1 for p in plan.store.glob("*.json")) - result.reused
    again = execute_batch(plan_batch(spec, [mosaic_root]), executor, "third")
    assert (again.computed, again.reused) == (0, total)


def test_killing_a_worker_mid_run_gives_the_same_output(mosaic_root, executor):
    reference = execute_batch(plan_batch(BatchSpec(inputs=("mosaic.tif",), output="calm.zarr", **SPEC),
                                         [mosaic_root]), executor, "calm")
    expected = read_labels(mosaic_root / "calm.zarr", "mosaic")
    pids = executor.worker_pids()
    killed = []

    def kill_one(progress) -> None:
        if progress.done >= 6 and not killed:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    # a different chunk size: nothing is reused from the calm run's records
    spec = BatchSpec(inputs=("mosaic.tif",), output="killed.zarr", **{**SPEC, "overlap": 40})
    plan = plan_batch(spec, [mosaic_root])
    result = execute_batch(plan, executor, "killed", progress=kill_one)
    # chunks the killed worker recorded before their results reached the scheduler are found done
    # (how many depends on how many it had in flight); every other chunk is computed once
    assert killed and result.computed + result.reused == len(plan.tasks) == 64 and result.reused < 16
    labels = read_labels(mosaic_root / "killed.zarr", "mosaic")
    fg = expected > 0
    assert np.array_equal(labels > 0, fg)
    pairs = np.unique(np.stack([labels[fg], expected[fg]]).astype(np.int64), axis=1)
    assert pairs.shape[1] == reference.n_objects == result.n_objects
    assert killed[0] not in executor.worker_pids().values()  # the nanny started a new worker


def test_output_is_valid_ome_zarr_with_a_table(mosaic_root, executor):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Multiscales, Reader

    spec = BatchSpec(inputs=("stack.tif",), output="stack.zarr", **{**SPEC, "chunk_size": 4096})
    result = execute_batch(plan_batch(spec, [mosaic_root]), executor, "stack")
    nodes = list(Reader(parse_url(str(mosaic_root / "stack.zarr" / "stack" / "labels" / "segmentation")))())
    specs = [type(s) for s in nodes[0].specs]
    assert Label in specs and Multiscales in specs
    meta = json.loads((mosaic_root / "stack.zarr/stack/labels/segmentation/zarr.json").read_text())["attributes"]
    assert [a["name"] for a in meta["ome"]["multiscales"][0]["axes"]] == ["z", "y", "x"]
    assert "image-label" in meta["ome"]
    level0 = np.asarray(nodes[0].data[0])
    assert level0.shape == (2, 512, 512) and level0.dtype == np.uint32
    assert len(nodes[0].data) == 2  # 512 -> 256
    import csv

    rows = list(csv.DictReader(open(result.tables[0])))
    assert len(rows) == result.n_objects == len(np.unique(level0)) - 1
    first = rows[0]
    ys, xs = np.nonzero(level0[int(first["plane"])] == int(first["id"]))
    assert int(first["area"]) == len(ys) and float(first["centroid_y"]) == pytest.approx(ys.mean(), abs=1e-3)
    assert (int(first["y0"]), int(first["x1"])) == (ys.min(), xs.max() + 1)


def test_bad_requests_fail_before_any_work(mosaic_root):
    with pytest.raises(InvalidInput, match="threshold"):
        plan_batch(BatchSpec(inputs=("mosaic.tif",), output="x.zarr", method="threshold"), [mosaic_root])
    with pytest.raises(InvalidInput, match="unknown batch method"):
        plan_batch(BatchSpec(inputs=("mosaic.tif",), output="x.zarr", method="magic"), [mosaic_root])
    with pytest.raises(InvalidInput, match="outside"):
        plan_batch(BatchSpec(inputs=("mosaic.tif",), output="/etc/x.zarr", **SPEC), [mosaic_root])
    (mosaic_root / "taken.zarr").mkdir()
    with pytest.raises(InvalidInput, match="not written by a batch"):
        plan_batch(BatchSpec(inputs=("mosaic.tif",), output="taken.zarr", **SPEC), [mosaic_root])
    with pytest.raises(InvalidInput, match="overlap"):
        plan_batch(BatchSpec(inputs=("mosaic.tif",), output="x.zarr", **{**SPEC, "overlap": 300}), [mosaic_root])
