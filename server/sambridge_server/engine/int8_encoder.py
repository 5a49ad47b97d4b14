"""The SAM image encoder quantised to int8 with OpenVINO, for CPUs: ``precision="int8"``.

PyTorch has no fast int8 path for this encoder on CPU (dynamic quantisation of its linear
layers did not pay, issue 18), and bf16 is emulated on CPUs without AVX512-BF16/AMX. OpenVINO
runs statically quantised int8 matmuls on AVX512-VNNI/AVX-VNNI: on a 2-core Ice Lake Xeon the
vit_b encoder took 3.9 s against 10-11 s in PyTorch fp32 (bench/bench_embeddings.py).

The model is quantised with NNCF's post-training quantisation (transformer preset, smooth
quant), calibrated on synthetic microscopy images drawn from a fixed seed, so the result is
reproducible. Converting and calibrating take minutes (vit_b) or tens of seconds (vit_t), once
per model: the quantised network is saved as OpenVINO IR named by the model's hash and the
OpenVINO/NNCF versions, under a lock, so replicas sharing the folder build it once.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .errors import InvalidInput

log = logging.getLogger(__name__)

CALIBRATION_SEED = 20261202
CALIBRATION_IMAGES = 8
CALIBRATION_SIDE = 768
_PACKAGES = ("openvino", "nncf")
FLOAT_MODULES = ("patch_embed", "neck")


def missing_packages() -> list[str]:
    """The packages ``precision="int8"`` needs that are not installed (empty when it can run)."""
    missing = []
    for name in _PACKAGES:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def check_int8(device: torch.device | str) -> None:
    """InvalidInput unless int8 embeddings can be computed on ``device``."""
    if torch.device(device).type != "cpu":
        raise InvalidInput(f"precision 'int8' is for CPUs (OpenVINO); this server runs on {device}: use 'bf16'")
    missing = missing_packages()
    if missing:
        raise InvalidInput(f"precision 'int8' needs the {' and '.join(missing)} package(s): "
                           "pip install 'sambridge[int8]' on the server")


def calibration_inputs(sam: Any, count: int = CALIBRATION_IMAGES, seed: int = CALIBRATION_SEED) -> list[np.ndarray]:
    """Preprocessed encoder inputs (1, 3, S, S) of ``count`` synthetic microscopy images."""
    from .embeddings import prepare_tile
    from .training.synthetic import random_style, synthetic_image

    rng = np.random.default_rng(seed)
    side = CALIBRATION_SIDE
    inputs = []
    for _ in range(count):
        image, _ = synthetic_image((side, side), random_style(rng), rng)
        tensor, _ = prepare_tile(sam, image)
        inputs.append(tensor.detach().cpu().numpy())
    return inputs


def ir_path(directory: Path, model_hash: str) -> Path:
    """Where the int8 network of the model with ``model_hash`` is stored (``.xml``; weights in ``.bin``)."""
    versions = "-".join(f"{name}{metadata.version(name)}" for name in _PACKAGES)
    digest = model_hash.split(":")[-1]
    return Path(directory) / f"encoder-{digest}-int8-seed{CALIBRATION_SEED}-n{CALIBRATION_IMAGES}-{versions}.xml"


class _EncoderModule(torch.nn.Module):
    """The engine's encoder forward (fused attention) as a module OpenVINO can trace."""

    def __init__(self, image_encoder: torch.nn.Module) -> None:
        super().__init__()
        self.image_encoder = image_encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, 3, S, S) -> (1, 256, 64, 64)."""
        from .encoder import encode

        return encode(self.image_encoder, x)


def quantize_encoder(sam: Any) -> Any:
    """Convert ``sam``'s image encoder to OpenVINO and quantise it to int8 (an ``ov.Model``)."""
    import nncf
    import openvino as ov

    logging.getLogger("nncf").setLevel(logging.WARNING)  # one line per op otherwise; its progress bars stay
    side = sam.image_encoder.img_size
    module = _EncoderModule(sam.image_encoder).eval()
    # The trace sees shapes as constants (TracerWarnings): right here, the input size is fixed.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        network = ov.convert_model(module, example_input=torch.zeros(1, 3, side, side, device=sam.device))
    inputs = calibration_inputs(sam)
    return nncf.quantize(network, nncf.Dataset(inputs), model_type=nncf.ModelType.TRANSFORMER,
                         subset_size=len(inputs),
                         ignored_scope=nncf.IgnoredScope(names=float_ops(network, _is_tinyvit(sam.image_encoder))))


