"""Finetuning SAM and its AIS decoder as server-side jobs.

Modules: ``config`` (settings, progress, results), ``trainer`` (the loop and its step),
``objective`` (simulated prompting and the AIS loss), ``patch_encoding`` (SAM on patches),
``validation``, ``checkpoints``, ``loss``, ``data`` (SAM-space patches
and targets), ``scales`` (zoom augmentation), ``prompt_noise`` (jittered and loose boxes),
``frozen`` (training on cached embeddings), ``lora`` (low-rank adapters), ``curves`` (CSV log
and plot), ``synthetic`` (synthetic microscopy images), ``jobs`` (background jobs that outlive
clients and restarts).
"""

from .jobs import JobManager, JobRecord, JobSpec
from .config import Progress, TrainConfig, TrainResult, make_config
from .trainer import train

__all__ = ["JobManager", "JobRecord", "JobSpec", "Progress", "TrainConfig", "TrainResult", "make_config", "train"]
