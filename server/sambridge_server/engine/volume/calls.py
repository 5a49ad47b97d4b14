"""Volume calls on stored stacks: propagation of annotated objects (micro_sam's prompt method or
SAM2's memory), every object of a slice at once, and automatic 3D.

Images, models, embeddings and 2D decoding come from the caller (the Workspace) as functions; this
class only chooses the method for the model's family and wires the capability modules together.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from ..callbacks import CancelledFn, ProgressFn, StageProgressFn
from ..embeddings import ImageEmbeddings
from ..errors import InvalidInput
from ..images import ImageStore
from ..model_families import MEMORY_PROPAGATION, PROMPT_PROPAGATION, family_of, require_capability
from ..model_registry import ModelRegistry
from ..requests import EmbeddingRequest
from ..sam2_models import SlicePrompt, propagate_stack
from ..sam2_models.features import Sam2Features
from .annotations import SliceAnnotation, annotation_masks, seed_objects
from .auto3d import segment_3d
from .merge3d import MergeOptions
from .propagation import propagate_object, propagate_objects
from .results import VolumeLabels, propagated_labels, summarize_volume
from .source import PropagationOptions, VolumeSource


class VolumeCalls:
    """The volume capability of a workspace."""

    def __init__(self, images: ImageStore, models: ModelRegistry, resolve: Callable[[EmbeddingRequest], tuple],
                 embeddings_for: Callable[..., tuple[Any, Any, Any]], segment: Callable[..., Any],
                 auto_segment: Callable[..., Any]) -> None:
        """``resolve(request)`` -> (image, model, precision, settled request); ``embeddings_for``,
        ``segment`` and ``auto_segment`` are the workspace's calls of the same names."""
        self.images = images
        self.models = models
        self._resolve = resolve
        self.embeddings_for = embeddings_for
        self.segment = segment
        self.auto_segment = auto_segment

    def volume_source(self, request: EmbeddingRequest, cancelled: CancelledFn | None = None) -> VolumeSource:
        """A stored (z, y, x) stack as propagation sees it: per-slice embeddings computed lazily and
        cached; zy / zx plane embeddings from derived stacks (all-plane refinement).

        ``cancelled`` is polled while an embedding is computed or waited for.
        """
        image = self.images.get(request.image_id)
        if not image.is_stack:
            raise InvalidInput(f"image {request.image_id} is 2D (axes {image.axes}); volume calls need a (z, y, x) "
                               "stack")
        model = self.models.get(request.model)
        derived: dict[str, str] = {}

        def embeddings_at(z: int) -> ImageEmbeddings:
            return self.embeddings_for(request, z, cancelled=cancelled)[0]

        def plane_embeddings(axis: str, index: int) -> ImageEmbeddings:
            if axis not in derived:
                derived[axis] = self.images.put_transposed(image, axis)
            return self.embeddings_for(replace(request, image_id=derived[axis]), index, cancelled=cancelled)[0]

        return VolumeSource(model, (image.n_slices,) + tuple(image.spatial_shape), embeddings_at, plane_embeddings)

    def propagate(self, request: EmbeddingRequest, annotations: Sequence[SliceAnnotation],
                  options: PropagationOptions, progress: ProgressFn | None = None,
                  cancelled: CancelledFn | None = None) -> VolumeLabels:
        """One object through z from its annotated slices (masks, or prompts decoded on their slice)."""
        if self._propagation_method(request, options) == "memory":
            prompts = [SlicePrompt(a.z, 1, a.points, a.point_labels, a.box, a.mask) for a in annotations]
            return self._memory_volume(request, prompts, progress, cancelled)
        source = self.volume_source(request, cancelled)

        def decode(z: int, points, point_labels, box) -> np.ndarray:
            result = self.segment(request, z, points=points, point_labels=point_labels, box=box, cancelled=cancelled)
            return result.masks[int(np.argmax(result.scores))]

        masks = annotation_masks(annotations, source.shape[0], decode)
        result = propagate_object(source, masks, options, progress=progress, cancelled=cancelled)
        return propagated_labels(result, {1: min(masks)})

    def propagate_labels(self, request: EmbeddingRequest, z: int, labels: np.ndarray,
                         options: PropagationOptions, progress: ProgressFn | None = None,
                         cancelled: CancelledFn | None = None) -> VolumeLabels:
        """Every object of slice z's 2D label image through z, decoded in batches per slice."""
        if self._propagation_method(request, options) == "memory":
            labels = np.asarray(labels)
            prompts = [SlicePrompt(int(z), int(label), mask=labels == label) for label in np.unique(labels) if label]
            return self._memory_volume(request, prompts, progress, cancelled)
        source = self.volume_source(request, cancelled)
        objects = seed_objects(labels, z, source.shape)
        result = propagate_objects(source, objects, options, progress=progress, cancelled=cancelled)
        return propagated_labels(result, {label: z for label in objects})

    def _propagation_method(self, request: EmbeddingRequest, options: PropagationOptions) -> str:
        """The method a volume call runs ("prompts" or "memory"), checked against the model's family."""
        model = self.models.get(request.model)
        method = options.method or ("memory" if family_of(model) == "sam2" else "prompts")
        if method not in ("prompts", "memory"):
            raise InvalidInput(f"unknown propagation method {method!r}; use 'prompts' or 'memory'")
        require_capability(model, MEMORY_PROPAGATION if method == "memory" else PROMPT_PROPAGATION)
        if method == "memory" and options.all_planes:
            raise InvalidInput("all_planes refines prompt propagation; memory propagation does not use it")
        return method

    def _memory_volume(self, request: EmbeddingRequest, prompts: Sequence[SlicePrompt],
                       progress: ProgressFn | None, cancelled: CancelledFn | None) -> VolumeLabels:
        """``propagate_memory`` as a VolumeLabels (objects summarised with the slice they were prompted on)."""
        labels = self.propagate_memory(request, prompts, progress, cancelled)
        first = {}
        for prompt in prompts:
            first[int(prompt.object_id)] = min(first.get(int(prompt.object_id), prompt.frame), prompt.frame)
        occupied = np.flatnonzero(labels.reshape(len(labels), -1).any(axis=1))
        z_range = (int(occupied[0]), int(occupied[-1]) + 1) if len(occupied) else (0, 0)
        return VolumeLabels(labels, summarize_volume(labels, None, first), *z_range)

    def propagate_memory(self, request: EmbeddingRequest, prompts: Sequence[SlicePrompt],
                         progress: ProgressFn | None = None, cancelled: CancelledFn | None = None) -> np.ndarray:
        """SAM2 memory propagation (``method="memory"``) of every prompted object through a stack's slices
        (z or t): forward from the earliest annotated slice, then backward; (n, H, W) uint32 labels = object ids."""
        image, model, _, request = self._resolve(request)
        require_capability(model, MEMORY_PROPAGATION)
        if not image.is_stack:
            raise InvalidInput(f"image {request.image_id} is 2D (axes {image.axes}); memory propagation needs a stack")
        whole = replace(request, tile_shape=None, halo=None)

        def features(z: int) -> Sam2Features:
            return self.embeddings_for(whole, z, cancelled=cancelled)[0]

        labels, _ = propagate_stack(model, image.n_slices, image.spatial_shape, features, prompts, progress, cancelled)
        return labels

    def auto_segment_3d(self, request: EmbeddingRequest, method: str, merge: MergeOptions,
                        all_planes: bool = False, ais_params: dict | None = None, amg_params: dict | None = None,
                        progress: StageProgressFn | None = None,
                        cancelled: CancelledFn | None = None) -> VolumeLabels:
        """Automatic segmentation of every slice merged into 3D objects (stages: the 2D ones, then "merging")."""
        source = self.volume_source(request, cancelled)  # rejects 2D images
        merge.validate()
        report = progress or (lambda done, total, stage: None)
        slices = self.auto_segment(request, method, ais_params=ais_params, amg_params=amg_params,
                                   progress=report, cancelled=cancelled)
        report(0, 1, "merging")
        return segment_3d(slices.labels, merge, source if all_planes else None, cancelled)
