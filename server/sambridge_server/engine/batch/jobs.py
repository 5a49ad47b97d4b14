"""Batch jobs: planned at once (bad requests fail the call), run one at a time, outliving calls.

Each job lives in ``<directory>/<job_id>/job.json`` (spec, owner, state; rewritten atomically on
every change). A server that starts on the same directory queues every job that was QUEUED or
RUNNING again; its done chunks are found by their records, so it continues where it stopped.
Ownership is the training jobs' rule: a caller sees, watches and cancels its own jobs;
``viewer=None`` (the server, an admin) sees all.
"""

from __future__ import annotations

import json
import logging
import queue
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import Cancelled, NotFound
from .executor import DaskExecutor
from ..files import write_atomically
from .run import BatchPlan, BatchProgress, BatchSpec, execute_batch

log = logging.getLogger("sambridge.batch")

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
TERMINAL = (SUCCEEDED, FAILED, CANCELLED)

Planner = Callable[[BatchSpec, Sequence[str]], BatchPlan]  # (spec, uploaded image ids) -> plan


@dataclass
class BatchJob:
    """A batch job's persisted state."""

    job_id: str
    spec: BatchSpec
    image_ids: tuple[str, ...] = ()
    state: str = QUEUED
    message: str = ""
    owner: str = ""
    created: float = field(default_factory=time.time)
    chunks_total: int = 0
    chunks_done: int = 0
    computed: int = 0
    reused: int = 0
    n_objects: int = 0
    output: str = ""
    tables: tuple[str, ...] = ()

    def to_json(self) -> str:
        """JSON text of the job."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "BatchJob":
        """Inverse of ``to_json``."""
        values = json.loads(text)
        spec = values["spec"]
        for name in ("inputs", "params"):
            spec[name] = tuple(tuple(v) if isinstance(v, list) else v for v in spec[name])
        for name in ("tile_shape", "halo"):
            spec[name] = tuple(spec[name]) if spec[name] is not None else None
        values["spec"] = BatchSpec(**spec)
        values["image_ids"], values["tables"] = tuple(values["image_ids"]), tuple(values["tables"])
        return cls(**values)


@dataclass
class _Live:
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: BatchProgress | None = None
    version: int = 0
    plan: BatchPlan | None = None


class BatchManager:
    """Queue of batch jobs run in a daemon thread on a ``DaskExecutor``."""

    def __init__(self, planner: Planner, executor: DaskExecutor, directory: str | Path | None = None) -> None:
        """Jobs are planned by ``planner``, run on ``executor`` and persisted in ``directory``."""
        self.planner = planner
        self.executor = executor
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="sambridge-batch-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, BatchJob] = {}
        self._live: dict[str, _Live] = {}
        self._changed = threading.Condition()
        self._disk = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._restore()

    # -- public API ------------------------------------------------------------------
    def submit(self, spec: BatchSpec, image_ids: Sequence[str] = (), owner: str = "") -> BatchJob:
        """Plan (validating; InvalidInput / NotFound) and queue a job owned by ``owner``."""
        plan = self.planner(spec, tuple(image_ids))
        job = BatchJob(uuid.uuid4().hex[:12], spec, tuple(image_ids), owner=owner, chunks_total=len(plan.tasks),
                       output=str(plan.output or ""))
        (self.directory / job.job_id).mkdir(parents=True)
        with self._changed:
            self._jobs[job.job_id] = job
            self._live[job.job_id] = _Live(plan=plan)
        self._persist(job.job_id)
        snapshot = replace(job)
        self._enqueue(job.job_id)
        return snapshot

    def get(self, job_id: str, viewer: str | None = None) -> BatchJob:
        """A snapshot of the job (NotFound for unknown ids and for jobs ``viewer`` may not see)."""
        with self._changed:
            job = self._jobs.get(job_id)
            if job is None or not (viewer is None or not job.owner or job.owner == viewer):
                raise NotFound(f"unknown batch job '{job_id}'")
            return replace(job)

    def list(self, viewer: str | None = None) -> list[BatchJob]:
        """Snapshots of the jobs ``viewer`` may see (None: all), oldest first."""
        with self._changed:
            jobs = [replace(j) for j in self._jobs.values() if viewer is None or not j.owner or j.owner == viewer]
        return sorted(jobs, key=lambda j: j.created)

    def cancel(self, job_id: str, viewer: str | None = None) -> BatchJob:
        """Stop a job: a queued one at once, a running one within a poll (its futures are cancelled)."""
        job = self.get(job_id, viewer)
        self._live[job_id].cancel.set()
        if job.state == QUEUED:
            self._update(job_id, state=CANCELLED, message="cancelled before it started")
        return self.get(job_id)

    def watch(self, job_id: str, viewer: str | None = None, stopped: Callable[[], bool] | None = None,
              poll_s: float = 1.0) -> Iterator[tuple[str, Any]]:
        """Yield ("job", BatchJob) on state changes and ("progress", BatchProgress) as chunks finish,
        until the job ends or ``stopped()``; slow watchers see the latest progress only."""
        self.get(job_id, viewer)
        seen, last_job, last_progress = -1, None, None
        while True:
            with self._changed:
                live = self._live[job_id]
                if live.version == seen and not (stopped and stopped()):
                    self._changed.wait(timeout=poll_s)
                if stopped and stopped():
                    return
                job, progress, seen = replace(self._jobs[job_id]), live.progress, live.version
            if progress is not None and progress is not last_progress:
                last_progress = progress
                yield "progress", progress
            key = (job.state, job.message)
            if key != last_job:
                last_job = key
                yield "job", job
            if job.state in TERMINAL:
                return

    def wake(self) -> None:
        """Wake every watcher (so those whose caller left notice at once)."""
        with self._changed:
            self._changed.notify_all()

    def wait(self, job_id: str, timeout: float | None = None) -> BatchJob:
        """Block until the job ends (or ``timeout``); returns it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._jobs[job_id].state not in TERMINAL:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(timeout=left)
            return replace(self._jobs[job_id])

    # -- persistence -------------------------------------------------------------------
    def _persist(self, job_id: str) -> None:
        with self._disk:
            with self._changed:
                text = self._jobs[job_id].to_json()
            write_atomically(self.directory / job_id / "job.json", text.encode())

    def _update(self, job_id: str, progress: BatchProgress | None = None, **changes) -> None:
        with self._changed:
            job = self._jobs[job_id]
            for key, value in changes.items():
                setattr(job, key, value)
        # On disk before anyone is told: a watcher that saw a state finds it in job.json too.
        if changes and set(changes) != {"chunks_done", "computed", "reused"}:
            self._persist(job_id)
        with self._changed:
            live = self._live[job_id]
            if progress is not None:
                live.progress = progress
            live.version += 1
            self._changed.notify_all()

    def _restore(self) -> None:
        for path in sorted(self.directory.glob("*/job.json")):
            try:
                job = BatchJob.from_json(path.read_text())
            except (ValueError, TypeError, KeyError) as error:
                log.warning("ignoring unreadable batch job file %s: %s", path, error)
                continue
            self._jobs[job.job_id] = job
            self._live[job.job_id] = _Live()
            if job.state in (QUEUED, RUNNING):
                self._update(job.job_id, state=QUEUED, message="resuming after a server restart")
                self._enqueue(job.job_id)

    # -- the worker thread -----------------------------------------------------------------
    def _enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="sambridge-batch", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if self.get(job_id).state != QUEUED:
                continue
            try:
                self._run(job_id)
            except Cancelled:
                self._update(job_id, state=CANCELLED, message="cancelled")
            except Exception as error:  # noqa: BLE001 - a failed job must not stop the queue
                log.exception("batch job %s failed", job_id)
                self._update(job_id, state=FAILED, message=f"{type(error).__name__}: {error}")

    def _run(self, job_id: str) -> None:
        job, live = self.get(job_id), self._live[job_id]
        if live.cancel.is_set():
            raise Cancelled("cancelled")
        self._update(job_id, state=RUNNING, message="planning")
        plan = live.plan or self.planner(job.spec, job.image_ids)
        self._update(job_id, message=f"computing {len(plan.tasks)} chunks", chunks_total=len(plan.tasks))

        def on_progress(progress: BatchProgress) -> None:
            changes = {"computed": progress.computed, "reused": progress.reused}
            if progress.stage == "chunks":
                changes["chunks_done"] = progress.done
            self._update(job_id, progress=progress, **changes)

        result = execute_batch(plan, self.executor, job_id, on_progress, live.cancel.is_set)
        self._update(job_id, state=SUCCEEDED, chunks_done=result.n_chunks, computed=result.computed,
                     reused=result.reused, n_objects=result.n_objects, output=result.output, tables=result.tables,
                     message=f"finished: {result.n_objects} objects, {result.computed} chunks computed, "
                             f"{result.reused} reused, {result.seconds:.1f} s")
