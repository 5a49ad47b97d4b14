"""What volume calls work on: the volume's model, shape and per-plane embeddings, and their options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from segment_anything.modeling import Sam

from ..embeddings import ImageEmbeddings
from ..errors import InvalidInput
from ..models import LoadedModel
from ..prompts.projection import DEFAULT_MODE, mode_flags

EmbeddingsAt = Callable[[int], ImageEmbeddings]
# z side (in encoder-input pixels, after the resize to 1024) below which zy / zx planes are not
# refined: 4 encoder patches. Thinner strips cannot be segmented (bench/bench_volume.py: on the
# 5-slice CHO volume, planes 5 px tall, refinement takes mSA from 0.22 to 0.00).
MIN_PLANE_EXTENT = 64.0


@dataclass(frozen=True)
class PropagationOptions:
    """How objects are propagated; defaults are micro_sam's annotator defaults."""

    projection: str = DEFAULT_MODE
    iou_threshold: float = 0.5
    box_extension: float = 0.05
    stop_slices: frozenset[int] = field(default_factory=frozenset)
    all_planes: bool = False
    min_plane_extent: float = MIN_PLANE_EXTENT  # ours: all_planes is skipped for thinner planes
    method: str = ""  # "prompts" (SAM1 family), "memory" (SAM2); "": the model's own method

    def validate(self, n_slices: int) -> None:
        """InvalidInput for an unknown mode or out-of-range values."""
        mode_flags(self.projection)
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise InvalidInput(f"iou_threshold must lie in [0, 1], got {self.iou_threshold}")
        if self.box_extension < 0 or not np.isfinite(self.box_extension):
            raise InvalidInput(f"box_extension must be >= 0, got {self.box_extension}")
        if self.min_plane_extent < 0:
            raise InvalidInput(f"min_plane_extent must be >= 0, got {self.min_plane_extent}")
        bad = sorted(z for z in self.stop_slices if not 0 <= z < n_slices)
        if bad:
            raise InvalidInput(f"stop slices {bad} lie outside the volume (0..{n_slices - 1})")


@dataclass(frozen=True)
class VolumeSource:
    """What propagation needs of a volume: the model, its shape and per-plane embeddings.

    ``embeddings_at(z)`` gives the (lazily computed, cached) embeddings of yx plane z;
    ``plane_embeddings(axis, i)`` those of zy plane x = i (axis "zy") or zx plane y = i
    (axis "zx"); it is only needed for all-plane refinement.
    """

    model: LoadedModel | Sam
    shape: tuple[int, int, int]
    embeddings_at: EmbeddingsAt
    plane_embeddings: Callable[[str, int], ImageEmbeddings] | None = None


@dataclass
class PropagationResult:
    """uint32 (z, y, x) labels and each label's (z_begin, z_end) range (end exclusive)."""

    labels: np.ndarray
    z_ranges: dict[int, tuple[int, int]]
    scores: dict[int, float]
