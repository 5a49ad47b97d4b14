"""BatchService: batch jobs run by the engine's BatchManager on Dask; this module only translates."""

from __future__ import annotations

import grpc

from sambridge.v1 import batch_pb2, batch_pb2_grpc, common_pb2
from sambridge_server.engine.batch import BatchJob, BatchProgress, BatchSpec
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.convert import JOB_STATES
from sambridge_server.servicers.rpc import caller_key, is_admin, unary, watch_job

def job_message(job: BatchJob) -> batch_pb2.BatchJob:
    """Wire form of a batch job."""
    return batch_pb2.BatchJob(
        job_id=job.job_id, state=JOB_STATES[job.state], message=job.message, chunks_total=job.chunks_total,
        chunks_done=job.chunks_done, chunks_computed=job.computed, chunks_reused=job.reused,
        n_objects=job.n_objects, output=job.output, tables=list(job.tables),
    )


def progress_message(progress: BatchProgress) -> batch_pb2.BatchProgress:
    """Wire form of a batch progress report."""
    return batch_pb2.BatchProgress(
        progress=common_pb2.Progress(stage=progress.stage, done=progress.done, total=progress.total),
        chunks_computed=progress.computed, chunks_reused=progress.reused, eta_s=progress.eta_s,
    )


def batch_spec(request: batch_pb2.StartBatchRequest) -> BatchSpec:
    """The engine's BatchSpec of a StartBatch request (0 / empty fields: the defaults)."""
    defaults = BatchSpec()
    tiling = request.tiling
    return BatchSpec(
        inputs=tuple(request.inputs), output=request.output, method=request.method or defaults.method,
        model=request.model, params=tuple(sorted(request.params.items())), level=request.level,
        chunk_size=request.chunk_size or defaults.chunk_size,
        overlap=request.overlap or defaults.overlap,
        auto_3d=request.auto_3d, precision=request.precision,
        tile_shape=tuple(tiling.tile_shape) if len(tiling.tile_shape) == 2 else None,
        halo=tuple(tiling.halo) if len(tiling.halo) == 2 else None, whole_image=tiling.whole_image,
    )


class BatchServicer(batch_pb2_grpc.BatchServiceServicer):
    """Start, watch, cancel and list batch jobs (each the caller's own; all with the admin token)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.jobs = workspace.batch

    def _viewer(self, context: grpc.ServicerContext) -> str | None:
        return None if is_admin(context, self.workspace.config.admin_token) else caller_key(context)

    @unary
    def StartBatch(self, request, context):
        """Validate and plan the batch, queue it; returns the job (QUEUED)."""
        job = self.jobs.submit(batch_spec(request), tuple(request.image_ids), owner=caller_key(context))
        return job_message(job)

    def WatchJob(self, request, context):
        """Stream the job's changes and progress until it ends (or the caller leaves)."""
        return watch_job(context, self.jobs, request.job_id, self._viewer(context),
                         lambda job: batch_pb2.BatchJobEvent(job=job_message(job)),
                         lambda progress: batch_pb2.BatchJobEvent(progress=progress_message(progress)))

    @unary
    def CancelJob(self, request, context):
        """Ask the job to stop; returns its state right after."""
        return job_message(self.jobs.cancel(request.job_id, self._viewer(context)))

    @unary
    def GetJob(self, request, context):
        """The job's current state."""
        return job_message(self.jobs.get(request.job_id, self._viewer(context)))

    @unary
    def ListJobs(self, request, context):
        """The caller's batch jobs (every job for an admin), oldest first."""
        return batch_pb2.ListBatchJobsResponse(jobs=[job_message(j) for j in self.jobs.list(self._viewer(context))])
