"""One batch from request to published output: plan, compute missing chunks, stitch, write.

``plan_batch`` validates everything a caller can get wrong (inputs, output, method, parameters,
model, chunking) before any work starts, and cuts every plane into chunk tasks.
``execute_batch`` then computes the chunks that are not yet done on Dask, merges each plane's
chunks (``stitch``), optionally joins planes into 3D objects (automatic 3D), writes the OME-Zarr
labels and the object table and publishes the output. The chunk records live next to the
output (``OUT.zarr.chunks/``), so a rerun, or the same job after a server restart, computes only
the missing chunks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import Cancelled, InvalidInput
from .executor import DaskExecutor
from .inputs import BatchInput, discover_inputs, open_input
from .output import LABEL_NAME, OutputBuilder, check_output
from .plan import ChunkRegion, check_chunking, plan_plane
from .records import ChunkRecord, ChunkStore
from .segmenters import MODEL_OPERATIONS, OPERATIONS, check_threshold_params, model_params
from .stitch import merge_plane
from .table import ObjectTable
from .work import ChunkTask, make_task, run_chunk
from .worker_models import EngineSettings, ModelFiles

DEFAULT_CHUNK = 2048
DEFAULT_OVERLAP = 128


@dataclass(frozen=True)
class BatchSpec:
    """What a batch does: inputs (server paths / globs), operation, model, parameters, output.

    ``method``: ``ais``, ``amg``, ``auto`` (AIS if the model has a decoder, else AMG),
    ``threshold`` (no model; needs params ``threshold``) or ``embed`` (fill the embedding cache,
    no output). ``auto_3d`` joins the per-plane objects of a stack into 3D objects.
    """

    inputs: tuple[str, ...] = ()
    output: str = ""
    method: str = "ais"
    model: str = ""
    params: tuple[tuple[str, float], ...] = ()
    level: int = 0
    chunk_size: int = DEFAULT_CHUNK
    overlap: int = DEFAULT_OVERLAP
    min_overlap: float = 0.5
    auto_3d: bool = False
    precision: str = ""
    tile_shape: tuple[int, int] | None = None
    halo: tuple[int, int] | None = None
    whole_image: bool = False


@dataclass(frozen=True)
class BatchProgress:
    """A progress report: ``stage`` (chunks, stitching, writing), done of total, chunks computed/reused."""

    stage: str
    done: int
    total: int
    computed: int = 0
    reused: int = 0
    eta_s: float = math.nan


@dataclass(frozen=True)
class BatchResult:
    """What a finished batch did."""

    output: str
    n_inputs: int
    n_chunks: int
    computed: int
    reused: int
    n_objects: int
    tables: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class BatchPlan:
    """A validated batch: its inputs, chunk tasks (per input, per plane) and output."""

    spec: BatchSpec
    method: str
    inputs: tuple[BatchInput, ...]
    chunks: tuple[tuple[tuple[ChunkRegion, ...], ...], ...]  # [input][plane] -> regions
    tasks: tuple[ChunkTask, ...]  # in (input, plane, chunk) order
    output: Path | None
    store: Path
    model: ModelFiles | None = None
    settings: EngineSettings = field(default_factory=EngineSettings)


def plan_batch(spec: BatchSpec, roots: Sequence[Path], model=None, settings: EngineSettings = EngineSettings(),
               uploaded: Sequence[BatchInput] = (), work_dir: Path | None = None) -> BatchPlan:
    """Validate ``spec`` and cut its inputs into chunk tasks.

    ``model`` is the served ``LoadedModel`` (None for ``threshold``); ``uploaded`` are inputs
    already resolved from uploaded images; ``work_dir`` holds the chunk records when there is no
    output (``embed``). InvalidInput / NotFound for anything wrong.
    """
    method = spec.method or "ais"
    if method == "auto":
        method = "ais" if model is not None and model.decoder_state is not None else "amg"
    if method not in OPERATIONS:
        raise InvalidInput(f"unknown batch method {method!r}; use one of {', '.join(OPERATIONS + ('auto',))}")
    params = dict(spec.params)
    files = None
    if method in MODEL_OPERATIONS:
        if model is None:
            raise InvalidInput(f"method {method!r} needs a model")
        if model.checkpoint_path is None:
            raise InvalidInput(f"model {model.name!r} was not loaded from a file; batch workers cannot load it")
        if method != "embed":
            model_params(method, model.name, params)  # InvalidInput for bad values
            if method == "ais" and model.decoder_state is None:
                raise InvalidInput(f"model {model.name!r} has no AIS decoder; use method 'amg'")
        files = ModelFiles(model.name, model.checkpoint_path, model.model_hash, None, model.decoder_path)
    elif params or method == "threshold":
        check_threshold_params(params)
    precision = spec.precision or settings.precision
    from ..embeddings import PRECISIONS  # local imports: torch is loaded only for a plan that needs it
    from ..int8_encoder import check_int8

    if precision not in PRECISIONS:
        raise InvalidInput(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    if precision == "int8":
        check_int8(settings.device)
    settings = replace(settings, precision=precision, tile_shape=spec.tile_shape, halo=spec.halo,
                       whole_image=spec.whole_image)
    if not 0 < spec.min_overlap <= 1:
        raise InvalidInput(f"min_overlap must lie in (0, 1], got {spec.min_overlap}")
    check_chunking(spec.chunk_size, spec.overlap)
    inputs = list(uploaded) + (discover_inputs(spec.inputs, roots, spec.level) if spec.inputs else [])
    if not inputs:
        raise InvalidInput("no inputs given")
    output = None
    if method != "embed":
        if not spec.output:
            raise InvalidInput("an output (a .zarr folder under a data root) is required")
        output = _output_path(spec.output, roots)
        check_output(output)
        store = output.with_name(output.name + ".chunks")
    elif work_dir is not None:
        store = Path(work_dir)
    else:
        raise InvalidInput("embed needs the server's --cache-dir")
    if spec.auto_3d and method == "embed":
        raise InvalidInput("auto_3d needs a segmentation method")
    chunks, tasks = [], []
    for item in inputs:
        # Embeddings are cached per whole plane: one chunk per plane.
        size = max(item.plane_shape) if method == "embed" else spec.chunk_size
        per_plane = tuple(tuple(plan_plane(p, item.plane_shape, size, min(spec.overlap, size - 1)))
                          for p in range(item.n_planes))
        chunks.append(per_plane)
        tasks += [make_task(item, region, method, params, files, settings, str(store))
                  for regions in per_plane for region in regions]
    return BatchPlan(spec, method, tuple(inputs), tuple(chunks), tuple(tasks), output, store, files, settings)


def _output_path(output: str, roots: Sequence[Path]) -> Path:
    """The output folder, which must lie under a data root (its parent must exist)."""
    from ..files import confine

    target = Path(output)
    parent = confine(str(target.parent) if str(target.parent) not in ("", ".") else ".", list(roots), "output")
    return parent / target.name


def uploaded_input(image_id: str, array: np.ndarray, axes: str, folder: Path) -> BatchInput:
    """An uploaded image as a batch input: written once as ``<folder>/<id>.npy`` for the workers."""
    if "c" in axes:
        raise InvalidInput(f"image {image_id} has channels ({axes}); batches take single-channel images")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{image_id.replace(':', '_')}.npy"
    if not path.exists():
        from ..files import write_atomically
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        write_atomically(path, buffer.getvalue())
    item = open_input(path)
    out_axes = axes if item.n_planes > 1 else "yx"
    return replace(item, name=image_id.replace(":", "_")[:13], axes=out_axes, identity=image_id)


ProgressFn = Callable[[BatchProgress], None]


def execute_batch(plan: BatchPlan, executor: DaskExecutor, job_id: str = "batch",
                  progress: ProgressFn | None = None, cancelled: Callable[[], bool] | None = None) -> BatchResult:
    """Compute the plan's missing chunks on ``executor``, then stitch, write and publish."""
    start = time.perf_counter()
    report = progress or (lambda p: None)
    is_cancelled = cancelled or (lambda: False)
    store = ChunkStore(plan.store)
    records: dict[str, ChunkRecord] = {}
    for task in plan.tasks:
        record = store.done(task.key)
        if record is not None:
            records[task.key] = record
    reused = len(records)
    missing = [task for task in plan.tasks if task.key not in records]
    total = len(plan.tasks)
    report(BatchProgress("chunks", reused, total, 0, reused))
    began = time.perf_counter()

    counts = {"computed": 0}

    def on_chunk(done: int, _: int, record: ChunkRecord) -> None:
        # A chunk found done on the worker (finished by an earlier, cancelled run) counts as reused.
        records[record.key] = record
        counts["computed"] += record.computed
        elapsed = time.perf_counter() - began
        report(BatchProgress("chunks", reused + done, total, counts["computed"], reused + done - counts["computed"],
                             eta_s=elapsed / done * (len(missing) - done)))

    executor.run(run_chunk, missing, [f"chunk-{job_id}-{t.key}" for t in missing], on_chunk, is_cancelled)
    computed = counts["computed"]
    reused = total - computed
    if plan.output is None:
        return BatchResult("", len(plan.inputs), total, computed, reused, 0, (), time.perf_counter() - start)
    builder = OutputBuilder(plan.output, {"version": 1, "method": plan.method, "model": plan.model.name if plan.model
                                          else "", "inputs": [i.path for i in plan.inputs],
                                          "level": plan.spec.level, "label": LABEL_NAME})
    try:
        table = ObjectTable()
        tasks = iter(plan.tasks)
        stitched = 0
        for item, per_plane in zip(plan.inputs, plan.chunks):
            level0 = _stitch_input(item, per_plane, tasks, store, records, builder, table, plan.spec,
                                   is_cancelled)
            stitched += sum(len(regions) for regions in per_plane)
            report(BatchProgress("stitching", stitched, total, computed, reused))
            if is_cancelled():
                raise Cancelled("the batch was cancelled")
            builder.write_labels(item.name, level0, item.axes)
        tables = table.write(builder.partial / "objects.csv")
        n_objects = len(table)
        report(BatchProgress("writing", total, total, computed, reused))
        final = builder.publish()
    except BaseException:
        builder.discard()
        raise
    return BatchResult(str(final), len(plan.inputs), total, computed, reused, n_objects,
                       tuple(str(final / t.name) for t in tables), time.perf_counter() - start)


