"""Server configuration: one dataclass, filled by the CLI or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class ModelSource:
    """A model to load at start-up: a checkpoint file, or (``from_registry``) a registry model ``name``."""

    path: Path | None = None
    model_type: str | None = None
    name: str | None = None
    decoder_path: Path | None = None  # a separate AIS decoder file (micro_sam's <model>_decoder)
    from_registry: bool = False  # resolve ``name`` in the model registry, downloading it if missing


@dataclass
class ServerConfig:
    """Everything the server needs to start; defaults are the safe ones."""

    host: str = "127.0.0.1"
    port: int = 50051
    token: str | None = None
    # A second token whose holder sees and cancels every caller's training jobs (also accepted
    # where --token is required).
    admin_token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    models: list[ModelSource] = field(default_factory=list)
    # Folders LoadModel / training may read from; checkpoints outside are refused.
    model_roots: list[Path] = field(default_factory=list)
    data_roots: list[Path] = field(default_factory=list)
    cache_dir: Path | None = None
    # Models by name: downloaded into model_dir (None: the user's cache folder) from the
    # registry in model_registry (None: the shipped data/model_registry.json).
    model_dir: Path | None = None
    model_registry: Path | None = None
    device: str = "auto"
    precision: str = "auto"
    max_message_mb: int = 256
    # In-memory budgets: embeddings (LRU) and uploaded images (LRU; without a cache dir an
    # evicted image must be uploaded again).
    cache_mb: int = 2048
    image_mb: int = 4096
    max_image_pixels: int = 2_000_000_000 // 4
    workers: int = 8
    max_models: int = 16
    # Bytes of uploads being received at once, and how long a client stream may send nothing.
    upload_mb: int = 4096
    idle_timeout_s: float = 60.0
    # WatchJob streams open at once, server-wide and per caller; they have threads of their own,
    # outside the in-flight bound of the other calls.
    max_watchers: int = 32
    watchers_per_caller: int = 4
    compile: bool = False
    # Most images (or tiles) of concurrent callers one encoder forward takes: "auto" (1 on a CPU,
    # from free memory on a GPU) or a number; 1 runs the encoder one image at a time.
    encoder_batch: str = "auto"
    # Batch jobs (BatchService): a LocalCluster of this many worker processes, started on the first
    # batch, or the Dask scheduler at this address (e.g. a dask-jobqueue Slurm cluster's).
    dask_workers: int = 1
    dask_scheduler: str | None = None

    @property
    def max_message_bytes(self) -> int:
        """Maximum gRPC message size in bytes (both directions)."""
        return self.max_message_mb * 1024 * 1024

    def check_exposure(self) -> None:
        """Refuse a non-local bind without a token (ValueError)."""
        if self.host not in LOCAL_HOSTS and not self.token:
            raise ValueError(
                f"refusing to listen on {self.host} without a token: pass --token (or SAMBRIDGE_TOKEN) "
                "or bind 127.0.0.1"
            )
