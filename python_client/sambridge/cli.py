"""``sambridge``: drive a SAMBridge server from the command line (TIFF in, TIFF out)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def _progress_bar(description: str):
    """A progress callback (stage, done, total) drawing one tqdm bar per stage (e.g. embedding, decoding)."""
    from tqdm import tqdm

    bars: dict = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(desc=f"{description} ({stage})" if stage else description, unit="step",
                               position=len(bars), leave=True)
        bar = bars[stage]
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    update.close = close  # type: ignore[attr-defined]
    return update


class UsageError(Exception):
    """A user mistake: ``main`` prints the message as one line on stderr and exits with 2."""


def _read(path: Path) -> np.ndarray:
    """The pixels of a TIFF file; UsageError if it is missing, unreadable or not a TIFF."""
    import tifffile

    try:
        return tifffile.imread(path)
    except tifffile.TiffFileError:
        raise UsageError(f"{path} is not a TIFF file") from None
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None


def _read_image(args: argparse.Namespace) -> np.ndarray:
    """``args.image`` as the server takes it: with ``--axes`` (and ``--channel``/``--timepoint``)
    selected and channels moved last; sets ``args.axes`` to the axes the array now has."""
    from sambridge import wire

    image = _read(args.image)
    channels, timepoint = getattr(args, "channel", None) or None, getattr(args, "timepoint", None)
    if args.axes is None and channels is None and timepoint is None:
        return image
    try:
        axes = args.axes or wire.guess_axes(image.shape)
        image, args.axes = wire.normalize(image, axes.lower(), channels, timepoint)
    except wire.WireError as err:
        raise UsageError(f"{args.image}: {err}") from None
    return image


def _write(path: Path, array: np.ndarray) -> None:
    """Write a label image or stack; stacks as (z, y, x) grayscale planes (never tagged RGB)."""
    import tifffile

    axes = {2: "YX", 3: "ZYX"}.get(array.ndim)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, array, compression="zlib", photometric="minisblack",
                         metadata={"axes": axes} if axes else {})
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None


def _floats(text: str, n: int, what: str) -> list[float]:
    """``n`` comma-separated numbers; UsageError naming the option otherwise."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != n:
        raise UsageError(f"{what} needs {n} comma-separated numbers, got {text!r}")
    return values


def _pair(text: str) -> list[int]:
    """An argparse type: 'y,x' as two integers."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"needs two comma-separated integers y,x, got {text!r}")
    return values


def _tile(text: str) -> list[int] | str:
    """An argparse type: 'whole' or 'y,x'."""
    return text if text == "whole" else _pair(text)


def _client(args: argparse.Namespace):
    from sambridge import Client

    return Client(args.address, token=args.token, tls=args.tls, session=getattr(args, "session", None) or _session())


def _session() -> str:
    """This user's CLI session id: random, created once, private (handles are owned by it)."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sambridge"
    path = folder / "cli-session"
    try:
        return path.read_text().strip() or _new_session(folder, path)
    except OSError:
        return _new_session(folder, path)


def _new_session(folder: Path, path: Path) -> str:
    import secrets

    session = secrets.token_hex(16)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(session)
    except OSError:  # a read-only home: handles then last for this command only
        pass
    return session


