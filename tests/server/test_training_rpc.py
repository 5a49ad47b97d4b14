"""TrainingService end to end: jobs run, report progress, register their model, cancel, resume."""

from __future__ import annotations

import json
import shutil
import time

import grpc
import numpy as np
import pytest
import torch

from sambridge import Client, SamBridgeError
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.training.data import synthetic_nuclei
from sambridge_server.engine.workspace import Workspace

# Tiny patches keep a step well under a second on a busy 2-core machine.
TINY = dict(patch_size=64, ais_patch_size=64, n_objects_per_batch=2, n_sub_iterations=2, steps_per_epoch=2,
            validation_patches=1, lr=1e-3)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Single-threaded torch: faster for tiny models and on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def server(start_server, tiny_checkpoint, tmp_path):
    """(workspace, address) of a fresh server with a cache dir and tiny training overrides."""
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                          cache_dir=tmp_path / "cache")
    _, workspace, address = start_server(config)
    workspace.jobs.config_overrides = dict(TINY)
    return workspace, address


def _pairs(n: int = 2, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [synthetic_nuclei((64, 64), 4, rng, radius=(6.0, 10.0)) for _ in range(n)]


def test_job_survives_disconnect_reports_progress_and_serves_its_model(server):
    _, address = server
    with Client(address, timeout=60) as starter:
        job = starter.train("trained", _pairs(), base_model="tiny", epochs=2, validation_fraction=0.5)
    assert job.state == "QUEUED" and job.job_id
    # the client that started the job is gone; another one of the same session (e.g. the CLI in
    # another process) follows it to the end
    with Client(address, timeout=60, session=starter.session) as watcher:
        events = list(watcher.watch(job))
        progress = [e["progress"] for e in events if "progress" in e]
        final = [e["job"] for e in events if "job" in e][-1]
        assert final.state == "SUCCEEDED", final.message
        assert final.step == 4 and final.epoch == 2
        assert [p["step"] for p in progress if p["losses"]][-1] == 4
        assert "loss" in progress[0]["losses"] and progress[0]["total_steps"] == 4
        assert any(not np.isnan(p["val_msa"]) for p in progress)  # validation ran
        assert "trained" in [m["name"] for m in watcher.models()]
        assert [j.job_id for j in watcher.jobs()] == [job.job_id]
        image = _pairs(1, seed=3)[0][0]
        mask = watcher.segment(image, box=(10, 10, 40, 40), model="trained")
        assert np.asarray(mask).shape[-2:] == image.shape


def test_lr_steps_and_patch_size_come_from_the_request(start_server, tiny_checkpoint, tmp_path):
    # Server overrides without lr / steps_per_epoch / patch_size: those come from the request.
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                          cache_dir=tmp_path / "cache")
    _, workspace, address = start_server(config)
    workspace.jobs.config_overrides = {k: v for k, v in TINY.items() if k not in ("lr", "steps_per_epoch",
                                                                               "patch_size")}
    with Client(address, timeout=60) as client:
        job = client.train("fields", _pairs(), base_model="tiny", epochs=1, validation_fraction=0.0, lr=2e-3,
                           steps_per_epoch=3, patch_size=256, freeze_encoder=True)
        events = list(client.watch(job))
    final = [e["job"] for e in events if "job" in e][-1]
    assert final.state == "SUCCEEDED", final.message
    assert final.step == 3
    progress = [e["progress"] for e in events if "progress" in e]
    assert progress and progress[-1]["total_steps"] == 3
    assert all(p["lr"] == pytest.approx(2e-3) for p in progress)  # a float on the wire
    run_config = json.loads((workspace.jobs.directory / job.job_id / "run" / "config.json").read_text())
    assert run_config["patch_size"] == 256 and run_config["steps_per_epoch"] == 3
    assert run_config["freeze_encoder"] is True
    # The frozen encoder came out unchanged; the mask decoder learned.
    base, trained = workspace.models.get("tiny").sam, workspace.models.get("fields").sam
    for key, value in base.image_encoder.state_dict().items():
        torch.testing.assert_close(trained.image_encoder.state_dict()[key], value)
    assert not torch.equal(trained.mask_decoder.output_upscaling[0].weight, base.mask_decoder.output_upscaling[0].weight)


def test_cancel_stops_a_running_job_within_seconds(server):
    _, address = server
    with Client(address, timeout=60) as client:
        job = client.train("long", _pairs(), base_model="tiny", epochs=1000)
        for event in client.watch(job):
            if "progress" in event:
                break
        started = time.monotonic()
        client.cancel_job(job)
        while not client.job(job).done:
            assert time.monotonic() - started < 15
            time.sleep(0.1)
        assert client.job(job).state == "CANCELLED"
        assert "long" not in [m["name"] for m in client.models()]


