"""Automatic 3D: per-slice automatic labels merged into 3D objects, optionally refined in all planes."""

from __future__ import annotations

import numpy as np

from ..callbacks import CancelledFn
from .merge3d import MergeOptions, merge_slices
from .refinement import refine_all_planes
from .results import VolumeLabels, summarize_volume
from .source import PropagationOptions, VolumeSource


def segment_3d(slice_labels: np.ndarray, options: MergeOptions, source: VolumeSource | None = None,
               cancelled: CancelledFn | None = None) -> VolumeLabels:
    """3D objects from per-slice labels (z, y, x); with ``source``, refined in the zy and zx planes too."""
    options.validate()
    labels = merge_slices(slice_labels, options)
    if source is not None:
        labels = refine_all_planes(source, labels, PropagationOptions(), cancelled)
    return VolumeLabels(labels, summarize_volume(labels), 0, int(labels.shape[0]))