def cmd_models(args: argparse.Namespace) -> int:
    """Print the served models (``--available``: the server's registry models) as JSON lines."""
    with _client(args) as client:
        for model in client.available_models() if args.available else client.models():
            print(json.dumps(model))
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    """Have the server download (if needed) and serve a registry model, with a progress bar."""
    import grpc

    from sambridge.client import SamBridgeError

    bar = _progress_bar(f"pull {args.name}")
    try:
        with _client(args) as client:
            info = client.load_model(args.name, progress=bar)
    except SamBridgeError as err:
        bar.close()
        if err.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            print(f"sambridge pull: {err.details}", file=sys.stderr)
            return 2
        raise
    bar.close()
    print(json.dumps(info))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    """Compute (and cache on the server) the embeddings of an image."""
    image = _read_image(args)
    bar = _progress_bar("embedding")
    with _client(args) as client:
        result = client.embed(image, model=args.model, tile_shape=args.tile, halo=args.halo, progress=bar, axes=args.axes)
    bar.close()
    print(f"embedded {result.n_slices} plane(s), {result.n_tiles} tile(s) each, {result.n_cached} from cache, "
          f"{result.seconds:.2f} s")
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment objects from boxes and/or points into a label TIFF."""
    image = _read_image(args)
    boxes = [_floats(b, 4, "--box") for b in args.box]
    points = [_floats(p, 2, "--point") for p in args.point]
    negatives = [_floats(p, 2, "--negative") for p in args.negative]
    if args.object_id:
        return _segment_handle(args, image, boxes, points, negatives)
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


def _segment_handle(args: argparse.Namespace, image, boxes, points, negatives) -> int:
    """One object through its handle: this call's prompts are added to the object's earlier ones."""
    if len(boxes) > 1:
        print("sambridge segment: --object-id takes at most one --box (one object)", file=sys.stderr)
        return 2
    if not boxes and not points and not negatives:
        print("sambridge segment: give a --box, --point or --negative for the object", file=sys.stderr)
        return 2
    clicks = points + negatives
    with _client(args) as client:
        mask = client.segment(image, points=clicks or None, point_labels=[1] * len(points) + [0] * len(negatives),
                              box=boxes[0] if boxes else None, object_id=args.object_id, model=args.model,
                              tile_shape=args.tile, halo=args.halo, index=args.index, axes=args.axes)
    return _write_object(args, mask)


def _write_object(args: argparse.Namespace, mask: np.ndarray) -> int:
    _write(args.output, mask.astype(np.uint32))
    print(f"wrote {args.output}: object {args.object_id!r}, {int(mask.sum())} px")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    """Step an object back to its state before its last call; write that mask."""
    image = _read_image(args)
    with _client(args) as client:
        mask = client.undo(image, args.object_id, model=args.model, tile_shape=args.tile, halo=args.halo,
                           index=args.index, axes=args.axes)
    return _write_object(args, mask)


def cmd_reset(args: argparse.Namespace) -> int:
    """Clear an object's prompts on the server (undo brings them back)."""
    image = _read_image(args)
    with _client(args) as client:
        client.reset_object(image, args.object_id, model=args.model, tile_shape=args.tile, halo=args.halo,
                            index=args.index, axes=args.axes)
    print(f"reset object {args.object_id!r}")
    return 0


def cmd_auto(args: argparse.Namespace) -> int:
    """Automatic instance segmentation into a label TIFF."""
    image = _read_image(args)
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
    volume = _volume(args)
    labels_2d = _read(args.labels)
    bar = _progress_bar("propagating")
    with _client(args) as client:
        labels = client.propagate_objects(volume, labels_2d, args.z, projection=args.projection,
                                          iou_threshold=args.iou_threshold,
                                          all_planes=args.all_planes, model=args.model, progress=bar,
                                          method=args.method)
    bar.close()
    _write(args.output, labels)
    print(f"wrote {args.output}: {len(np.unique(labels)) - 1} object(s) over {labels.shape[0]} slices")
    return 0


def _volume(args: argparse.Namespace) -> np.ndarray:
    """``args.image`` as a (z, y, x) volume (after the --axes/--channel/--timepoint selection)."""
    volume = _read_image(args)
    if volume.ndim != 3 or (args.axes or "zyx") != "zyx":
        raise UsageError(f"{args.image}: a (z, y, x) volume is needed, got shape {volume.shape}"
                         f"{f' with axes {args.axes!r}' if args.axes else ''}; give --axes (and --channel)")
    return volume


def cmd_auto3d(args: argparse.Namespace) -> int:
    """Automatic 3D segmentation of a (z, y, x) volume into a label TIFF."""
    volume = _volume(args)
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
    image = _read_image(args)
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
        if args.method == "interactive":
            result = client.follow(image, start, model=args.model, axes=args.axes or "tyx", progress=bar,
                                   iou_threshold=args.iou_threshold, backward=args.backward,
                                   tile_shape=args.tile, halo=args.halo, method=args.follow_method)
        else:
            result = client.track(image, labels=labels, model=args.model, axes=args.axes or "tyx",
                                  time_limit_s=args.time_limit, progress=bar, tile_shape=args.tile, halo=args.halo,
                                  **costs)
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


