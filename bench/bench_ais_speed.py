"""AIS decoder speed with the default model, old full-tile path vs the current one, side by side.

One process, one 700 x 1100 HeLa frame (the demo image shipped in the server package), the
default model in its native tiling (15 tiles of 256 px + 64 px halo), embeddings computed once
as served (bf16 encoder) and shared by both sides:
- old: every tile through ``AISDecoder.forward`` at 1024 px, then resized (the path before
  ``predict_window``);
- new: ``embeddings_ais_maps`` (1x1 convs before upsampling, last conv and head on the inner block).
Runs alternate old/new; medians over ``--runs``. Checks the two give the same maps (max abs
difference) and the same labels. The last line is JSON.

Run:  .venv/bin/python bench/bench_ais_speed.py [--runs 3] [--threads 2] [--reuse-memory]
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
    parser.add_argument("--reuse-memory", action="store_true",
                        help="glibc keeps freed blocks for reuse (sambridge_server.allocator), both paths")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.reuse_memory:
        from sambridge_server.allocator import reuse_freed_memory

        print(f"reuse freed memory: {reuse_freed_memory()}")

    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.demo import sample_image
    from sambridge_server.engine.ais import (AISMaps, ais_segment, default_ais_params, embeddings_ais_maps,
                                             stitch_tile_maps)
    from sambridge_server.engine.ais_decoder import build_ais_decoder, resize_to_original
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

    def new_path() -> AISMaps:
        return embeddings_ais_maps(decoder, embeddings)

    times: dict[str, list[float]] = {"old": [], "new": []}
    cpu: dict[str, list[float]] = {"old": [], "new": []}  # user + sys seconds: less sensitive to other load
    results: dict[str, AISMaps] = {}
    for run in range(args.runs):
        for name, fn in (("old", old_path), ("new", new_path)):
            start, usage = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu[name].append(after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime)
            print(f"run {run + 1}/{args.runs} {name}: {times[name][-1]:.1f} s wall, {cpu[name][-1]:.1f} s CPU "
                  f"(sys {after.ru_stime - usage.ru_stime:.1f} s)", flush=True)
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    old_cpu, new_cpu = statistics.median(cpu["old"]), statistics.median(cpu["new"])
    diff = max(float(np.abs(getattr(results["old"], f) - getattr(results["new"], f)).max())
               for f in ("foreground", "center_distances", "boundary_distances"))
    params = default_ais_params("default")
    start = time.perf_counter()
    labels = ais_segment(results["new"], params)
    t_post = time.perf_counter() - start
    same = bool(np.array_equal(labels, ais_segment(results["old"], params)))
    print(f"AIS decoder, {len(tiles)} tiles: old {old:.1f} s | new {new:.1f} s (x{old / new:.2f}) | "
          f"max |old - new| {diff:.1e}, labels identical: {same}, {int(labels.max())} objects")
    print(f"CPU time (user + sys): old {old_cpu:.1f} s | new {new_cpu:.1f} s (x{old_cpu / new_cpu:.2f})")
    print(f"AIS total: decoder + post-processing {new + t_post:.1f} s (embedding excluded), "
          f"{t_embed + new + t_post:.1f} s with the embedding")
    print(json.dumps({"tiles": len(tiles), "threads": args.threads, "reuse_memory": args.reuse_memory, "runs": args.runs, "embedding_s": round(t_embed, 2),
                      "old_decoder_s": round(old, 2), "new_decoder_s": round(new, 2), "ratio": round(old / new, 3),
                      "old_decoder_cpu_s": round(old_cpu, 2), "new_decoder_cpu_s": round(new_cpu, 2),
                      "cpu_ratio": round(old_cpu / new_cpu, 3),
                      "postprocess_s": round(t_post, 2), "max_abs_diff": diff, "labels_identical": same,
                      "objects": int(labels.max())}))


if __name__ == "__main__":
    main()
