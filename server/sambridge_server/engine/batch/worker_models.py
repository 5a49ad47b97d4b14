"""Models on Dask workers: each worker process loads a checkpoint once and keeps it.

A task names its model by file (``ModelFiles``: checkpoint, decoder, expected hash), not by
sending weights: the worker loads it the first time and keeps it in a per-process table keyed by
(checkpoint, hash, decoder, device), so later chunks (of this job or the next) reuse it. The
loaded file must still have the hash the server saw; a replaced checkpoint is refused rather
than silently mixed into a job. With a shared cache folder the worker's embeddings go through
the same on-disk store the server reads (``EngineSettings.cache_dir``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FailedPrecondition, InvalidInput


@dataclass(frozen=True)
class ModelFiles:
    """Where a worker finds a model: checkpoint (+ separate AIS decoder file), type, hash, name."""

    name: str
    checkpoint: str
    model_hash: str
    model_type: str | None = None
    decoder: str | None = None


@dataclass(frozen=True)
class EngineSettings:
    """How chunks are embedded: device, precision, tiling and the shared embeddings folder.

    ``tile_shape=None`` means the model's native tiling unless ``whole_image``, as for a request
    to the server; ``cache_dir`` is the server's ``<cache-dir>/embeddings`` (None: memory only).
    """

    device: str = "cpu"
    precision: str = "fp32"
    tile_shape: tuple[int, int] | None = None
    halo: tuple[int, int] | None = None
    whole_image: bool = False
    cache_dir: str | None = None
    cache_mb: int = 512


@dataclass
class WorkerModel:
    """A loaded model with its AIS decoder (built on first use) and embedding cache."""

    model: Any  # LoadedModel
    cache: Any  # EmbeddingCache
    decoder: Any = None

    def ais_decoder(self):
        """The model's AIS decoder (FailedPrecondition when the checkpoint has none)."""
        if self.decoder is None:
            from ..automatic.ais_decoder import build_ais_decoder

            if self.model.decoder_state is None:
                raise FailedPrecondition(f"model {self.model.name!r} has no AIS decoder; use method 'amg'")
            self.decoder = build_ais_decoder(self.model.decoder_state).to(self.model.device)
        return self.decoder

    def tiling(self, settings: EngineSettings) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """(tile_shape, halo) of a chunk: the settings', else the model's native tiling."""
        native = self.model.native_tiling
        if settings.tile_shape is not None or settings.whole_image or native is None:
            return settings.tile_shape, settings.halo
        return native.tile_shape, native.halo


_MODELS: dict[tuple, WorkerModel] = {}
_LOCK = threading.Lock()
loads = 0  # how many checkpoints this process has loaded (tests count them)


def worker_model(files: ModelFiles, settings: EngineSettings) -> WorkerModel:
    """This process's copy of the model (loaded on first use), with an embedding cache."""
    global loads
    device = _device(settings.device)
    key = (files.checkpoint, files.model_hash, files.decoder, device, settings.cache_dir)
    with _LOCK:
        cached = _MODELS.get(key)
        if cached is not None:
            return cached
        from ..cache import EmbeddingCache
        from ..models import load_checkpoint

        model = load_checkpoint(Path(files.checkpoint), files.model_type, files.name, device=device,
                                decoder_path=Path(files.decoder) if files.decoder else None)
        if model.model_hash != files.model_hash:
            raise InvalidInput(f"checkpoint {files.checkpoint} changed since the job started "
                               f"({model.model_hash} != {files.model_hash})")
        cache_dir = Path(settings.cache_dir) if settings.cache_dir else None
        loaded = WorkerModel(model, EmbeddingCache(settings.cache_mb * 2**20, cache_dir))
        _MODELS[key] = loaded
        loads += 1
        return loaded


def _device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
