"""Finetuning SAM and its AIS decoder as server-side jobs.

Modules: ``trainer`` (the training loop and its step), ``loss``, ``data`` (SAM-space patches
and targets), ``scales`` (zoom augmentation), ``prompt_noise`` (jittered and loose boxes),
``frozen`` (training on cached embeddings), ``lora`` (low-rank adapters), ``curves`` (CSV log
and plot), ``synthetic`` (synthetic microscopy images), ``jobs`` (background jobs that outlive
clients and restarts).
"""

from .jobs import JobManager, JobRecord, JobSpec
from .trainer import TrainConfig, TrainResult, make_config, train

__all__ = ["JobManager", "JobRecord", "JobSpec", "TrainConfig", "TrainResult", "make_config", "train"]
