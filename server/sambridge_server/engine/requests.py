"""What engine calls are about: which embeddings (image, model, tiling, precision), and names and devices."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import torch

from .errors import InvalidInput
from .models import LoadedModel


@dataclass(frozen=True)
class EmbeddingRequest:
    """Which embeddings a call uses: image, model (None = default), tiling, precision.

    ``tile_shape=None`` means the model's native tiling (none for SAM / micro_sam checkpoints);
    ``whole_image`` forces one SAM input even for a model that has one.
    """

    image_id: str
    model: str | None = None
    tile_shape: tuple[int, int] | None = None
    halo: tuple[int, int] | None = None
    precision: str | None = None
    whole_image: bool = False

    def with_tiling_of(self, model: LoadedModel) -> "EmbeddingRequest":
        """This request with an unset tiling replaced by ``model``'s native tiling."""
        native = model.native_tiling
        if self.tile_shape is not None or self.whole_image or native is None:
            return self
        return replace(self, tile_shape=native.tile_shape, halo=native.halo)


@dataclass(frozen=True)
class EmbedSummary:
    """Outcome of ``Workspace.embed``."""

    n_tiles: int
    n_slices: int
    n_cached: int
    seconds: float


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


def check_model_name(name: str) -> None:
    """InvalidInput unless ``name`` is 1-64 letters, digits, '.', '_', '+' or '-' (no path parts)."""
    if not _MODEL_NAME.fullmatch(name or "") or ".." in name:
        raise InvalidInput(f"invalid model name {name[:80]!r}: use 1-64 letters, digits, '.', '_', '+' or '-'")
