"""``sambridge-server``: serve SAM models over gRPC."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from sambridge_server.config import ModelSource, ServerConfig

log = logging.getLogger("sambridge.server")


class _Ordered(argparse._AppendAction):
    """``append`` that also records (option, value) in ``namespace.model_order``.

    --checkpoint and --model share that order: the first model given is the default.
    """

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        super().__call__(parser, namespace, values, option_string)
        order = list(getattr(namespace, "model_order", None) or [])
        namespace.model_order = order + [(self.dest, values)]


def _encoder_batch(value: str) -> str:
    """``--encoder-batch``: 'auto' or a positive integer, kept as text (the engine reads it)."""
    if value != "auto" and not (value.isdigit() and int(value) >= 1):
        raise argparse.ArgumentTypeError(f"'auto' or a positive integer, got {value!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the server."""
    parser = argparse.ArgumentParser(prog="sambridge-server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; others need --token)")
    parser.add_argument("--port", type=int, default=50051, help="port (0 = pick a free one and print it)")
    parser.add_argument("--checkpoint", action=_Ordered, default=[], type=Path,
                        help="checkpoint file or folder of checkpoints (repeatable)")
    parser.add_argument("--model", action=_Ordered, default=[],
                        help="registry model to serve, downloaded into --model-dir if missing, e.g. vit_b_lm "
                             "(repeatable; the first model given is the default)")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="folder of downloaded models (default: the user's cache folder, "
                             "~/.cache/sambridge/models)")
    parser.add_argument("--model-registry", type=Path, default=None,
                        help="JSON registry of models by name replacing the shipped one")
    parser.add_argument("--model-type", action="append", default=[],
                        help="model type of the matching --checkpoint (vit_b, vit_l, vit_h, vit_t, vit_tiny or a "
                             "micro_sam name such as vit_b_lm; default: inferred)")
    parser.add_argument("--model-name", action="append", default=[], help="name of the matching --checkpoint")
    parser.add_argument("--model-root", action="append", default=[], type=Path,
                        help="folder clients may load checkpoints from (LoadModel)")
    parser.add_argument("--data-root", action="append", default=[], type=Path,
                        help="folder training jobs may read from")
    parser.add_argument("--cache-dir", type=Path, help="persistent cache (embeddings, images)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "int8"],
                        help="encoder precision: auto = bf16 where the device computes it natively, else fp32; "
                             "int8 = OpenVINO int8 encoder on CPUs (needs sambridge[int8]; quantised once per model)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the image encoders, compiled before serving (for GPUs; minutes for vit_h)")
    parser.add_argument("--encoder-batch", default="auto", type=_encoder_batch,
                        help="most images of concurrent users one encoder forward takes: auto (1 on a CPU, "
                             "chosen from free memory on a GPU) or a number (1: one image at a time)")
    parser.add_argument("--token", default=os.environ.get("SAMBRIDGE_TOKEN"),
                        help="bearer token clients must send (default: $SAMBRIDGE_TOKEN)")
    parser.add_argument("--admin-token", default=os.environ.get("SAMBRIDGE_ADMIN_TOKEN"),
                        help="token whose holder sees and cancels every caller's training jobs "
                             "(default: $SAMBRIDGE_ADMIN_TOKEN; without it each caller sees only its own)")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain for TLS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key for TLS")
    parser.add_argument("--max-message-mb", type=int, default=256, help="max gRPC message size (MiB)")
    parser.add_argument("--cache-mb", type=int, default=2048, help="in-memory embedding cache budget (MiB)")
    parser.add_argument("--image-mb", type=int, default=4096,
                        help="in-memory budget for uploaded images (MiB); least recently used ones are dropped")
    parser.add_argument("--max-image-mpixels", type=float, default=500,
                        help="largest accepted upload, in millions of elements (pixels x channels x planes)")
    parser.add_argument("--workers", type=int, default=8, help="RPC worker threads")
    parser.add_argument("--upload-mb", type=int, default=4096,
                        help="bytes of uploads being received at once, server-wide (MiB; beyond: RESOURCE_EXHAUSTED)")
    parser.add_argument("--idle-timeout", type=float, default=60.0,
                        help="seconds a client stream (upload) may send nothing before it is ended")
    parser.add_argument("--max-watchers", type=int, default=32,
                        help="WatchJob streams open at once, server-wide (4 per caller; beyond: RESOURCE_EXHAUSTED)")
    parser.add_argument("--max-models", type=int, default=16, help="most models served at once (LoadModel beyond: "
                                                                   "RESOURCE_EXHAUSTED; UnloadModel frees one)")
    parser.add_argument("--dask-workers", type=int, default=1,
                        help="batch jobs: worker processes of the LocalCluster started on the first batch (default 1)")
    parser.add_argument("--dask-scheduler", default=None,
                        help="batch jobs: use the Dask scheduler at this address (tcp://host:8786) instead")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="stop when standard input closes: a server started by another program (Fiji's "
                             "'Start local server') ends with it, even when that program is killed")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _model_sources(args: argparse.Namespace) -> list[ModelSource]:
    """--checkpoint files (folders expanded) and --model names, in command-line order."""
    order = getattr(args, "model_order", None) or (
        [("checkpoint", p) for p in args.checkpoint] + [("model", m) for m in getattr(args, "model", [])])
    groups: list[tuple[str, object]] = []
    files: list[Path] = []
    for option, value in order:
        if option == "model":
            groups.append((option, value))
            continue
        expanded = sorted(p for p in value.iterdir() if p.suffix in (".pt", ".pth")) if value.is_dir() else [value]
        groups.append((option, len(expanded)))
        files.extend(expanded)
    if args.model_type and len(args.model_type) not in (1, len(files)):
        raise SystemExit("give one --model-type for all checkpoints or one per checkpoint")
    types = args.model_type * len(files) if len(args.model_type) == 1 else args.model_type or [None] * len(files)
    names = args.model_name + [None] * (len(files) - len(args.model_name))
    checkpoints = iter([ModelSource(path=f, model_type=t, name=n) for f, t, n in zip(files, types, names)])
    sources: list[ModelSource] = []
    for option, value in groups:
        if option == "model":
            sources.append(ModelSource(name=str(value), from_registry=True))
        else:
            sources.extend(next(checkpoints) for _ in range(int(value)))
    return sources


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Build the ServerConfig from parsed options."""
    return ServerConfig(
        host=args.host, port=args.port, token=args.token, admin_token=args.admin_token,
        tls_cert=args.tls_cert, tls_key=args.tls_key,
        models=_model_sources(args), model_roots=args.model_root, data_roots=args.data_root,
        cache_dir=args.cache_dir, model_dir=args.model_dir, model_registry=args.model_registry,
        device=args.device, precision=args.precision, encoder_batch=args.encoder_batch, compile=args.compile,
        max_message_mb=args.max_message_mb, cache_mb=args.cache_mb, workers=args.workers, max_models=args.max_models,
        upload_mb=args.upload_mb, idle_timeout_s=args.idle_timeout, max_watchers=args.max_watchers,
        image_mb=args.image_mb, max_image_pixels=int(args.max_image_mpixels * 1_000_000),
        dask_workers=args.dask_workers, dask_scheduler=args.dask_scheduler,
    )


def check_model_names(config: ServerConfig) -> None:
    """Refuse (ValueError) --model names missing from the registry, before anything is loaded."""
    from sambridge_server.engine.model_zoo import load_registry  # light: no torch

    wanted = [s.name for s in config.models if s.from_registry]
    if wanted:
        registry = load_registry(config.model_registry)
        unknown = [name for name in wanted if name not in registry]
        if unknown:
            raise ValueError(f"unknown model {', '.join(map(repr, unknown))}; available: {', '.join(sorted(registry))}")


def main(argv: list[str] | None = None) -> int:
    """Start the server and block until SIGINT/SIGTERM."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_from_args(args)
    try:
        config.check_exposure()
        check_model_names(config)
        if config.dask_workers < 1:
            raise ValueError(f"--dask-workers must be >= 1, got {config.dask_workers}")
    except ValueError as err:
        print(f"sambridge-server: {err}", file=sys.stderr)
        return 2
    # Heavy imports after argument checks so that --help and refusals are instant.
    from sambridge_server.app import build_server
    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.engine.workspace import Workspace

    if not config.models:
        config.models.append(ensure_default_model())
    from sambridge_server.engine.errors import InvalidInput
    from sambridge_server.engine.model_zoo import DownloadError

    try:
        workspace = Workspace(config)
    except DownloadError as err:
        print(f"sambridge-server: {err}", file=sys.stderr)
        return 1
    except InvalidInput as err:
        print(f"sambridge-server: {err}", file=sys.stderr)
        return 2
    if workspace.precision == "int8":
        # Warm-up before serving: the first call would otherwise wait minutes for the quantisation.
        print("preparing the int8 encoders (quantised once per model and stored; minutes for vit_b) ...", flush=True)
        workspace.prepare_int8()
    if config.compile:
        print("compiling the image encoders (torch.compile) ...", flush=True)
        for name, seconds in workspace.prepare_compiled().items():
            print(f"  {name}: compiled in {seconds:.0f} s", flush=True)
    server, port = build_server(config, workspace)
    # Startup objects (torch, models, grpc) are never garbage: kept out of the collector's scans,
    # full collections during a call (which hold the GIL) stay short.
    gc.freeze()
    server.start()
    names = ", ".join(m.name for m in workspace.models.list())
    print(f"sambridge-server listening on {config.host}:{port} (device {workspace.device}, models: {names})", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_with_stdin:
        threading.Thread(target=_stop_at_stdin_eof, args=(stop,), name="sambridge-stdin", daemon=True).start()
    stop.wait()
    server.stop(grace=2).wait()
    return 0


def _stop_at_stdin_eof(stop: threading.Event) -> None:
    """Set ``stop`` once standard input reaches end of file (the program that started us is gone)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    stop.set()