def cmd_train(args: argparse.Namespace) -> int:
    """Start a training job on image/label TIFF pairs and follow it with a progress bar."""
    from tqdm import tqdm

    if len(args.images) != len(args.labels):
        raise UsageError("give as many --labels as --images")
    with _client(args) as client:
        pairs = [(_read(image), _read(labels)) for image, labels in zip(args.images, args.labels)]
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


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a batch job (server-side inputs, or local TIFFs with --upload) and follow it."""
    from tqdm import tqdm

    if not args.output and args.method != "embed":
        raise UsageError("give the output folder: -o OUT.zarr (under the server's --data-root)")
    params = {}
    for item in args.param:
        name, _, value = item.partition("=")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--param takes NAME=NUMBER, got {item!r}") from None
    with _client(args) as client:
        inputs = [_read(Path(i)) for i in args.inputs] if args.upload else list(args.inputs)
        job = client.batch(inputs, args.output or "", method=args.method, model=args.model, level=args.level,
                           chunk_size=args.chunk_size, overlap=args.overlap, auto_3d=args.auto_3d, wait=False,
                           **params)
        print(f"batch {job.job_id} queued: {job.chunks_total} chunks (Ctrl-C stops watching, not the job)",
              file=sys.stderr)
        if args.no_wait:
            print(json.dumps(job.__dict__))
            return 0
        bar = tqdm(unit="chunk", total=job.chunks_total or None)
        for event in client.watch_batch(job):
            if "progress" in event:
                p = event["progress"]
                bar.set_description(p["stage"])
                bar.total, bar.n = p["total"] or None, p["done"]
                bar.set_postfix(computed=p["chunks_computed"], reused=p["chunks_reused"])
                bar.refresh()
            else:
                job = event["job"]
        bar.close()
    print(json.dumps(job.__dict__))
    if job.state != "SUCCEEDED":
        print(f"sambridge batch: {job.state.lower()}: {_one_line(job.message)}", file=sys.stderr)
        return 1
    return 0


def cmd_train_default(args: argparse.Namespace) -> int:
    """Run the default model's training recipe locally (bench/train_default_model.py)."""
    import runpy

    script = Path(__file__).resolve().parents[2] / "bench" / "train_default_model.py"
    if not script.exists():
        raise UsageError("train-default needs a source checkout (bench/train_default_model.py)")
    sys.argv = [str(script), *args.recipe_args]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sambridge`` command."""
    parser = _Parser(prog="sambridge", description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:50051", help="server address host:port")
    parser.add_argument("--token", default=None, help="bearer token of the server")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--session", default=os.environ.get("SAMBRIDGE_SESSION"),
                        help="session that owns --object-id handles across commands (default: a random id kept "
                             "in ~/.cache/sambridge/cli-session, or $SAMBRIDGE_SESSION)")
    sub = parser.add_subparsers(dest="command", required=True)

    def image_command(name: str, func, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("image", type=Path, help="input TIFF")
        cmd.add_argument("--axes", default=None,
                         help="axes of the TIFF: yx, yxc, zyx, zyxc, tyx, tyxc, czyx, zcyx, tzyx, tczyx "
                              "(default by rank)")
        cmd.add_argument("--channel", type=int, action="append", default=None,
                         help="channel to use (repeatable; one channel: grayscale; default: all)")
        cmd.add_argument("--timepoint", type=int, default=None, help="time point of a tzyx/tczyx TIFF")
        cmd.add_argument("--model", default=None, help="model name (default: the server's default)")
        cmd.add_argument("--tile", type=_tile, default=None,
                         help="tile shape y,x for large images (default: the model's native tiling; "
                              "'whole': one SAM input)")
        cmd.add_argument("--halo", type=_pair, default=None, help="halo y,x")
        cmd.set_defaults(func=func)
        return cmd

    models = sub.add_parser("models", help="list the served models")
    models.add_argument("--available", action="store_true",
                        help="list the models the server can serve by name (its registry), downloaded or not")
    models.set_defaults(func=cmd_models)
    pull = sub.add_parser("pull", help="have the server download (if needed) and serve a registry model")
    pull.add_argument("name", help="registry model name, e.g. vit_b_lm (see: models --available)")
    pull.set_defaults(func=cmd_pull)
    image_command("embed", cmd_embed, "precompute embeddings (cached on the server)")
    seg = image_command("segment", cmd_segment, "segment objects from prompts")
    seg.add_argument("-o", "--output", type=Path, required=True, help="output label TIFF")
    seg.add_argument("--box", action="append", default=[], help="x0,y0,x1,y1 (repeatable: one object each)")
    seg.add_argument("--point", action="append", default=[], help="x,y positive point (one object each)")
    seg.add_argument("--negative", action="append", default=[], help="x,y negative point shared by all objects")
    seg.add_argument("--index", type=int, default=0, help="slice/frame of a stack")
    seg.add_argument("--object-id", default="",
                     help="continue this object: the prompts are added to its earlier ones (see undo, reset); "
                          "writes its mask (label 1)")
    for name, func, text in (("undo", cmd_undo, "step an object back before its last segment call"),
                             ("reset", cmd_reset, "clear an object's prompts (undo restores them)")):
        handle = image_command(name, func, text)
        handle.add_argument("--object-id", required=True, help="the object's id, as given to segment")
        handle.add_argument("--index", type=int, default=0, help="slice/frame of a stack")
        if name == "undo":
            handle.add_argument("-o", "--output", type=Path, required=True, help="output mask TIFF (label 1)")
    auto = image_command("auto", cmd_auto, "automatic instance segmentation")
    auto.add_argument("-o", "--output", type=Path, required=True, help="output label TIFF")
    auto.add_argument("--method", default="auto", choices=["auto", "ais", "amg"])
    prop = image_command("propagate", cmd_propagate, "propagate the objects of one slice through a volume")
    prop.add_argument("--labels", type=Path, required=True, help="2D label TIFF of the objects on slice --z")
    prop.add_argument("--z", type=int, required=True, help="slice the labels belong to")
    prop.add_argument("-o", "--output", type=Path, required=True, help="output (z, y, x) label TIFF")
    prop.add_argument("--projection", "--mode", dest="projection", default="single_point",
                      choices=["single_point", "points", "box", "mask", "points_and_mask"],
                      help="how each next slice is prompted from the previous mask (--mode: old name)")
    prop.add_argument("--iou-threshold", type=float, default=None, help="stop below this IoU (default 0.5)")
    prop.add_argument("--all-planes", action="store_true", help="refine in the zy and zx planes too")
    prop.add_argument("--method", default=None, choices=["prompts", "memory"],
                      help="prompts (SAM1-family models) or memory (SAM2 models); default: the model's own")
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
    track.add_argument("--follow-method", default=None, choices=["prompts", "memory"],
                       help="interactive: prompts (SAM1-family models) or memory (SAM2 models); default: the model's own")
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
    batch = sub.add_parser("batch", help="segment folders / stacks / whole slides as a server job on Dask")
    batch.add_argument("inputs", nargs="+",
                       help="server-side TIFF / OME-TIFF / OME-Zarr files, folders or globs under the server's "
                            "--data-root (with --upload: local TIFFs)")
    batch.add_argument("-o", "--output", default=None, help="output .zarr folder under the server's --data-root")
    batch.add_argument("--method", default="ais", choices=["ais", "amg", "auto", "threshold", "embed"])
    batch.add_argument("--model", default=None, help="model name (default: the server's default)")
    batch.add_argument("--level", type=int, default=0, help="pyramid level of OME-TIFF / OME-Zarr inputs")
    batch.add_argument("--chunk-size", type=int, default=0, help="chunk side in pixels (default 2048)")
    batch.add_argument("--overlap", type=int, default=0,
                       help="chunk overlap in pixels, >= the largest object's diameter (default 128)")
    batch.add_argument("--auto-3d", action="store_true", help="join per-plane objects of stacks into 3D objects")
    batch.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="segmentation parameter, e.g. min_size=100 or threshold=500 (repeatable)")
    batch.add_argument("--upload", action="store_true", help="inputs are local TIFFs: upload them")
    batch.add_argument("--no-wait", action="store_true", help="print the queued job and return")
    batch.set_defaults(func=cmd_batch)
    default = sub.add_parser("train-default", help="reproduce the default model (runs locally, needs the source)")
    default.add_argument("recipe_args", nargs=argparse.REMAINDER, help="options of bench/train_default_model.py")
    default.set_defaults(func=cmd_train_default)
    return parser


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str):
        """Print ``<prog>: <message> (see --help)`` and exit with 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# Server answers that mean the user asked for something wrong (exit 2, like usage errors).
_USER_ERRORS = ("NOT_FOUND", "INVALID_ARGUMENT", "OUT_OF_RANGE", "FAILED_PRECONDITION", "UNAUTHENTICATED",
                "PERMISSION_DENIED", "ALREADY_EXISTS")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _server_error(err, address: str) -> tuple[str, int]:
    """The one-line message and exit status for a failed call."""
    code = err.code.name
    if code == "UNAVAILABLE":
        return (f"no SAMBridge server answers at {address} ({_one_line(err.details)}); start one with "
                f"'sambridge-server' (default 127.0.0.1:50051) or pass --address HOST:PORT", 2)
    if code == "DEADLINE_EXCEEDED":
        return f"the server did not answer in time at {address} ({_one_line(err.details)})", 1
    return f"{code}: {_one_line(err.details)}", 2 if code in _USER_ERRORS else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sambridge``: user mistakes are one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    from sambridge.client import SamBridgeError

    prog = f"sambridge {args.command}"
    try:
        return args.func(args)
    except UsageError as err:
        print(f"{prog}: {_one_line(err)}", file=sys.stderr)
        return 2
    except SamBridgeError as err:
        message, status = _server_error(err, args.address)
        print(f"{prog}: {message}", file=sys.stderr)
        return status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
