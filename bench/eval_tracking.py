"""Tracking accuracy before/after: CTC TRA, DET, LNK, link F1, division recall/precision.

Movies with a known lineage come from ``bench/tracking_sequences.py`` (displaced and late
daughters, one-frame detection gaps, mothers rounding and brightening; ``hela`` uses real HeLa
nucleus outlines). Two inputs per movie:

- ``given``: the ground-truth masks with fresh ids per frame (linking only);
- ``otsu``: masks predicted by Otsu + distance-transform watershed on the rendered image;
- ``ais``: masks predicted by AIS with the shipped default model (``--inputs given,otsu,ais``;
  ~7 s per frame on this CPU, so they are cached under ``$SAMBRIDGE_HOME/bench``).

``before`` is the previous linker (adjacent frames only, overlap/radius candidates, flat split
cost: ``LEGACY``); ``after`` the current defaults, given the image, and for ``ais`` masks with
detection gaps filled, as the Track RPC does with its own segmentation (``tracking/gaps.py``).
Parameters were chosen on ``tune`` only (``--tune`` reruns that grid search); the other movies
are reported. The last line is JSON.

    PYTHONPATH=server .venv/bin/python bench/eval_tracking.py [--sequences tune,small,large,hela] [--tune]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tracking_sequences import SPECS, Sequence, draw_sequence, otsu_watershed  # noqa: E402


def fresh_ids(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Every object gets a new random id per frame, as a per-frame segmentation gives."""
    rng = np.random.default_rng(seed)
    out = np.zeros(labels.shape, np.uint32)
    for t, frame in enumerate(labels):
        ids = np.unique(frame)[1:]
        lookup = np.zeros(int(frame.max()) + 1, np.uint32)
        lookup[ids] = rng.choice(np.arange(1, 10**6), size=len(ids), replace=False)
        out[t] = lookup[frame]
    return out


