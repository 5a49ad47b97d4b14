"""Every GPU measurement of issue 18 in one short run, for a 15-minute device session.

Runs, one after another on ``--device`` (each stage a subprocess with its own time limit, so
one failure does not lose the others):

1. ``bench_embeddings.py``: micro_sam's fp32 embedding vs ours in fp32 and bf16 (vit_b also
   torch.compile'd, as ``--compile`` serves it), one-point decode, 100 objects batched,
   bf16-vs-fp32 mask IoU (vit_b, then vit_h with ``--vit-h``);
2. ``bench_encoder_batching.py``: 8 concurrent users, serial vs batched throughput;
3. ``bench_grpc.py``: decode round trip over loopback gRPC vs in-process.

Prints each stage's table as it comes, then one JSON line with every stage's JSON (or its error).

    PYTHONPATH=server:python_client python bench/bench_gpu.py [--device cuda] [--vit-h]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def stages(device: str, vit_h: bool) -> list[tuple[str, list[str], int]]:
    """(name, script arguments, time limit in seconds) of every stage."""
    out = [
        ("embeddings_vit_b", ["bench_embeddings.py", "--device", device, "--repeats", "5", "--decode-repeats", "30",
                              "--compile"], 360),
        ("encoder_batching_vit_b", ["bench_encoder_batching.py", "--device", device, "--users", "8", "--repeats", "5"], 240),
        ("grpc_vit_b", ["bench_grpc.py", "--device", device, "--repeats", "60"], 180),
    ]
    if vit_h:
        out.append(("embeddings_vit_h", ["bench_embeddings.py", "--device", device, "--model-type", "vit_h",
                                         "--repeats", "5", "--decode-repeats", "10"], 300))
    return out


def run_stage(arguments: list[str], limit_s: int) -> tuple[dict | str, float]:
    """Run one bench script; its last line parsed as JSON, or the reason it gave none."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "server"), str(HERE.parent / "python_client"),
                                                        os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(HERE / arguments[0]), *arguments[1:]], env=env, text=True,
                              capture_output=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return f"timed out after {limit_s} s", time.perf_counter() - start
    print(done.stdout, flush=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last_error = (done.stderr.strip().splitlines() or [""])[-1]
        return f"exit {done.returncode}: {last_error}", time.perf_counter() - start
    try:
        return json.loads(lines[-1]), time.perf_counter() - start
    except json.JSONDecodeError:
        return f"no JSON last line: {lines[-1][:200]}", time.perf_counter() - start


def main() -> None:
    """Run every stage and print one JSON summary line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--vit-h", action="store_true", help="also vit_h embeddings (~5 more minutes)")
    args = parser.parse_args()
    import torch

    card = torch.cuda.get_device_name(0) if args.device.startswith("cuda") and torch.cuda.is_available() else "cpu"
    print(f"device {args.device}: {card}, torch {torch.__version__}", flush=True)
    summary: dict = {"device": args.device, "card": card}
    for name, arguments, limit in stages(args.device, args.vit_h):
        print(f"== {name}: {' '.join(arguments)}", flush=True)
        result, seconds = run_stage(arguments, limit)
        summary[name] = result
        print(f"   ({seconds:.0f} s)", flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
