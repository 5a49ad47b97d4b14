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
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import Cancelled
from .executor import DaskExecutor
from ..job_queue import QUEUED, RUNNING, SUCCEEDED, JobQueue
from .run import BatchPlan, BatchProgress, BatchSpec, execute_batch

log = logging.getLogger("sambridge.batch")


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


class BatchManager(JobQueue[BatchJob]):
    """Queue of batch jobs run in a daemon thread on a ``DaskExecutor``."""

    kind = "batch job"
    quiet_fields = frozenset({"chunks_done", "computed", "reused"})

    def __init__(self, planner: Planner, executor: DaskExecutor, directory: str | Path | None = None) -> None:
        """Jobs are planned by ``planner``, run on ``executor`` and persisted in ``directory``."""
        super().__init__(BatchJob, directory)
        self.planner = planner
        self.executor = executor
        self.resume()

    # -- public API ------------------------------------------------------------------
    def submit(self, spec: BatchSpec, image_ids: Sequence[str] = (), owner: str = "") -> BatchJob:
        """Plan (validating; InvalidInput / NotFound) and queue a job owned by ``owner``."""
        plan = self.planner(spec, tuple(image_ids))
        job = BatchJob(uuid.uuid4().hex[:12], spec, tuple(image_ids), owner=owner, chunks_total=len(plan.tasks),
                       output=str(plan.output or ""))
        (self.directory / job.job_id).mkdir(parents=True)
        return self._add(job, payload=plan)

    # -- the worker ----------------------------------------------------------------------
    def _run(self, job_id: str) -> None:
        job, live = self.get(job_id), self._live[job_id]
        if live.cancel.is_set():
            raise Cancelled("cancelled")
        self._update(job_id, state=RUNNING, message="planning")
        plan = live.payload or self.planner(job.spec, job.image_ids)
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
