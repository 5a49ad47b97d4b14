"""Training jobs: a background worker that outlives clients and server restarts.

Each job lives in ``<directory>/<job_id>/``: ``job.json`` (spec and state, rewritten atomically
on every change), ``data.npz`` (the training pairs, so a restarted server needs no client) and
``run/`` (the trainer's checkpoints, side file and curves). A server that starts on the same
directory re-queues every job that was QUEUED or RUNNING, and training resumes from the run's
last epoch checkpoint; models of finished jobs are registered again.

A job belongs to the caller that started it (``owner``, an opaque key kept in job.json): calls
that name a ``viewer`` see, watch and cancel only that viewer's jobs, and another's job reads as
unknown. ``viewer=None`` (the server itself, an admin) sees every job; a job without an owner
(started before owners were recorded) is visible to everyone.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..files import atomic_path
from ..job_queue import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, JobQueue
from ..automatic.ais_decoder import AISDecoder, build_ais_decoder
from ..errors import Cancelled, InvalidInput
from ..model_registry import ModelRegistry
from ..models import build_sam
from ..tiling import NativeTiling
from .config import Progress, TrainConfig, make_config
from .trainer import check_trainable, train
from .data import check_pair, split_validation, to_sam_tiles
from .lora import merged_state_dict

log = logging.getLogger("sambridge.jobs")

# Bounds on request values: beyond them a job would only exhaust memory or never end.
MAX_LORA_RANK, MAX_EPOCHS, MAX_OBJECTS, MAX_STEPS_PER_EPOCH = 64, 100_000, 1_000, 100_000
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


@dataclass(frozen=True)
class JobSpec:
    """What to train (everything but the data)."""

    output_model: str
    base_model: str = ""
    preset: str = "auto"
    epochs: int = 0
    time_budget_s: float = 0.0
    validation_fraction: float = 0.0
    lora_rank: int = 0
    train_decoder: bool = True
    n_objects_per_batch: int = 0
    steps_per_epoch: int = 0
    lr: float = 0.0
    patch_size: int = 0
    freeze_encoder: bool = False


@dataclass
class JobRecord:
    """A job's persisted state."""

    job_id: str
    spec: JobSpec
    state: str = QUEUED
    message: str = ""
    epoch: int = 0
    step: int = 0
    best_val_msa: float | None = None
    checkpoint_path: str = ""
    created: float = field(default_factory=time.time)
    owner: str = ""

    def to_json(self) -> str:
        """JSON text of the record."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "JobRecord":
        """Inverse of ``to_json``."""
        values = json.loads(text)
        values["spec"] = JobSpec(**values["spec"])
        return cls(**values)


class JobManager(JobQueue[JobRecord]):
    """Queue and run training jobs one at a time in a daemon thread."""

    kind = "job"

    def __init__(self, models: ModelRegistry, on_finished: Callable[[Path, str], Any],
                 directory: str | Path | None = None) -> None:
        """``models``: the served models (bases, name clashes); ``on_finished(checkpoint, name)``
        serves a finished job's model; ``directory`` holds the jobs (a temporary one if None)."""
        super().__init__(JobRecord, directory)
        self.models = models
        self.on_finished = on_finished
        # Server-wide TrainConfig overrides (e.g. tiny patches in tests or on very small machines).
        self.config_overrides: dict[str, Any] = {}
        self.resume()

    # -- public API ------------------------------------------------------------------
    def submit(self, spec: JobSpec, pairs: Sequence[tuple[np.ndarray, np.ndarray]], owner: str = "") -> JobRecord:
        """Validate and queue a job owned by ``owner``; raises InvalidInput / NotFound on bad input."""
        self._validate(spec, pairs)
        job_id = uuid.uuid4().hex[:12]
        job_dir = self.directory / job_id
        job_dir.mkdir(parents=True)
        arrays = {f"image_{i}": image for i, (image, _) in enumerate(pairs)}
        arrays.update({f"labels_{i}": labels for i, (_, labels) in enumerate(pairs)})
        np.savez(job_dir / "data.npz", **arrays)
        return self._add(JobRecord(job_id, spec, owner=owner))

    def _change_key(self, record: JobRecord) -> tuple:
        return (record.state, record.epoch, record.best_val_msa, record.message)

    # -- validation -----------------------------------------------------------------
    def _validate(self, spec: JobSpec, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        if not _NAME.fullmatch(spec.output_model or ""):
            raise InvalidInput("output_model (the trained model's name) must be 1-100 characters of A-Z a-z 0-9 . _ -")
        if any(m.name == spec.output_model for m in self.models.list()) or any(
            r.spec.output_model == spec.output_model and r.state not in (FAILED, CANCELLED) for r in self.list()
        ):
            raise InvalidInput(f"a model or job named {spec.output_model!r} already exists")
        check_trainable(self.models.get(spec.base_model or None).sam)  # NotFound lists the known models
        make_config(spec.preset or "auto", **_config_values(spec))  # unknown preset, bad patch size -> InvalidInput
        if not math.isfinite(spec.lr) or spec.lr < 0:
            raise InvalidInput(f"lr must be a finite number > 0 (0: the preset's), got {spec.lr}")
        if not pairs:
            raise InvalidInput("no training pairs given")
        if not 0 <= spec.validation_fraction < 1:
            raise InvalidInput(f"validation_fraction must be in [0, 1), got {spec.validation_fraction}")
        if not math.isfinite(spec.time_budget_s) or spec.time_budget_s < 0:
            raise InvalidInput(f"time_budget_s must be a finite number >= 0, got {spec.time_budget_s}")
        for name, value, most in (("lora_rank", spec.lora_rank, MAX_LORA_RANK), ("epochs", spec.epochs, MAX_EPOCHS),
                                  ("n_objects_per_batch", spec.n_objects_per_batch, MAX_OBJECTS),
                                  ("steps_per_epoch", spec.steps_per_epoch, MAX_STEPS_PER_EPOCH)):
            if not 0 <= value <= most:
                raise InvalidInput(f"{name} must be in [0, {most}], got {value}")
        for i, (image, labels) in enumerate(pairs):
            check_pair(image, labels, f"pair {i}")

    def _restored(self, record: JobRecord) -> None:
        self._register(record)

    # -- the worker ----------------------------------------------------------------------
    def _run(self, job_id: str) -> None:
        record = self.get(job_id)
        spec, live = record.spec, self._live[job_id]
        if live.cancel.is_set():
            raise Cancelled("cancelled")
        self._update(job_id, state=RUNNING, message="loading data")
        # A base model served in tiles (its native tiling) trains on exactly those tiles.
        tiling = self.models.get(spec.base_model or None).native_tiling
        images = self._training_images(job_id, tiling)
        train_images, val_images = split_validation(images, spec.validation_fraction)
        config = replace(self._config(spec), native_tiling=tiling)
        sam, decoder = self._start_model(spec.base_model)
        run_dir = self.directory / job_id / "run"
        self._update(job_id, message=f"training ({config.preset} preset)")

        def on_progress(progress: Progress) -> None:
            changes = {"epoch": progress.epoch, "step": progress.step}
            if not progress.losses:  # end of epoch: checkpoint written, validation done
                changes.update(checkpoint_path=str(run_dir / "last.pt"), best_val_msa=progress.val_msa)
            self._update(job_id, progress=progress, **changes)

        result = train(sam, decoder, train_images, val_images, config, run_dir, on_progress, live.cancel.is_set)
        final = self.directory / job_id / "model.pt"  # never derived from the (client-chosen) name
        best = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
        with atomic_path(final) as tmp:
            torch.save(best, tmp)
        record = self.get(job_id)
        record.checkpoint_path, record.best_val_msa = str(final), result.best_val_msa
        self._register(record)
        self._update(job_id, state=SUCCEEDED, checkpoint_path=str(final), best_val_msa=result.best_val_msa,
                     epoch=result.epoch, step=result.step, message=f"finished ({result.stopped})")

    def _config(self, spec: JobSpec) -> TrainConfig:
        """The job's TrainConfig: preset, then the spec's values, then the server-wide overrides."""
        return make_config(spec.preset or "auto", **{**_config_values(spec), **self.config_overrides})

    def _training_images(self, job_id: str, tiling: NativeTiling | None) -> list:
        with np.load(self.directory / job_id / "data.npz") as data:
            n = sum(1 for key in data.files if key.startswith("image_"))
            return [sample for i in range(n)
                    for sample in to_sam_tiles(data[f"image_{i}"], data[f"labels_{i}"], tiling, name=str(i))]

    def _start_model(self, base_model: str):
        """Fresh trainable copies of the base model's SAM and AIS decoder (new decoder if it has none)."""
        base = self.models.get(base_model or None)
        sam = build_sam(base.config)
        sam.load_state_dict(merged_state_dict(base.sam))
        decoder = build_ais_decoder(base.decoder_state) if base.decoder_state else AISDecoder()
        return sam, decoder

    def _register(self, record: JobRecord) -> None:
        """Serve a finished job's model under its output name (no-op if already loaded)."""
        name = record.spec.output_model
        if any(m.name == name for m in self.models.list()):
            return
        try:
            self.on_finished(Path(record.checkpoint_path), name)
        except Exception as error:  # noqa: BLE001 - a missing file must not block the server start
            log.warning("could not register model %s of job %s: %s", name, record.job_id, error)


def _config_values(spec: JobSpec) -> dict[str, Any]:
    """The spec's TrainConfig overrides (0 values mean "the preset's" and are dropped by make_config)."""
    return dict(epochs=spec.epochs, time_budget_s=spec.time_budget_s, lora_rank=spec.lora_rank,
                n_objects_per_batch=spec.n_objects_per_batch, steps_per_epoch=spec.steps_per_epoch,
                lr=spec.lr, patch_size=spec.patch_size, train_decoder=spec.train_decoder,
                freeze_encoder=spec.freeze_encoder)
