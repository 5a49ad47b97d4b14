"""Volumes (z, y, x): propagation of objects through z and automatic 3D from per-slice labels.

Modules: ``source`` (the volume a call works on, and the propagation options),
``annotations`` (annotated slices and seed label images), ``propagation`` (micro_sam's
slice-by-slice propagation, many objects at once), ``refinement`` (all-plane refinement),
``merge3d`` (per-slice 2D labels merged into 3D objects by overlap), ``auto3d`` (automatic 3D),
``results`` (labels, object summaries, z range), ``calls`` (the workspace's volume calls).
"""

from .annotations import SliceAnnotation, annotation_masks, objects_from_labels, seed_objects
from .auto3d import segment_3d
from .calls import VolumeCalls
from .merge3d import MergeOptions, merge_slices
from .propagation import propagate_object, propagate_objects
from .refinement import majority_vote, plane_z_extent, refine_all_planes
from .results import VolumeLabels, propagated_labels, summarize_volume
from .source import PropagationOptions, PropagationResult, VolumeSource

__all__ = [
    "MergeOptions", "PropagationOptions", "PropagationResult", "SliceAnnotation", "VolumeCalls", "VolumeLabels", "VolumeSource",
    "annotation_masks", "majority_vote", "merge_slices", "objects_from_labels", "plane_z_extent",
    "propagate_object", "propagate_objects", "propagated_labels", "refine_all_planes", "seed_objects",
    "segment_3d", "summarize_volume",
]
