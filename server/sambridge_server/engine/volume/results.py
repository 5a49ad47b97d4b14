"""What volume calls return: a uint32 (z, y, x) label volume, its objects and the z range it covers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..labels import ObjectSummary, summarize_labels
from .source import PropagationResult


@dataclass(frozen=True)
class VolumeLabels:
    """Labels (z, y, x), per-object summaries, and the slices [z_begin, z_end) holding objects."""

    labels: np.ndarray
    objects: list[ObjectSummary]
    z_begin: int
    z_end: int


def summarize_volume(labels: np.ndarray, scores: dict[int, float] | None = None,
                     first_slices: dict[int, int] | None = None) -> list[ObjectSummary]:
    """Per-object voxel count, yx bounding box over all slices, score and seed slice."""
    return summarize_labels(labels, scores, first_slices=first_slices)


def propagated_labels(result: PropagationResult, seeds: dict[int, int]) -> VolumeLabels:
    """The outcome of a propagation whose objects started on slices ``seeds`` ({label: z})."""
    return VolumeLabels(
        result.labels, summarize_volume(result.labels, result.scores, seeds),
        min((b for b, _ in result.z_ranges.values()), default=0),
        max((e for _, e in result.z_ranges.values()), default=0),
    )
