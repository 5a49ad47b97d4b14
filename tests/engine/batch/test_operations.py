"""The other batch operations: automatic 3D across planes, and embed (fills the shared cache)."""

from __future__ import annotations

import numpy as np
import tifffile

from sambridge_server.engine.batch import BatchSpec, EngineSettings, execute_batch, plan_batch, read_labels
from sambridge_server.engine.cache import EmbeddingCache
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint, save_checkpoint

THRESHOLD = dict(method="threshold", params=(("threshold", 500.0),))


def test_auto_3d_joins_planes_into_3d_objects(tmp_path, executor):
    stack = np.zeros((4, 96, 96), np.uint16)
    stack[0:3, 10:30, 10:30] = 1000  # one object through three planes
    stack[1:4, 60:80, 50:90] = 1000  # another, crossing the chunk seam at x = 64 on every plane
    tifffile.imwrite(tmp_path / "stack.tif", stack, metadata={"axes": "ZYX"})
    flat = execute_batch(plan_batch(BatchSpec(inputs=("stack.tif",), output="flat.zarr", chunk_size=64, overlap=16,
                                              **THRESHOLD), [tmp_path]), executor, "flat")
    joined = execute_batch(plan_batch(BatchSpec(inputs=("stack.tif",), output="3d.zarr", chunk_size=64, overlap=16,
                                                auto_3d=True, **THRESHOLD), [tmp_path]), executor, "3d")
    assert flat.n_objects == 6 and joined.n_objects == 2
    labels = read_labels(tmp_path / "3d.zarr", "stack")
    assert len(np.unique(labels[0:3, 10:30, 10:30])) == 1 and len(np.unique(labels[1:4, 60:80, 50:90])) == 1


def test_embed_fills_the_shared_embedding_cache(tmp_path, executor, hela_crop):
    checkpoint = tmp_path / "tiny.pth"
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=1), checkpoint, fmt="meta")
    model = load_checkpoint(checkpoint, name="tiny")
    frames = np.stack([hela_crop, hela_crop[::-1], hela_crop[:, ::-1], hela_crop[::-1, ::-1]])
    tifffile.imwrite(tmp_path / "frames.tif", frames, metadata={"axes": "TYX"})
    settings = EngineSettings(precision="fp32", cache_dir=str(tmp_path / "cache" / "embeddings"))
    plan = plan_batch(BatchSpec(inputs=("frames.tif",), method="embed"), [tmp_path], model, settings,
                      work_dir=tmp_path / "work")
    result = execute_batch(plan, executor, "embed")
    assert (result.n_chunks, result.computed, result.output) == (4, 4, "")
    loads = executor.client.run(lambda: __import__("sambridge_server.engine.batch.worker_models",
                                                   fromlist=["loads"]).loads)
    assert sum(loads.values()) <= 2 and max(loads.values()) <= 1  # each worker loaded the model once
    cache = EmbeddingCache(1 << 30, tmp_path / "cache" / "embeddings")  # what the server reads
    for frame in frames:
        assert cache.get(cache.key_for(frame, model.model_hash, None, None, "fp32")) is not None
