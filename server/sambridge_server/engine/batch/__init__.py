"""Batch segmentation on Dask: folders and whole slides in overlapping chunks, stitched without seams.

The API, one concept per module:

- ``inputs``: ``discover_inputs`` (files, folders, globs under the data roots: TIFF, OME-TIFF,
  OME-Zarr at a pyramid level, .npy), ``BatchInput``, ``read_region``.
- ``plan``: ``plan_plane`` cuts a plane into ``ChunkRegion`` cores with an overlap.
- ``worker_models``: ``worker_model`` loads a checkpoint once per worker process (``ModelFiles``,
  ``EngineSettings``).
- ``segmenters``: what a chunk's pixels become (AIS, AMG, threshold, embed).
- ``records``: ``ChunkStore``, atomic done-records per chunk (reruns compute only what is missing).
- ``work``: ``ChunkTask`` and ``run_chunk``, the task Dask runs.
- ``stitch``: ``merge_plane`` unions labels that cover the same pixels in the overlaps.
- ``table``: ``ObjectTable``, the per-object table (CSV; Parquet with pyarrow).
- ``output``: ``OutputBuilder`` writes OME-Zarr labels (ome-zarr-py) and publishes atomically;
  ``read_labels`` reads them back.
- ``executor``: ``DaskExecutor``, an embedded LocalCluster or an existing scheduler.
- ``run``: ``BatchSpec``, ``plan_batch``, ``execute_batch``, ``BatchProgress``, ``BatchResult``.
- ``jobs``: ``BatchManager``, batch jobs that outlive calls (start, watch, cancel, list).
- ``service``: ``build_batch_manager``, the server's BatchManager (its models, images, data roots).
"""

from .executor import DaskExecutor
from .inputs import BatchInput, discover_inputs, read_region
from .jobs import BatchJob, BatchManager
from .output import OutputBuilder, read_labels
from .plan import ChunkRegion, plan_plane
from .records import ChunkRecord, ChunkStore
from .run import BatchPlan, BatchProgress, BatchResult, BatchSpec, execute_batch, plan_batch, uploaded_input
from .service import build_batch_manager
from .stitch import PlaneMerge, merge_plane
from .table import ObjectTable
from .work import ChunkTask, run_chunk
from .worker_models import EngineSettings, ModelFiles, worker_model

__all__ = [
    "BatchInput", "BatchJob", "BatchManager", "BatchPlan", "BatchProgress", "BatchResult", "BatchSpec",
    "ChunkRecord", "ChunkRegion", "ChunkStore", "ChunkTask", "DaskExecutor", "EngineSettings", "ModelFiles",
    "ObjectTable", "OutputBuilder", "PlaneMerge", "build_batch_manager", "discover_inputs", "execute_batch", "merge_plane",
    "plan_batch", "plan_plane", "read_labels", "read_region", "run_chunk", "uploaded_input", "worker_model",
]
