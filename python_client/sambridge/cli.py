"""``sambridge``: drive a SAMBridge server from the command line (TIFF in, TIFF out)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _progress_bar(description: str):
    """A progress callback drawing a tqdm bar (stage, done, total)."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit="step", leave=False)

    def update(stage: str, done: int, total: int) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.set_description(f"{description} ({stage})" if stage else description)
        bar.n = done
        bar.refresh()

    update.close = bar.close  # type: ignore[attr-defined]
    return update


def _read(path: Path) -> np.ndarray:
    import tifffile

    return tifffile.imread(path)


def _write(path: Path, array: np.ndarray) -> None:
    import tifffile

    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, array, compression="zlib")


def _floats(text: str, n: int, what: str) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != n:
        raise argparse.ArgumentTypeError(f"{what} needs {n} comma-separated numbers, got {text!r}")
    return values


def _client(args: argparse.Namespace):
    from sambridge import Client

    return Client(args.address, token=args.token, tls=args.tls)


def cmd_models(args: argparse.Namespace) -> int:
    """Print the served models as JSON lines."""
    with _client(args) as client:
        for model in client.models():
            print(json.dumps(model))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    """Compute (and cache on the server) the embeddings of an image."""
    image = _read(args.image)
    bar = _progress_bar("embedding")
    with _client(args) as client:
        result = client.embed(image, model=args.model, tile_shape=args.tile, halo=args.halo, progress=bar, axes=args.axes)
    bar.close()
    print(f"embedded {result.n_slices} plane(s), {result.n_tiles} tile(s) each, {result.n_cached} from cache, "
          f"{result.seconds:.2f} s")
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment objects from boxes and/or points into a label TIFF."""
    image = _read(args.image)
    boxes = [_floats(b, 4, "--box") for b in args.box]
    points = [_floats(p, 2, "--point") for p in args.point]
    negatives = [_floats(p, 2, "--negative") for p in args.negative]
    if not boxes and not points:
        print("sambridge segment: give at least one --box or --point", file=sys.stderr)
        return 2
    with _client(args) as client:
        labels = client.segment_objects(image, points=points or None, boxes=boxes or None,
                                        negative_points=negatives or None, model=args.model,
                                        tile_shape=args.tile, halo=args.halo, index=args.index, axes=args.axes)
    _write(args.output, labels)
    print(f"wrote {args.output}: {len(np.unique(labels)) - 1} object(s)")
    return 0


def cmd_auto(args: argparse.Namespace) -> int:
    """Automatic instance segmentation into a label TIFF."""
    image = _read(args.image)
    bar = _progress_bar(args.method)
    with _client(args) as client:
        labels = client.auto_segment(image, method=args.method, model=args.model, tile_shape=args.tile,
                                     halo=args.halo, progress=bar, axes=args.axes)
    bar.close()
    _write(args.output, labels)
    print(f"wrote {args.output}: {len(np.unique(labels)) - 1} object(s)")
    return 0


def cmd_propagate(args: argparse.Namespace) -> int:
    """Propagate every object of a 2D label TIFF on slice --z through a (z, y, x) volume."""
    volume = _read(args.image)
    labels_2d = _read(args.labels)
    bar = _progress_bar("propagating")
    with _client(args) as client:
        labels = client.propagate_objects(volume, labels_2d, args.z, mode=args.mode, iou_threshold=args.iou_threshold,
                                          all_planes=args.all_planes, model=args.model, progress=bar)
    bar.close()
    _write(args.output, labels)
    print(f"wrote {args.output}: {len(np.unique(labels)) - 1} object(s) over {labels.shape[0]} slices")
    return 0


def cmd_auto3d(args: argparse.Namespace) -> int:
    """Automatic 3D segmentation of a (z, y, x) volume into a label TIFF."""
    volume = _read(args.image)
    bar = _progress_bar("segmenting")
    with _client(args) as client:
        labels = client.auto_segment_3d(volume, method=args.method, model=args.model, min_overlap=args.min_overlap,
                                        gap_closing=args.gap_closing, min_z_extent=args.min_z_extent,
                                        all_planes=args.all_planes, progress=bar)
    bar.close()
    _write(args.output, labels)
    print(f"wrote {args.output}: {len(np.unique(labels)) - 1} 3D object(s)")
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    """Track objects through a (t, y, x) TIFF; write the result in CTC layout (mask###.tif + res_track.txt)."""
    image = _read(args.image)
    start = None
    if args.method == "interactive":
        start = _start_annotation(args)
        if start is None:
            print("sambridge track: interactive tracking needs --box, --point or --mask on --frame", file=sys.stderr)
            return 2
    labels = _read(args.labels) if args.labels else None
    costs = {name: getattr(args, name) for name in _COST_OPTIONS if getattr(args, name) is not None}
    bar = _progress_bar("tracking")
    with _client(args) as client:
        result = client.track(image, labels=labels, method=args.method, model=args.model, axes=args.axes or "tyx",
                              time_limit_s=args.time_limit, progress=bar, start=start,
                              iou_threshold=args.iou_threshold, backward=args.backward,
                              tile_shape=args.tile, halo=args.halo, **costs)
    bar.close()
    result.export_ctc(args.output)
    print(f"wrote {args.output}: {len(result.tracks)} track(s), {result.n_divisions} division(s), "
          f"{result.solver_status}")
    return 0


_COST_OPTIONS = ("max_distance", "edge_distance_weight", "edge_iou_weight", "appear_cost", "split_cost",
                 "disappear_cost", "edge_constant", "selection_reward")


def _start_annotation(args: argparse.Namespace) -> dict | None:
    """The interactive start annotation from --frame with --mask, or --box and/or --point/--negative."""
    if args.mask:
        return {"t": args.frame, "mask": _read(args.mask).astype(bool)}
    points = [_floats(p, 2, "--point") for p in args.point]
    negatives = [_floats(p, 2, "--negative") for p in args.negative]
    if not args.box and not points:
        return None
    annotation: dict = {"t": args.frame}
    if points or negatives:
        annotation["points"] = points + negatives
        annotation["point_labels"] = [1] * len(points) + [0] * len(negatives)
    if args.box:
        annotation["box"] = _floats(args.box, 4, "--box")
    return annotation


def cmd_demo(args: argparse.Namespace) -> int:
    """Start a local server on the default model and segment a sample image (the README's main job)."""
    from sambridge.demo import run_demo

    return run_demo(args.output, method=args.method)


def cmd_train(args: argparse.Namespace) -> int:
    """Start a training job on image/label TIFF pairs and follow it with a progress bar."""
    from tqdm import tqdm

    if len(args.images) != len(args.labels):
        raise SystemExit("sambridge train: give as many --labels as --images")
    with _client(args) as client:
        pairs = [(_read(i), _read(l)) for i, l in zip(args.images, args.labels)]
        job = client.train(args.output_model, pairs, data_dir=args.data_dir or "", base_model=args.model or "",
                           preset=args.preset, epochs=args.epochs, time_budget_s=args.time_budget,
                           validation_fraction=args.validation_fraction, lora_rank=args.lora_rank,
                           lr=args.lr, steps_per_epoch=args.steps_per_epoch, patch_size=args.patch_size,
                           freeze_encoder=args.freeze_encoder)
        print(f"job {job.job_id} queued (Ctrl-C stops watching, not the job)", file=sys.stderr)
        return _follow(client, job, tqdm)


def _follow(client, job, tqdm) -> int:
    """Draw the job's progress until it ends; exit status 0 only for SUCCEEDED."""
    bar = tqdm(unit="step")
    final = job
    for event in client.watch(job):
        if "progress" in event:
            p = event["progress"]
            bar.total = p["total_steps"] or None
            bar.n = p["step"]
            loss = p["losses"].get("loss")
            bar.set_postfix(epoch=p["epoch"], loss=f"{loss:.3f}" if loss is not None else "-",
                            val_msa=f"{p['val_msa']:.3f}", lr=f"{p['lr']:.1e}", eta=f"{p['eta_s']:.0f}s")
            bar.refresh()
        else:
            final = event["job"]
            bar.set_description(final.state.lower())
    bar.close()
    print(json.dumps(final.__dict__))
    return 0 if final.state == "SUCCEEDED" else 1


def cmd_jobs(args: argparse.Namespace) -> int:
    """Print the server's training jobs as JSON lines."""
    with _client(args) as client:
        for job in client.jobs():
            print(json.dumps(job.__dict__))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a training job."""
    with _client(args) as client:
        print(json.dumps(client.cancel_job(args.job_id).__dict__))
    return 0


def cmd_train_default(args: argparse.Namespace) -> int:
    """Run the default model's training recipe locally (bench/train_default_model.py)."""
    import runpy

    script = Path(__file__).resolve().parents[2] / "bench" / "train_default_model.py"
    if not script.exists():
        raise SystemExit("sambridge train-default needs a source checkout (bench/train_default_model.py)")
    sys.argv = [str(script), *args.recipe_args]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sambridge`` command."""
    parser = argparse.ArgumentParser(prog="sambridge", description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:50051", help="server address host:port")
    parser.add_argument("--token", default=None, help="bearer token of the server")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    sub = parser.add_subparsers(dest="command", required=True)

    def image_command(name: str, func, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("image", type=Path, help="input TIFF")
        cmd.add_argument("--axes", default=None, help="axes of the TIFF (yx, yxc, zyx, tyx, ...); default by rank")
        cmd.add_argument("--model", default=None, help="model name (default: the server's default)")
        cmd.add_argument("--tile", type=lambda t: t if t == "whole" else [int(v) for v in t.split(",")], default=None,
                         help="tile shape y,x for large images (default: the model's native tiling; "
                              "'whole': one SAM input)")
        cmd.add_argument("--halo", type=lambda t: [int(v) for v in t.split(",")], default=None, help="halo y,x")
        cmd.set_defaults(func=func)
        return cmd

    sub.add_parser("models", help="list the served models").set_defaults(func=cmd_models)
    image_command("embed", cmd_embed, "precompute embeddings (cached on the server)")
    seg = image_command("segment", cmd_segment, "segment objects from prompts")
    seg.add_argument("-o", "--output", type=Path, required=True, help="output label TIFF")
    seg.add_argument("--box", action="append", default=[], help="x0,y0,x1,y1 (repeatable: one object each)")
    seg.add_argument("--point", action="append", default=[], help="x,y positive point (one object each)")
    seg.add_argument("--negative", action="append", default=[], help="x,y negative point shared by all objects")
    seg.add_argument("--index", type=int, default=0, help="slice/frame of a stack")
    auto = image_command("auto", cmd_auto, "automatic instance segmentation")
    auto.add_argument("-o", "--output", type=Path, required=True, help="output label TIFF")
    auto.add_argument("--method", default="auto", choices=["auto", "ais", "amg"])
    prop = image_command("propagate", cmd_propagate, "propagate the objects of one slice through a volume")
    prop.add_argument("--labels", type=Path, required=True, help="2D label TIFF of the objects on slice --z")
    prop.add_argument("--z", type=int, required=True, help="slice the labels belong to")
    prop.add_argument("-o", "--output", type=Path, required=True, help="output (z, y, x) label TIFF")
    prop.add_argument("--mode", default="single_point", choices=["single_point", "points", "box", "mask",
                                                                  "points_and_mask"])
    prop.add_argument("--iou-threshold", type=float, default=None, help="stop below this IoU (default 0.5)")
    prop.add_argument("--all-planes", action="store_true", help="refine in the zy and zx planes too")
    auto3d = image_command("auto3d", cmd_auto3d, "automatic 3D segmentation of a volume")
    auto3d.add_argument("-o", "--output", type=Path, required=True, help="output (z, y, x) label TIFF")
    auto3d.add_argument("--method", default="auto", choices=["auto", "ais", "amg"])
    auto3d.add_argument("--min-overlap", type=float, default=None, help="merge threshold (default 0.3)")
    auto3d.add_argument("--gap-closing", type=int, default=None, help="slices an object may skip (default 1)")
    auto3d.add_argument("--min-z-extent", type=int, default=None, help="drop objects on fewer slices")
    auto3d.add_argument("--all-planes", action="store_true", help="refine in the zy and zx planes too")
    track = image_command("track", cmd_track, "track objects in a (t, y, x) series, CTC output")
    track.add_argument("-o", "--output", type=Path, required=True, help="output folder (mask###.tif + res_track.txt)")
    track.add_argument("--method", default="auto", choices=["auto", "interactive"])
    track.add_argument("--labels", type=Path, default=None, help="auto: (t, y, x) label TIFF to link")
    track.add_argument("--time-limit", type=float, default=None, help="auto: solver time limit in s (default 60)")
    for name in _COST_OPTIONS:
        track.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float, default=None,
                           help=f"auto: linking cost {name}")
    track.add_argument("--frame", type=int, default=0, help="interactive: frame of the annotation")
    track.add_argument("--box", default=None, help="interactive: x0,y0,x1,y1 of the object")
    track.add_argument("--point", action="append", default=[], help="interactive: x,y positive point")
    track.add_argument("--negative", action="append", default=[], help="interactive: x,y negative point")
    track.add_argument("--mask", type=Path, default=None, help="interactive: 2D mask TIFF of the object")
    track.add_argument("--iou-threshold", type=float, default=None, help="interactive: stop below this IoU")
    track.add_argument("--backward", action="store_true", help="interactive: also follow the object backward")
    train = sub.add_parser("train", help="finetune a model on image/label TIFF pairs (a server-side job)")
    train.add_argument("output_model", help="name of the trained model")
    train.add_argument("--images", type=Path, nargs="*", default=[], help="image TIFFs")
    train.add_argument("--labels", type=Path, nargs="*", default=[], help="label TIFFs (same order)")
    train.add_argument("--data-dir", default=None, help="server-side folder with images/ and labels/")
    train.add_argument("--model", default=None, help="base model (default: the server's default)")
    train.add_argument("--preset", default="auto", choices=["auto", "cpu", "gpu_small", "gpu_large"])
    train.add_argument("--epochs", type=int, default=0)
    train.add_argument("--time-budget", type=float, default=0.0, help="seconds")
    train.add_argument("--validation-fraction", type=float, default=0.1)
    train.add_argument("--lora-rank", type=int, default=0)
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: the preset's)")
    train.add_argument("--steps-per-epoch", type=int, default=None,
                       help="optimizer steps per epoch; a checkpoint follows each epoch (default: the preset's)")
    train.add_argument("--patch-size", type=int, default=None,
                       help="training patch side in pixels, a multiple of 16 (default: the preset's)")
    train.add_argument("--freeze-encoder", action="store_true",
                       help="train only the prompt encoder and mask decoder (fast on CPU)")
    train.set_defaults(func=cmd_train)
    sub.add_parser("jobs", help="list training jobs").set_defaults(func=cmd_jobs)
    cancel = sub.add_parser("cancel", help="cancel a training job")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=cmd_cancel)
    default = sub.add_parser("train-default", help="reproduce the default model (runs locally, needs the source)")
    default.add_argument("recipe_args", nargs=argparse.REMAINDER, help="options of bench/train_default_model.py")
    default.set_defaults(func=cmd_train_default)
    demo = sub.add_parser("demo", help="serve the default model locally and segment a sample image")
    demo.add_argument("-o", "--output", type=Path, default=Path("sambridge_demo"), help="output folder")
    demo.add_argument("--method", default="auto", choices=["auto", "ais", "amg"])
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sambridge``."""
    args = build_parser().parse_args(argv)
    from sambridge.client import SamBridgeError

    try:
        return args.func(args)
    except SamBridgeError as err:
        print(f"sambridge: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
