"""The batch capability of a server: a ``BatchManager`` wired to the server's models, images and roots.

The Workspace builds it on first use (no Dask cluster starts until the first batch). Inputs
are confined to the data roots (``--data-root``), outputs too; uploaded images reach the workers
as ``.npy`` files under the cache folder; workers embed through ``<cache-dir>/embeddings``, the
store the server itself reads, so ``embed`` batches warm the cache for interactive work.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

from ..images import ImageStore
from ..model_registry import ModelRegistry
from .executor import DaskExecutor
from .jobs import BatchManager
from .run import BatchPlan, BatchSpec, plan_batch, uploaded_input
from .worker_models import EngineSettings


def build_batch_manager(config: Any, device: str, precision: str, models: ModelRegistry,
                        images: ImageStore) -> BatchManager:
    """A BatchManager for a server's ``config`` (cache dir, data roots, Dask settings), serving its models and
    reading its uploaded images."""
    cache_dir = Path(config.cache_dir) if config.cache_dir else None
    base = cache_dir / "batch" if cache_dir else Path(tempfile.mkdtemp(prefix="sambridge-batch-"))
    executor = DaskExecutor(workers=getattr(config, "dask_workers", 1) or 1,
                            scheduler=getattr(config, "dask_scheduler", None) or None)
    settings = EngineSettings(device=device, precision=precision,
                              cache_dir=str(cache_dir / "embeddings") if cache_dir else None)

    def planner(spec: BatchSpec, image_ids: Sequence[str]) -> BatchPlan:
        model = None if spec.method == "threshold" else models.get(spec.model or None)
        uploaded = []
        for image_id in image_ids:
            image = images.get(image_id)
            uploaded.append(uploaded_input(image_id, image.array, image.axes, base / "inputs"))
        return plan_batch(spec, list(config.data_roots), model, settings, uploaded,
                          work_dir=base / "embed-chunks" if cache_dir else None)

    return BatchManager(planner, executor, base / "jobs")
