"""The batch capability of a server: a ``BatchManager`` wired to a Workspace's models, images and roots.

Built once per Workspace on first use (no Dask cluster starts until the first batch). Inputs
are confined to the data roots (``--data-root``), outputs too; uploaded images reach the workers
as ``.npy`` files under the cache folder; workers embed through ``<cache-dir>/embeddings``, the
store the server itself reads, so ``embed`` batches warm the cache for interactive work.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any, Sequence

from .executor import DaskExecutor
from .jobs import BatchManager
from .run import BatchPlan, BatchSpec, plan_batch, uploaded_input
from .worker_models import EngineSettings

_LOCK = threading.Lock()


def batch_manager(workspace: Any) -> BatchManager:
    """The Workspace's batch manager (created on the first call)."""
    with _LOCK:
        manager = getattr(workspace, "batch", None)
        if manager is None:
            manager = workspace.batch = _build(workspace)
        return manager


def _build(workspace: Any) -> BatchManager:
    config = workspace.config
    cache_dir = Path(config.cache_dir) if config.cache_dir else None
    base = cache_dir / "batch" if cache_dir else Path(tempfile.mkdtemp(prefix="sambridge-batch-"))
    executor = DaskExecutor(workers=getattr(config, "dask_workers", 1) or 1,
                            scheduler=getattr(config, "dask_scheduler", None) or None)
    settings = EngineSettings(device=workspace.device, precision=workspace.precision,
                              cache_dir=str(cache_dir / "embeddings") if cache_dir else None)

    def planner(spec: BatchSpec, image_ids: Sequence[str]) -> BatchPlan:
        model = None if spec.method == "threshold" else workspace.models.get(spec.model or None)
        uploaded = []
        for image_id in image_ids:
            image = workspace.images.get(image_id)
            uploaded.append(uploaded_input(image_id, image.array, image.axes, base / "inputs"))
        return plan_batch(spec, list(config.data_roots), model, settings, uploaded,
                          work_dir=base / "embed-chunks" if cache_dir else None)

    return BatchManager(planner, executor, base / "jobs")