def _is_tinyvit(image_encoder: torch.nn.Module) -> bool:
    from segment_anything.modeling.image_encoder import ImageEncoderViT

    return not isinstance(image_encoder, ImageEncoderViT)


def float_ops(network: Any, tinyvit: bool = False) -> list[str]:
    """The ops kept in float, where quantising cost most accuracy (mask IoU against fp32 on real
    boxes, random weights): the convolutions of the patch embedding (they read the image) and of
    the neck (they write the embedding), vit_b 0.979 -> 0.990 at ~2% of the FLOPs; and in
    MobileSAM's TinyViT also the MLPs' matmuls, vit_t 0.957 -> 0.986."""
    kept = []
    for op in network.get_ops():
        name, kind = op.get_friendly_name(), op.get_type_name()
        if kind == "Convolution" and any(part in name for part in FLOAT_MODULES):
            kept.append(name)
        elif tinyvit and kind == "MatMul" and ".mlp." in name:
            kept.append(name)
    return kept


def _save_atomically(network: Any, path: Path) -> None:
    """Write the IR pair so that a reader never sees a half-written network (the .xml lands last)."""
    import openvino as ov

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.xml")
    ov.save_model(network, tmp, compress_to_fp16=False)
    os.replace(tmp.with_suffix(".bin"), path.with_suffix(".bin"))
    os.replace(tmp, path)


class Int8Encoder:
    """A compiled int8 encoder: ``(B, 3, S, S) tensor -> (B, 256, 64, 64) float32`` numpy."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self._lock = threading.Lock()  # one inference at a time: it already uses every core

    def __call__(self, batch: torch.Tensor) -> np.ndarray:
        """Features of every image in ``batch`` (run one by one: the network has batch size 1)."""
        images = batch.detach().float().cpu().numpy()
        with self._lock:
            return np.concatenate([self._compiled(image[None])[0] for image in images]).astype(np.float32, copy=False)


def load_int8_encoder(sam: Any, model_hash: str, directory: Path) -> Int8Encoder:
    """The model's int8 encoder: read from ``directory``, or quantised and stored there first."""
    import openvino as ov
    from filelock import FileLock

    path = ir_path(directory, model_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            log.info("quantising the image encoder of model %s to int8 (once per model; minutes for vit_b)",
                     model_hash)
            _save_atomically(quantize_encoder(sam), path)
            log.info("int8 encoder stored at %s", path)
    core = ov.Core()
    compiled = core.compile_model(core.read_model(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return Int8Encoder(compiled)


def encoders_directory(cache_dir: Path | None) -> Path:
    """Where int8 networks are kept: beside a server's ``--cache-dir``, else in the user's cache folder."""
    if cache_dir is not None:
        return Path(cache_dir) / "int8-encoders"
    from .model_zoo import default_model_dir

    return default_model_dir().parent / "int8-encoders"


@functools.lru_cache(maxsize=None)
def shared_encoders(directory: Path) -> "Int8Encoders":
    """One ``Int8Encoders`` per folder in this process (batch workers load each network once)."""
    return Int8Encoders(directory)


class Int8Encoders:
    """Each model's int8 encoder, built on first use and kept (keyed by model hash)."""

    def __init__(self, directory: Path, loader: Callable[[Any, str, Path], Int8Encoder] = load_int8_encoder) -> None:
        self.directory = Path(directory)
        self._loader = loader
        self._encoders: dict[str, Int8Encoder] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, sam: Any, model_hash: str) -> Int8Encoder:
        """The int8 encoder of the model with ``model_hash`` (``sam`` is quantised if none is stored)."""
        with self._lock:
            lock = self._locks.setdefault(model_hash, threading.Lock())
        with lock:
            if model_hash not in self._encoders:
                self._encoders[model_hash] = self._loader(sam, model_hash, self.directory)
            return self._encoders[model_hash]
