"""AIS decoder speed with the default model: the old full-tile path, the windowed float32 path
and the served bf16 path, side by side.

One process, one 700 x 1100 HeLa frame (the demo image shipped in the server package), the
default model in its native tiling (15 tiles of 256 px + 64 px halo), embeddings computed once
as served (bf16 encoder) and shared by all sides:
- old: every tile through ``AISDecoder.forward`` at 1024 px in float32, then resized (the path
  before ``predict_window``);
- fp32: ``tiled_ais_maps`` in float32 (1x1 convs before upsampling, last conv and head on the
  inner block; micro_sam's numbers);
- bf16: the same in bfloat16, as the server decodes bf16 embeddings (``embeddings_ais_maps``).
Runs alternate the sides; medians over ``--runs``. Checks old and fp32 give the same maps and
labels, and scores fp32 and bf16 labels against the ground truth of held-out HeLa frames
(``--accuracy-frames`` of frames 15-19, mean segmentation accuracy). The last line is JSON.

Run:  .venv/bin/python bench/bench_ais_speed.py [--runs 3] [--threads 2] [--accuracy-frames 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--accuracy-frames", type=int, default=2, help="held-out HeLa frames scored (0-5)")
    parser.add_argument("--reuse-memory", action="store_true",
                        help="glibc keeps freed blocks for reuse (sambridge_server.allocator), both paths")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.reuse_memory:
        from sambridge_server.allocator import reuse_freed_memory

        print(f"reuse freed memory: {reuse_freed_memory()}")

    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.demo import sample_image
    from sambridge_server.engine.automatic.ais import (AISMaps, ais_segment, default_ais_params, embeddings_ais_maps,
                                             stitch_tile_maps, tiled_ais_maps)
    from sambridge_server.engine.automatic.ais_decoder import build_ais_decoder, resize_to_original
    from sambridge_server.engine.embeddings import compute_embeddings
    from sambridge_server.engine.models import load_checkpoint

    source = ensure_default_model()
    model = load_checkpoint(source.path, source.model_type, "default", device="cpu")
    tiling = model.native_tiling
    decoder = build_ais_decoder(model.decoder_state)
    image = sample_image()
    start = time.perf_counter()
    embeddings = compute_embeddings(model, image, tiling.tile_shape, tiling.halo, "bf16")
    t_embed = time.perf_counter() - start
    tiles = embeddings.grid.tiles
    print(f"image {image.shape}, {len(tiles)} tiles of {tiling.tile_shape} + halo {tiling.halo}, "
          f"{args.threads} threads; embedding (bf16, once): {t_embed:.1f} s")

    @torch.inference_mode()
    def old_path() -> AISMaps:
        maps = []
        for index, tile in enumerate(tiles):
            out = decoder(torch.from_numpy(np.asarray(embeddings.tile_features(index), np.float32)))
            out = resize_to_original(out, tuple(embeddings.input_sizes[index]), tile.shape)[0].numpy()
            maps.append(AISMaps(*out))
        return stitch_tile_maps(maps, tiles, embeddings.image_shape)

    def fp32_path(served=embeddings) -> AISMaps:
        return tiled_ais_maps(decoder, [served.tile_features(i) for i in range(served.n_tiles)],
                              served.input_sizes, served.grid.tiles, served.image_shape, precision="fp32")

    def bf16_path(served=embeddings) -> AISMaps:
        return embeddings_ais_maps(decoder, served)

    sides = {"old": old_path, "fp32": fp32_path, "bf16": bf16_path}
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}  # user + sys seconds: less sensitive to other load
    results: dict[str, AISMaps] = {}
    for run in range(args.runs):
        for name, fn in sides.items():
            start, usage = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu[name].append(after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime)
            print(f"run {run + 1}/{args.runs} {name}: {times[name][-1]:.1f} s wall, {cpu[name][-1]:.1f} s CPU "
                  f"(sys {after.ru_stime - usage.ru_stime:.1f} s)", flush=True)
    med = {name: statistics.median(times[name]) for name in sides}
    med_cpu = {name: statistics.median(cpu[name]) for name in sides}

    def max_diff(a: AISMaps, b: AISMaps) -> float:
        return max(float(np.abs(getattr(a, f) - getattr(b, f)).max())
                   for f in ("foreground", "center_distances", "boundary_distances"))

    params = default_ais_params("default")
    start = time.perf_counter()
    labels = ais_segment(results["bf16"], params)
    t_post = time.perf_counter() - start
    fp32_labels = ais_segment(results["fp32"], params)
    same = bool(np.array_equal(fp32_labels, ais_segment(results["old"], params)))
    msa = held_out_accuracy(model, decoder, tiling, params, args.accuracy_frames, fp32_path, bf16_path)
    print(f"AIS decoder, {len(tiles)} tiles: old {med['old']:.1f} s | fp32 {med['fp32']:.1f} s "
          f"(x{med['old'] / med['fp32']:.2f}) | bf16 {med['bf16']:.1f} s (x{med['old'] / med['bf16']:.2f} vs old, "
          f"x{med['fp32'] / med['bf16']:.2f} vs fp32)")
    print(f"CPU time (user + sys): old {med_cpu['old']:.1f} s | fp32 {med_cpu['fp32']:.1f} s | "
          f"bf16 {med_cpu['bf16']:.1f} s (x{med_cpu['old'] / med_cpu['bf16']:.2f} vs old)")
    print(f"max |old - fp32| {max_diff(results['old'], results['fp32']):.1e} (labels identical: {same}); "
          f"max |fp32 - bf16| {max_diff(results['fp32'], results['bf16']):.3f}; objects fp32 "
          f"{int(fp32_labels.max())}, bf16 {int(labels.max())}")
    print(f"held-out HeLa mSA ({msa['frames']} frames): fp32 {msa['fp32']:.3f} | bf16 {msa['bf16']:.3f}")
    print(f"AIS total (bf16, served): decoder + post-processing {med['bf16'] + t_post:.1f} s, "
          f"{t_embed + med['bf16'] + t_post:.1f} s with the embedding")
    print(json.dumps({"tiles": len(tiles), "threads": args.threads, "reuse_memory": args.reuse_memory,
                      "runs": args.runs, "embedding_s": round(t_embed, 2),
                      **{f"{name}_decoder_s": round(value, 2) for name, value in med.items()},
                      **{f"{name}_decoder_cpu_s": round(value, 2) for name, value in med_cpu.items()},
                      "ratio_old_over_bf16": round(med["old"] / med["bf16"], 3),
                      "ratio_fp32_over_bf16": round(med["fp32"] / med["bf16"], 3),
                      "ratio_old_over_fp32": round(med["old"] / med["fp32"], 3),
                      "postprocess_s": round(t_post, 2), "old_fp32_labels_identical": same,
                      "max_abs_diff_fp32_bf16": max_diff(results["fp32"], results["bf16"]),
                      "objects": int(labels.max()), "heldout_msa": msa}))


def held_out_accuracy(model, decoder, tiling, params, n_frames: int, fp32_path, bf16_path) -> dict:
    """Mean segmentation accuracy of fp32 and bf16 decoding on held-out HeLa frames 15.. (bf16 embeddings)."""
    import sys
    from pathlib import Path

    from sambridge_server.engine.automatic.ais import ais_segment
    from sambridge_server.engine.embeddings import compute_embeddings
    from sambridge_server.engine.metrics import mean_segmentation_accuracy

    sys.path.insert(0, str(Path(__file__).parent))
    from eval_default_model import hela_set

    frames = hela_set().frames[:n_frames]
    scores: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for frame in frames:
        served = compute_embeddings(model, frame.image, tiling.tile_shape, tiling.halo, "bf16")
        for name, fn in (("fp32", fp32_path), ("bf16", bf16_path)):
            scores[name].append(mean_segmentation_accuracy(ais_segment(fn(served), params), frame.labels))
    return {"frames": len(frames), **{name: float(np.mean(v)) if v else float("nan") for name, v in scores.items()}}


if __name__ == "__main__":
    main()