def test_jobs_belong_to_their_creator_unless_admin(start_server, tiny_checkpoint, tmp_path):
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                          cache_dir=tmp_path / "cache", admin_token="r00t")
    _, workspace, address = start_server(config)
    workspace.jobs.config_overrides = dict(TINY)
    with Client(address, timeout=60) as alice, Client(address, timeout=60) as bob, \
            Client(address, timeout=60, token="r00t") as admin:
        job = alice.train("alices", _pairs(), base_model="tiny", epochs=1000)
        assert [j.job_id for j in alice.jobs()] == [job.job_id] and bob.jobs() == []
        for attempt in (bob.job, bob.cancel_job, lambda j: list(bob.watch(j))):
            with pytest.raises(SamBridgeError) as err:
                attempt(job)
            assert err.value.code == grpc.StatusCode.NOT_FOUND and "unknown job" in err.value.details
        assert alice.job(job).state in ("QUEUED", "RUNNING")  # Bob's cancel did nothing
        with Client(address, timeout=60, session=alice.session) as again:  # Alice from another process
            assert again.job(job).job_id == job.job_id
        assert [j.job_id for j in admin.jobs()] == [job.job_id]
        admin.cancel_job(job)
        started = time.monotonic()
        while not alice.job(job).done:
            assert time.monotonic() - started < 15
            time.sleep(0.1)
        assert alice.job(job).state == "CANCELLED"
    # The owner is kept with the job (as a key, never the session secret): a restarted server
    # still shows the job to its owner only.
    owner = json.loads((workspace.jobs.directory / job.job_id / "job.json").read_text())["owner"]
    assert owner and alice.session not in owner
    restarted = Workspace(config)
    assert [r.job_id for r in restarted.jobs.list(owner)] == [job.job_id]
    assert restarted.jobs.list("someone else") == []


def test_bad_requests_get_clear_errors(server):
    _, address = server
    image, labels = _pairs(1)[0]
    with Client(address, timeout=60) as client:
        with pytest.raises(SamBridgeError) as err:
            client.train("a", [(image, labels[:32])], base_model="tiny")
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "shape" in str(err.value)
        with pytest.raises(SamBridgeError) as err:
            client.train("b", [(image, np.zeros_like(labels))], base_model="tiny")
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "no objects" in str(err.value)
        with pytest.raises(SamBridgeError) as err:
            client.train("c", [(image, labels)], base_model="nope")
        assert err.value.code == grpc.StatusCode.NOT_FOUND and "tiny" in str(err.value)
        with pytest.raises(SamBridgeError) as err:
            client.train("tiny", [(image, labels)], base_model="tiny")
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        for bad in (dict(output_model="../escape"), dict(output_model="d", lora_rank=2**31 - 1)):
            with pytest.raises(SamBridgeError) as err:
                client.train(pairs=[(image, labels)], **{"base_model": "tiny", **bad})
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        for bad in (dict(lr=-1e-3), dict(lr=float("nan")), dict(patch_size=40), dict(patch_size=2048),
                    dict(steps_per_epoch=-1)):
            with pytest.raises(SamBridgeError) as err:
                client.train("e", [(image, labels)], base_model="tiny", **bad)
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT, bad
            assert next(iter(bad)) in str(err.value) or "patch sizes" in str(err.value), err.value
        with pytest.raises(SamBridgeError) as err:
            client.job("no-such-job")
        assert err.value.code == grpc.StatusCode.NOT_FOUND
        assert client.jobs() == []


def test_unfinished_job_resumes_after_a_restart(tiny_checkpoint, tmp_path):
    """A copy of the job folder taken mid-run is what a kill -9 leaves behind."""
    config = ServerConfig(models=[ModelSource(path=tiny_checkpoint, name="tiny")], cache_dir=tmp_path / "a")
    first = Workspace(config)
    first.jobs.config_overrides = dict(TINY)
    from sambridge_server.engine.training.jobs import JobSpec

    record = first.jobs.submit(JobSpec("resumed", base_model="tiny", epochs=4), _pairs())
    run_dir = first.jobs.directory / record.job_id / "run"
    deadline = time.monotonic() + 60
    while not (run_dir / "train_state.pt").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    shutil.copytree(tmp_path / "a" / "jobs", tmp_path / "b" / "jobs")
    first.jobs.cancel(record.job_id)
    first.jobs.wait(record.job_id, timeout=30)

    second = Workspace(ServerConfig(models=config.models, cache_dir=tmp_path / "b"))
    second.jobs.config_overrides = dict(TINY)
    final = second.jobs.wait(record.job_id, timeout=60)
    assert final.state == "SUCCEEDED", final.message
    assert final.step == 8
    steps = [line.split(",")[0] for line in (tmp_path / "b" / "jobs" / record.job_id / "run" / "curves.csv")
             .read_text().splitlines()[1:] if line.split(",")[2]]  # training rows (lr filled)
    assert steps == [str(s) for s in range(1, 9)][: len(steps)] and len(steps) == len(set(steps))
    assert "resumed" in [m.name for m in second.models.list()]
