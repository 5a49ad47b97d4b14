"""Batch jobs: a job the server was running when it stopped resumes on restart, computing only what is missing."""

from __future__ import annotations

import json

import tifffile

from sambridge_server.engine.batch import BatchManager, BatchSpec, plan_batch

from .conftest import draw_mosaic

SPEC = BatchSpec(inputs=("mosaic.tif",), output="out.zarr", method="threshold", params=(("threshold", 500.0),),
                 chunk_size=256, overlap=32)


def test_a_restarted_server_resumes_its_running_jobs(tmp_path, executor):
    tifffile.imwrite(tmp_path / "mosaic.tif", draw_mosaic(side=1024, seam=256, seed=2))

    def planner(spec, image_ids):
        return plan_batch(spec, [tmp_path])

    first = BatchManager(planner, executor, tmp_path / "jobs")
    job = first.submit(SPEC, owner="alice")
    done = first.wait(job.job_id, timeout=120)
    assert done.state == "SUCCEEDED" and done.computed == 16 and done.n_objects > 0
    # as if the server had died mid-job: the job file still says RUNNING, a few chunk records are gone
    path = tmp_path / "jobs" / job.job_id / "job.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "state": "RUNNING"}))
    records = sorted((tmp_path / "out.zarr.chunks").glob("*.json"))
    for record in records[:3]:
        record.unlink()
    second = BatchManager(planner, executor, tmp_path / "jobs")
    resumed = second.wait(job.job_id, timeout=120)
    assert resumed.state == "SUCCEEDED"
    assert (resumed.computed, resumed.reused, resumed.n_objects) == (3, 13, done.n_objects)
    assert second.list("bob") == [] and [j.job_id for j in second.list("alice")] == [job.job_id]
