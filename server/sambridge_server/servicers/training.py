"""TrainingService: finetuning jobs run by the engine's JobManager; this module only translates."""

from __future__ import annotations

import math

import grpc
from sambridge.v1 import training_pb2, training_pb2_grpc
from sambridge_server.engine.training.jobs import JobRecord, JobSpec
from sambridge_server.engine.training.config import Progress
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.convert import JOB_STATES
from sambridge_server.servicers.rpc import caller_key, is_admin, unary, watch_job

def job_message(record: JobRecord) -> training_pb2.Job:
    """Wire form of a job record."""
    return training_pb2.Job(
        job_id=record.job_id, state=JOB_STATES[record.state], output_model=record.spec.output_model,
        message=record.message, epoch=record.epoch, step=record.step,
        best_val_msa=record.best_val_msa if record.best_val_msa is not None else math.nan,
        checkpoint_path=record.checkpoint_path,
    )


def progress_message(progress: Progress) -> training_pb2.TrainingProgress:
    """Wire form of a training progress report (val_msa NaN until the first validation)."""
    return training_pb2.TrainingProgress(
        epoch=progress.epoch, step=progress.step, total_steps=progress.total_steps,
        losses={k: float(v) for k, v in progress.losses.items()},
        val_msa=progress.val_msa if progress.val_msa is not None else math.nan, eta_s=progress.eta_s,
        lr=progress.lr,
    )


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    """Start, watch, cancel and list training jobs; jobs outlive the calls that started them.

    A job belongs to the caller that started it: other callers get NOT_FOUND for it and do not
    see it listed, except a caller with the server's admin token (``--admin-token``), who sees
    and cancels every job.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _viewer(self, context: grpc.ServicerContext) -> str | None:
        """Whose jobs the caller sees: its own (its key), or every job (None) with the admin token."""
        return None if is_admin(context, self.workspace.config.admin_token) else caller_key(context)

    @unary
    def StartTraining(self, request, context):
        """Validate the request and queue a job; returns it in state QUEUED."""
        spec = JobSpec(
            output_model=request.output_model, base_model=request.base_model, preset=request.preset or "auto",
            epochs=request.epochs, time_budget_s=request.time_budget_s,
            validation_fraction=request.validation_fraction, lora_rank=request.lora_rank,
            train_decoder=request.train_decoder if request.HasField("train_decoder") else True,
            # Unset optional fields read as 0: "the preset's value" to the engine.
            n_objects_per_batch=request.n_objects_per_batch, lr=request.lr,
            steps_per_epoch=request.steps_per_epoch, patch_size=request.patch_size,
            freeze_encoder=request.freeze_encoder,
        )
        record = self.workspace.start_training(spec, [(p.image_id, p.labels_id) for p in request.pairs],
                                               request.data_dir, owner=caller_key(context))
        return job_message(record)

    def WatchJob(self, request, context):
        """Stream the job's state changes and progress until it ends (or the client leaves).

        A watcher waits on the job's changes, not in a loop; the moment its caller leaves it is
        woken and ends, handing back its thread. (How many watchers may be open at once is
        bounded in servicers/admission.py.)"""
        return watch_job(context, self.workspace.jobs, request.job_id, self._viewer(context),
                         lambda job: training_pb2.JobEvent(job=job_message(job)),
                         lambda progress: training_pb2.JobEvent(progress=progress_message(progress)))

    @unary
    def CancelJob(self, request, context):
        """Ask the job to stop; returns its state right after the request."""
        return job_message(self.workspace.jobs.cancel(request.job_id, self._viewer(context)))

    @unary
    def GetJob(self, request, context):
        """The job's current state."""
        return job_message(self.workspace.jobs.get(request.job_id, self._viewer(context)))

    @unary
    def ListJobs(self, request, context):
        """The caller's jobs (every job for an admin), oldest first."""
        jobs = self.workspace.jobs.list(self._viewer(context))
        return training_pb2.ListJobsResponse(jobs=[job_message(r) for r in jobs])