def ais_masks(name: str, image: np.ndarray) -> np.ndarray:
    """AIS labels of every frame with the shipped default model, through the engine's Workspace (cached)."""
    from sambridge_common.content_id import image_id

    from sambridge_server.config import ServerConfig
    from sambridge_server.default_model import cache_home, ensure_default_model
    from sambridge_server.engine.requests import EmbeddingRequest
    from sambridge_server.engine.workspace import Workspace

    stack = np.ascontiguousarray(image.astype(np.float32))
    key = image_id(stack, "tyx").replace(":", "_")
    path = cache_home() / "bench" / f"ais_{name}_{key}.npy"
    if path.exists():
        return np.load(path)
    workspace = Workspace(ServerConfig(port=0, models=[ensure_default_model()]))
    workspace.images.put(image_id(stack, "tyx"), stack, "tyx")
    start = time.perf_counter()
    labels = workspace.auto_segment(EmbeddingRequest(image_id=image_id(stack, "tyx")), method="ais").labels
    print(f"  AIS on {len(stack)} frames: {time.perf_counter() - start:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, labels)
    return labels


def run(sequence: Sequence, labels: np.ndarray, variant: str, time_limit_s: float, costs=None,
        own_segmentation: bool = False) -> dict:
    """Track ``labels`` with the ``before`` or ``after`` linker and score it against the truth.

    ``own_segmentation``: the labels are the server's AIS, so ``after`` fills detection gaps as
    the Track RPC does when it segments the movie itself."""
    from sambridge_server.engine.tracking.linking import track_labels
    from sambridge_server.engine.tracking.metrics import evaluate_tracking

    start = time.perf_counter()
    if variant == "before":
        result = track_labels(labels, **legacy_options(), time_limit_s=time_limit_s)
    else:
        result = track_labels(labels, costs, image=sequence.image, time_limit_s=time_limit_s,
                              fill_gaps=own_segmentation)
    seconds = time.perf_counter() - start
    s = evaluate_tracking(sequence.labels, sequence.tracks, result.labels, result.tracks)
    return {
        "TRA": round(s.tra, 4), "DET": round(s.det, 4), "LNK": round(s.lnk, 4),
        "link_F1": round(s.link_f1, 4), "div_recall": round(s.division_recall, 3),
        "div_precision": round(s.division_precision, 3),
        "divisions": f"{s.correct_divisions}/{s.reference_divisions} (+{s.extra_divisions} false)",
        "optimal": result.optimal, "nodes": result.n_nodes, "edges": result.n_edges, "seconds": round(seconds, 2),
    }


def legacy_options() -> dict:
    """The linker as it was before the division/gap work (issue 19)."""
    try:
        from sambridge_server.engine.tracking.solve import TrackingCosts

        return {"costs": TrackingCosts.legacy(), "max_gap": 1, "division_reach": 0.0}
    except AttributeError:  # the old engine itself
        return {}


GRID = {
    "split_cost": (2.0, 3.0, 4.0, 6.0, 8.0),
    "mother_evidence_reward": (2.0, 3.0),
    "sister_similarity_reward": (1.0, 2.0),
    "short_daughter_cost": (4.0, 6.0),
}
"""Weights searched on ``tune``; the rest stay at their defaults."""


def tune(time_limit_s: float, only: dict | None = None) -> None:
    """Grid search on ``tune`` (given and Otsu masks): rank by mean TRA + link F1 + division F1.

    ``only`` restricts the grid (name -> allowed values), to rerun a part of it.
    """
    import dataclasses
    import itertools

    from sambridge_server.engine.tracking.solve import TrackingCosts

    sequence = draw_sequence(SPECS["tune"])
    inputs = [fresh_ids(sequence.labels), otsu_watershed(sequence.image, sequence.radius)]
    ranking = []
    for values in itertools.product(*GRID.values()):
        if only and not all(dict(zip(GRID, values))[k] in v for k, v in only.items()):
            continue
        costs = dataclasses.replace(TrackingCosts(), **dict(zip(GRID, values)))
        total = 0.0
        for labels in inputs:
            r = run(sequence, labels, "after", time_limit_s, costs)
            p, c = r["div_precision"], r["div_recall"]
            total += (r["TRA"] + r["link_F1"] + (2 * p * c / (p + c) if p + c else 0.0)) / len(inputs)
        ranking.append((round(total, 4), dict(zip(GRID, values))))
        print(f"  {total:.4f} {dict(zip(GRID, values))}", flush=True)
    ranking.sort(key=lambda item: -item[0])
    print("best:", ranking[:5])


def main() -> None:
    """Run every sequence x input x variant and print one line each, then a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", default=",".join(SPECS))
    parser.add_argument("--variants", default="before,after")
    parser.add_argument("--inputs", default="given,otsu", help="masks to link: given, otsu, ais (slow)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--tune", action="store_true", help="grid-search the division weights on 'tune' only")
    args = parser.parse_args()
    if args.tune:
        tune(args.time_limit)
        return
    summary: dict = {}
    for name in args.sequences.split(","):
        sequence = draw_sequence(SPECS[name])
        makers = {"given": lambda: fresh_ids(sequence.labels),
                  "otsu": lambda: otsu_watershed(sequence.image, sequence.radius),
                  "ais": lambda: ais_masks(name, sequence.image)}
        inputs = {kind: makers[kind]() for kind in args.inputs.split(",")}
        n_div = int(np.sum(np.unique(sequence.tracks[:, 3][sequence.tracks[:, 3] > 0], return_counts=True)[1] > 1))
        print(f"== {name}{' (tuning)' if name == 'tune' else ''}: {sequence.labels.shape}, "
              f"{len(sequence.tracks)} tracks, {n_div} divisions")
        for input_name, labels in inputs.items():
            for variant in args.variants.split(","):
                scores = run(sequence, labels, variant, args.time_limit, own_segmentation=input_name == "ais")
                summary.setdefault(name, {}).setdefault(input_name, {})[variant] = scores
                print(f"  {input_name:>5} {variant:>6}: " + "  ".join(f"{k} {v}" for k, v in scores.items()))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