def _stitch_input(item: BatchInput, per_plane, tasks, store: ChunkStore, records: dict[str, ChunkRecord],
                  builder: OutputBuilder, table: ObjectTable, spec: BatchSpec, cancelled: Callable[[], bool]):
    """Merge every plane of ``item`` into its full-resolution array; fill the table."""
    shape = item.shape if item.n_planes > 1 else item.plane_shape
    size = min(spec.chunk_size, max(item.plane_shape))
    chunks = ((1,) if item.n_planes > 1 else ()) + (min(size, item.plane_shape[0]), min(size, item.plane_shape[1]))
    level0 = builder.level0(item.name, shape, chunks)
    offset = 0
    for plane, regions in enumerate(per_plane):
        plane_tasks = [next(tasks) for _ in regions]
        if cancelled():
            raise Cancelled("the batch was cancelled")
        # merge_plane keeps two rows of chunks at a time; the cores are read again below.
        merge = merge_plane(regions, [records[t.key].n_labels for t in plane_tasks],
                            lambda i, tasks=plane_tasks: store.load(tasks[i].key)[0], spec.min_overlap)
        for i, region in enumerate(regions):
            labels, scores = store.load(plane_tasks[i].key)
            local = labels[region.core_in_outer()]
            final = merge.final(i, local)
            final[final > 0] += offset
            pixel_scores = np.concatenate([[1.0], scores])[local]
            y0, x0, y1, x1 = region.core
            target = (plane, slice(y0, y1), slice(x0, x1)) if item.n_planes > 1 else (slice(y0, y1), slice(x0, x1))
            level0[target] = final
            if not spec.auto_3d:
                table.add(item.name, plane, final, (y0, x0), pixel_scores)
        offset += merge.n_objects
    if spec.auto_3d and item.n_planes > 1:
        from ..volume.merge3d import merge_slices

        volume = merge_slices(np.asarray(level0[:]))
        level0[:] = volume
        for plane in range(item.n_planes):
            table.add(item.name, plane, volume[plane], (0, 0))
    elif spec.auto_3d:
        table.add(item.name, 0, np.asarray(level0[:]), (0, 0))
    return level0
