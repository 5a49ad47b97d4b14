"""The unit of work a Dask worker runs: one chunk, read, segmented and recorded as done.

``run_chunk`` is idempotent: a chunk already done (by an earlier run, a task that ran twice
after a worker died, or another job) is returned from its record without computing. Its key
digests everything its result depends on, so a changed file, method, parameter or model is a
new chunk. Everything it needs travels in the ``ChunkTask`` (paths, not pixels or weights), so
it runs on any worker that sees the same file system.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass

from .inputs import BatchInput, read_region
from .plan import ChunkRegion
from .records import ChunkRecord, ChunkStore
from .segmenters import MODEL_SEGMENTERS, threshold_segment
from .worker_models import EngineSettings, ModelFiles, worker_model


@dataclass(frozen=True)
class ChunkTask:
    """One chunk to compute: input, region, operation with its parameters, model and settings."""

    key: str
    input: BatchInput
    region: ChunkRegion
    operation: str
    params: tuple[tuple[str, float], ...]
    model: ModelFiles | None
    settings: EngineSettings
    store: str


def chunk_key(item: BatchInput, region: ChunkRegion, operation: str, params: dict,
              model: ModelFiles | None, settings: EngineSettings) -> str:
    """Digest of everything a chunk's result depends on (not the device or the cache folder)."""
    payload = [item.identity, region.plane, list(region.outer), operation, sorted(params.items()),
               model.model_hash if model else None, settings.precision, settings.tile_shape, settings.halo,
               settings.whole_image]
    return hashlib.sha1(json.dumps(payload, default=list).encode()).hexdigest()


def make_task(item: BatchInput, region: ChunkRegion, operation: str, params: dict, model: ModelFiles | None,
              settings: EngineSettings, store: str) -> ChunkTask:
    """The task of one chunk, keyed by ``chunk_key``."""
    key = chunk_key(item, region, operation, params, model, settings)
    return ChunkTask(key, item, region, operation, tuple(sorted(params.items())), model, settings, store)


def run_chunk(task: ChunkTask) -> ChunkRecord:
    """Compute the chunk unless it is done; returns its record (``computed`` says which)."""
    store = ChunkStore(task.store)
    record = store.done(task.key)
    if record is not None:
        return record
    start = time.perf_counter()
    pixels = read_region(task.input, task.region.plane, task.region.outer)
    params = dict(task.params)
    if task.operation == "threshold":
        labels, scores = threshold_segment(pixels, params)
    else:
        worker = worker_model(task.model, task.settings)
        labels, scores = MODEL_SEGMENTERS[task.operation](pixels, params, worker, task.settings)
    return store.write(task.key, labels, scores, time.perf_counter() - start)


def task_summary(task: ChunkTask) -> dict:
    """A JSON-able description of a task (for logs and job files)."""
    return {"key": task.key, "input": task.input.name, "region": asdict(task.region), "operation": task.operation}
