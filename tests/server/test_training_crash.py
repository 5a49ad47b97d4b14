"""A training job survives a kill -9 of its server: a new server on the same cache resumes it.

Unlike ``test_training_rpc.test_unfinished_job_resumes_after_a_restart`` (which copies a job
folder), this runs the real server CLI in a subprocess and SIGKILLs it mid-epoch, so whatever a
crash can leave behind (half-written temp files, a job still marked RUNNING, curve rows past the
checkpoint) is what the second server finds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sambridge import Client
from sambridge_server.engine.training.data import synthetic_nuclei

REPO = Path(__file__).resolve().parents[2]
EPOCHS, STEPS_PER_EPOCH = 5, 2  # spare epochs: the kill must land before the end
# Tiny patches and few objects keep a step well under a second on a busy 2-core machine; no
# validation, so an epoch's end is just its checkpoint.
JOB = dict(base_model="tiny", epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, patch_size=64, lr=1e-3,
           n_objects_per_batch=2, validation_fraction=0.0)


class ServerProcess:
    """``python -m sambridge_server`` on a free port, serving the tiny model with a persistent cache."""

    def __init__(self, checkpoint: str, cache_dir: Path, log_path: Path) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1",  # one torch thread: the machine is shared
                   PYTHONPATH=os.pathsep.join([str(REPO / "server"), str(REPO / "python_client")]))
        self._log = open(log_path, "ab")  # a file, not a pipe: a full pipe would block the server
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sambridge_server", "--port", "0", "--checkpoint", checkpoint,
             "--model-name", "tiny", "--cache-dir", str(cache_dir), "--device", "cpu", "--precision", "fp32"],
            stdout=subprocess.PIPE, stderr=self._log, env=env,
        )
        self.log_path = log_path
        self.address = self._address()

    def _address(self) -> str:
        """Read the 'listening on host:port' line the CLI prints once it serves."""
        line = self.process.stdout.readline().decode()  # EOF ("") if the server died first
        if "listening on" not in line:
            self.kill()
            raise AssertionError(f"server did not start: {line!r}\n{self.log_path.read_text()}")
        return "127.0.0.1:" + line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1]

    def kill(self) -> None:
        """SIGKILL: no signal handler, no cleanup, no flushing; what a crash or OOM kill does."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self._log.close()


@pytest.fixture()
def servers(tiny_checkpoint, tmp_path):
    """A function starting server processes on one cache dir; all are killed after the test."""
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        server = ServerProcess(tiny_checkpoint, tmp_path / "cache", tmp_path / "server.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def _pairs(n: int = 2, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [synthetic_nuclei((64, 64), 4, rng, radius=(6.0, 10.0)) for _ in range(n)]


def _train_rows(curves: Path) -> list[int]:
    """Steps of the training rows of a curves CSV, in file order (validation rows have no lr)."""
    rows = [line.split(",") for line in curves.read_text().splitlines()[1:]]
    return [int(row[0]) for row in rows if len(row) > 2 and row[2]]


def test_job_resumes_from_its_checkpoint_after_a_kill_9(servers, tmp_path):
    first = servers()
    with Client(first.address, timeout=60) as starter:
        job = starter.train("survivor", _pairs(), **JOB)
    # The starting client is gone; another one of its session (jobs are private to their
    # creator) follows the job into its second epoch, i.e. past the first checkpoint, and the
    # server dies mid-epoch.
    with Client(first.address, timeout=60, session=starter.session) as watcher:
        for event in watcher.watch(job):
            progress = event.get("progress")
            if progress and progress["losses"] and progress["step"] > STEPS_PER_EPOCH:
                break
            assert not event.get("job", job).done, event
    first.kill()

    run_dir = tmp_path / "cache" / "jobs" / job.job_id / "run"
    counters = torch.load(run_dir / "train_state.pt", map_location="cpu", weights_only=True)["counters"]
    assert counters["epoch"] >= 1 and counters["step"] == counters["epoch"] * STEPS_PER_EPOCH
    assert counters["epoch"] < EPOCHS, "the job finished before the kill; the test proves nothing"

    second = servers()
    with Client(second.address, timeout=60, session=starter.session) as client:
        assert [j.job_id for j in client.jobs()] == [job.job_id]
        events = list(client.watch(job))
        steps = [e["progress"]["step"] for e in events if "progress" in e and e["progress"]["losses"]]
        final = [e["job"] for e in events if "job" in e][-1]
        assert final.state == "SUCCEEDED", f"{final.message}\n{first.log_path.read_text()}"
        assert final.step == EPOCHS * STEPS_PER_EPOCH and final.epoch == EPOCHS
        # Resumed from the checkpoint: the step counter continues after it, not from 1.
        if steps:  # a slow watcher may only see the last progress report
            assert steps[0] > counters["step"] and steps == sorted(steps)
        assert "survivor" in [m["name"] for m in client.models()]
        image = _pairs(1, seed=3)[0][0]
        mask = client.segment(image, box=(10, 10, 40, 40), model="survivor")
        assert np.asarray(mask).shape[-2:] == image.shape

    # The curves tell the same story: rows logged past the checkpoint before the kill were dropped
    # on resume and logged again, so every step appears once, in order.
    assert _train_rows(run_dir / "curves.csv") == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
