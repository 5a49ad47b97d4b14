"""Volumes (z, y, x): propagation of objects through z and automatic 3D from per-slice labels.

Modules: ``propagation`` (micro_sam's slice-by-slice propagation, many objects at once),
``merge3d`` (per-slice 2D labels merged into 3D objects by overlap).
"""

from .merge3d import MergeOptions, merge_slices
from .propagation import PropagationOptions, PropagationResult, VolumeSource, propagate_objects

__all__ = ["MergeOptions", "PropagationOptions", "PropagationResult", "VolumeSource", "merge_slices",
           "propagate_objects"]
