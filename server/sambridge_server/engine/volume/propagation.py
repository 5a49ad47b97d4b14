"""Propagation of objects through a volume (z, y, x), one or many at a time.

Per object this is micro_sam's ``segment_mask_in_volume``: from the lowest and highest
annotated slices go down and up, prompting each slice with a prompt derived from the previous
slice's mask (``projection``), and stop when IoU(previous, current) < ``iou_threshold``, at the
volume edge or before a stop slice. Between two annotated slices fill from both ends without
the IoU test; when the gap is even, the middle slice is prompted by the OR of its neighbours.
micro_sam's ``stop_lower`` / ``stop_upper`` are stop slices just below / above the annotations.

Ours on top:

* many objects at once: every object runs its own schedule (so result i equals propagating
  object i alone), but all objects waiting on the same slice are decoded in one batch;
* overlap rule: where objects overlap on a slice the one with the higher decoder score wins;
  annotated pixels always keep their given label (annotations beat decoded masks);
* a stop slice inside a gap between annotations splits it: each side propagates towards it
  with the IoU test, like an open end;
* all-plane refinement (``refine_all_planes``) against the "pancake" artifact of z-only
  propagation: every zy and zx plane crossing an object is re-decoded from that plane's own
  mask (box + mask prompt) and each voxel takes the label at least two of the three
  orientations agree on (z's label when all three differ); annotations stay as given. A plane
  whose re-decoded mask overlaps the object's mask there by IoU < 0.5 keeps the latter, and
  refinement is skipped when the planes are too thin along z to be segmented
  (``min_plane_extent``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Generator

import numpy as np
from sambridge_common.content_id import image_id as content_id

from segment_anything.modeling import Sam

from ..embeddings import ImageEmbeddings
from ..errors import Cancelled, InvalidInput
from ..labels import ObjectSummary, summarize_labels
from ..models import LoadedModel
from ..prompts.projection import DEFAULT_MODE, decode_prompts, mode_flags, project

if TYPE_CHECKING:
    from ..workspace import EmbeddingRequest, Workspace

_LOG = logging.getLogger(__name__)
EmbeddingsAt = Callable[[int], ImageEmbeddings]
ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
# A schedule asks for (z, prompt mask, mode or None = the options' mode) and is sent back
# (decoded mask, score).
Request = tuple[int, np.ndarray, str | None]
Schedule = Generator[Request, tuple[np.ndarray, float], tuple[int, int]]
AcceptFn = Callable[[int, np.ndarray, float], None]
REFINE_MODE = "mask"  # a plane is refined from its own mask: box + mask logits
# z side (in encoder-input pixels, after the resize to 1024) below which zy / zx planes are not
# refined: 4 encoder patches. Thinner strips cannot be segmented (bench/bench_volume.py: on the
# 5-slice CHO volume, planes 5 px tall, refinement takes mSA from 0.22 to 0.00).
MIN_PLANE_EXTENT = 64.0
# A plane's re-decoded mask replaces the object's mask there only if their IoU is at least this:
# a re-decode that mostly disagrees is a decoder failure, not a correction, and two of them
# (zy and zx) would outvote z. On CHO upsampled to 65 slices (default model of 47de30b): mSA
# 0.172 (z only), 0.121 (no gate), 0.180 (gate 0.5), 0.172 (gate 0.7).
REFINE_MIN_IOU = 0.5


@dataclass(frozen=True)
class PropagationOptions:
    """How objects are propagated; defaults are micro_sam's annotator defaults."""

    mode: str = DEFAULT_MODE
    iou_threshold: float = 0.5
    box_extension: float = 0.05
    stop_slices: frozenset[int] = field(default_factory=frozenset)
    all_planes: bool = False
    min_plane_extent: float = MIN_PLANE_EXTENT  # ours: all_planes is skipped for thinner planes

    def validate(self, n_slices: int) -> None:
        """InvalidInput for an unknown mode or out-of-range values."""
        mode_flags(self.mode)
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


# ---------------------------------------------------------------- one object's schedule


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """micro_sam's compute_iou (with its epsilon, so two empty masks give 0)."""
    return float(np.logical_and(a, b).sum()) / (float(np.logical_or(a, b).sum()) + 1e-7)


def _segment_range(start_mask: np.ndarray, z: int, step: int, last: int, threshold: float | None,
                   stops: frozenset[int], accept: AcceptFn) -> Generator[Request, tuple, tuple[int, np.ndarray]]:
    """Propagate from ``start_mask`` on slice z - step through slice ``last`` (inclusive).

    Returns the last accepted slice and its mask. With a threshold, a slice whose IoU with its
    predecessor is below it ends the range without being accepted.
    """
    previous, reached = start_mask, z - step
    while (z - last) * step <= 0 and z not in stops:
        mask, score = yield z, previous, None
        if threshold is not None and _iou(previous, mask) < threshold:
            break
        accept(z, mask, score)
        previous, reached = mask, z
        z += step
    return reached, previous


def object_schedule(annotations: dict[int, np.ndarray], n_slices: int, options: PropagationOptions,
                    accept: AcceptFn) -> Schedule:
    """One object's propagation as a generator of decode requests (segment_mask_in_volume).

    ``accept(z, mask, score)`` receives every slice that becomes part of the object; the
    generator returns the (z_begin, z_end) range reached (end exclusive).
    """
    zs = sorted(annotations)
    stops, threshold = frozenset(options.stop_slices), options.iou_threshold
    z_min, _ = yield from _segment_range(annotations[zs[0]], zs[0] - 1, -1, 0, threshold, stops, accept)
    z_max, _ = yield from _segment_range(annotations[zs[-1]], zs[-1] + 1, 1, n_slices - 1, threshold, stops, accept)
    for lower, upper in zip(zs[:-1], zs[1:]):
        yield from _fill_gap(annotations[lower], lower, annotations[upper], upper, options, accept)
    return z_min, z_max + 1


def _fill_gap(lower_mask: np.ndarray, lower: int, upper_mask: np.ndarray, upper: int,
              options: PropagationOptions, accept: AcceptFn) -> Generator[Request, tuple, None]:
    """Segment the slices strictly between two annotated slices from both ends."""
    gap = upper - lower
    barriers = [z for z in options.stop_slices if lower < z < upper]
    if barriers:  # ours: each side propagates towards the stop like an open end
        stops = frozenset(barriers)
        yield from _segment_range(lower_mask, lower + 1, 1, upper - 1, options.iou_threshold, stops, accept)
        yield from _segment_range(upper_mask, upper - 1, -1, lower + 1, options.iou_threshold, stops, accept)
        return
    if gap == 1:
        return
    middle = (lower + upper) // 2
    if gap == 2:
        below, above = lower_mask, upper_mask
    else:
        # Even gaps leave the middle slice to the OR of its neighbours; odd gaps meet in it.
        _, below = yield from _segment_range(lower_mask, lower + 1, 1, middle - (gap % 2 == 0), None,
                                             frozenset(), accept)
        _, above = yield from _segment_range(upper_mask, upper - 1, -1, middle + 1, None, frozenset(), accept)
        if gap % 2:
            return
    # micro_sam derives this one prompt without use_single_point: single_point becomes points.
    mode = "points" if options.mode == "single_point" else None
    mask, score = yield middle, np.logical_or(below, above), mode
    accept(middle, mask, score)


# ---------------------------------------------------------------- batched driver


class _Painter:
    """Paints accepted masks into one label volume with the overlap rule (higher score wins)."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.labels = np.zeros(shape, dtype=np.uint32)
        self.best = np.full(shape, -np.inf, dtype=np.float32)
        self.scores: dict[int, list[float]] = {}

    def accept_for(self, label: int) -> AcceptFn:
        """The accept callback of object ``label``."""

        def accept(z: int, mask: np.ndarray, score: float) -> None:
            wins = mask & (score > self.best[z])
            self.labels[z][wins] = label
            self.best[z][wins] = score
            self.scores.setdefault(label, []).append(float(score))

        return accept


def _decode_slice(source: VolumeSource, z: int, requests: list[Request],
                  options: PropagationOptions) -> tuple[np.ndarray, np.ndarray]:
    embeddings = source.embeddings_at(z)
    prompts = [project(mask, embeddings, mode or options.mode, options.box_extension) for _, mask, mode in requests]
    return decode_prompts(source.model, embeddings, prompts)


def run_schedules(source: VolumeSource, schedules: dict[int, Schedule], options: PropagationOptions,
                  progress: ProgressFn | None = None, cancelled: CancelledFn | None = None) -> dict[int, tuple[int, int]]:
    """Drive all schedules, decoding the requests of all objects waiting on one slice together.

    The slice with the most waiting objects goes first (ties: the lowest z). Returns each
    schedule's result.
    """
    pending: dict[int, Request] = {}
    results: dict[int, tuple[int, int]] = {}

    def advance(key: int, reply: tuple[np.ndarray, float] | None) -> None:
        try:
            pending[key] = schedules[key].send(reply)  # type: ignore[arg-type]
        except StopIteration as done:
            pending.pop(key, None)
            results[key] = done.value

    for key in schedules:
        advance(key, None)
    steps, total = 0, max(1, source.shape[0] - 1)
    while pending:
        if cancelled is not None and cancelled():
            raise Cancelled("propagation was cancelled")
        counts = Counter(request[0] for request in pending.values())
        z = min(counts, key=lambda s: (-counts[s], s))
        keys = [key for key, request in pending.items() if request[0] == z]
        masks, scores = _decode_slice(source, z, [pending[key] for key in keys], options)
        for key, mask, score in zip(keys, masks, scores):
            advance(key, (mask, float(score)))
        steps += 1
        if progress is not None:
            progress(min(steps, total), total)
    return results


# ---------------------------------------------------------------- public entry points


def _check_annotation(z: int, mask: np.ndarray, shape: tuple[int, int, int], what: str) -> np.ndarray:
    if not 0 <= z < shape[0]:
        raise InvalidInput(f"{what}: slice z={z} is outside the volume (0..{shape[0] - 1})")
    mask = np.asarray(mask)
    if mask.shape != shape[1:]:
        raise InvalidInput(f"{what}: mask on slice z={z} has shape {mask.shape} but slices are {shape[1:]}")
    mask = mask.astype(bool)
    if not mask.any():
        raise InvalidInput(f"{what}: mask on slice z={z} is empty")
    return mask


def _paint_annotations(labels: np.ndarray, objects: dict[int, dict[int, np.ndarray]]) -> np.ndarray:
    """Annotated pixels are final: painted last, they win every overlap."""
    for label, annotated in objects.items():
        for z, mask in annotated.items():
            labels[z][np.asarray(mask, dtype=bool)] = label
    return labels


def propagate_objects(source: VolumeSource, objects: dict[int, dict[int, np.ndarray]],
                      options: PropagationOptions = PropagationOptions(), progress: ProgressFn | None = None,
                      cancelled: CancelledFn | None = None) -> PropagationResult:
    """Propagate objects {label: {z: mask}} through the volume into one uint32 label volume.

    Each object follows ``segment_mask_in_volume`` from its own annotated slices; objects on
    the same slice are decoded in one batch. Overlaps: higher decoder score wins, annotations
    win over everything.
    """
    options.validate(source.shape[0])
    if not objects:
        raise InvalidInput("no objects to propagate")
    painter = _Painter(source.shape)
    schedules: dict[int, Schedule] = {}
    for label, annotated in objects.items():
        if not annotated:
            raise InvalidInput(f"object {label} has no annotated slice")
        checked = {z: _check_annotation(z, m, source.shape, f"object {label}") for z, m in annotated.items()}
        blocked = sorted(set(checked) & set(options.stop_slices))
        if blocked:
            raise InvalidInput(f"object {label}: slices {blocked} are both annotated and stop slices")
        schedules[label] = object_schedule(checked, source.shape[0], options, painter.accept_for(label))
    results = run_schedules(source, schedules, options, progress, cancelled)
    labels = _paint_annotations(painter.labels, objects)
    if options.all_planes:  # annotations take part in the vote, then are restored
        labels = _paint_annotations(refine_all_planes(source, labels, options, cancelled), objects)
    scores = {label: float(np.mean(s)) if s else 1.0 for label, s in
              ((label, painter.scores.get(label, [])) for label in objects)}
    return PropagationResult(labels, results, scores)


def propagate_object(source: VolumeSource, annotations: dict[int, np.ndarray],
                     options: PropagationOptions = PropagationOptions(), progress: ProgressFn | None = None,
                     cancelled: CancelledFn | None = None) -> PropagationResult:
    """Propagate one object from its annotated slices {z: mask}; the object is label 1."""
    return propagate_objects(source, {1: annotations}, options, progress, cancelled)


def objects_from_labels(labels_2d: np.ndarray, z: int) -> dict[int, dict[int, np.ndarray]]:
    """{label: {z: mask}} for every object of a 2D label image on slice z."""
    labels_2d = np.asarray(labels_2d)
    ids = np.unique(labels_2d)
    return {int(i): {z: labels_2d == i} for i in ids[ids != 0]}


# ---------------------------------------------------------------- all-plane refinement


def _plane(volume: np.ndarray, axis: str, index: int) -> np.ndarray:
    """The zy plane x = index (axis "zy") or the zx plane y = index (axis "zx") of a zyx array."""
    return volume[:, :, index] if axis == "zy" else volume[:, index, :]


def _refine_axis(source: VolumeSource, labels: np.ndarray, axis: str, options: PropagationOptions,
                 cancelled: CancelledFn | None) -> np.ndarray:
    """Re-decode every object in every plane of one orientation from its own mask there."""
    refined = np.zeros_like(labels)
    best = np.full(labels.shape, -np.inf, dtype=np.float32)
    n_planes = labels.shape[2] if axis == "zy" else labels.shape[1]
    for index in range(n_planes):
        if cancelled is not None and cancelled():
            raise Cancelled("all-plane refinement was cancelled")
        plane_labels = _plane(labels, axis, index)
        ids = np.unique(plane_labels)
        ids = ids[ids != 0]
        if ids.size == 0:
            continue
        embeddings = source.plane_embeddings(axis, index)  # type: ignore[misc]
        own = [plane_labels == i for i in ids]
        prompts = [project(mask, embeddings, REFINE_MODE, options.box_extension) for mask in own]
        masks, scores = decode_prompts(source.model, embeddings, prompts)
        out, out_best = _plane(refined, axis, index), _plane(best, axis, index)  # views
        for label, own_mask, mask, score in zip(ids, own, masks, scores):
            if _iou(own_mask, mask) < REFINE_MIN_IOU:  # abstain: keep the propagated mask
                mask = own_mask
            wins = mask & (score > out_best)
            out[wins] = label
            out_best[wins] = score
    return refined


def majority_vote(first: np.ndarray, second: np.ndarray, third: np.ndarray) -> np.ndarray:
    """Per voxel the label two of three label volumes agree on; ``first``'s where all differ."""
    result = first.copy()
    agree = (second == third) & (second != first)
    result[agree] = second[agree]
    return result


def _encoder_size(model: LoadedModel | Sam) -> int:
    sam = model.sam if isinstance(model, LoadedModel) else model
    return int(sam.image_encoder.img_size)


def plane_z_extent(source: VolumeSource) -> float:
    """The z side of the thinner of the zy / zx planes in encoder-input pixels.

    Untiled planes are resized so that their long side is the encoder's input size; tiles are
    smaller, so for tiled planes this is a lower bound.
    """
    size = _encoder_size(source.model)
    n_z, n_y, n_x = source.shape
    return n_z * size / max(n_z, n_y, n_x)


def refine_all_planes(source: VolumeSource, labels: np.ndarray, options: PropagationOptions,
                      cancelled: CancelledFn | None = None) -> np.ndarray:
    """Refine a z-propagated label volume in the zy and zx planes and take the majority vote.

    Ours: when the planes are thinner than ``options.min_plane_extent`` along z (few slices, as
    in anisotropic stacks) the labels are returned unchanged: both other orientations would be
    decoded from strips a few pixels tall and outvote z with near-empty masks.
    """
    if source.plane_embeddings is None:
        raise InvalidInput("all-plane refinement needs embeddings of the zy and zx planes")
    extent = plane_z_extent(source)
    if extent < options.min_plane_extent:
        _LOG.info("all-plane refinement skipped: zy/zx planes are %.0f px along z (< %.0f)", extent,
                  options.min_plane_extent)
        return labels
    zy = _refine_axis(source, labels, "zy", options, cancelled)
    zx = _refine_axis(source, labels, "zx", options, cancelled)
    return majority_vote(labels, zy, zx)


# ---------------------------------------------------------------- workspace glue


def _plane_stack_id(workspace: "Workspace", image, axis: str) -> str:
    """Id of the image stack whose planes are the zy (axis "zy") or zx planes of ``image``.

    The stack is stored once under its content id, so its embeddings are computed lazily and
    cached like any other image's (also across restarts with a cache directory).
    """
    stack = np.ascontiguousarray(np.moveaxis(image.array, 2 if axis == "zy" else 1, 0))
    image_id = content_id(stack, image.axes)
    if image_id not in workspace.images:
        workspace.images.put(image_id, stack, image.axes)
    return image_id


def workspace_source(workspace: "Workspace", request: "EmbeddingRequest",
                     cancelled: CancelledFn | None = None) -> VolumeSource:
    """A VolumeSource over a workspace's stored stack: per-slice embeddings computed lazily and
    cached by the workspace; zy/zx plane embeddings from derived stacks (all-plane refinement).

    ``cancelled`` is polled while an embedding is computed or waited for.
    """
    from dataclasses import replace

    image = workspace.images.get(request.image_id)
    if not image.is_stack:
        raise InvalidInput(f"image {request.image_id} is 2D (axes {image.axes}); volume calls need a (z, y, x) stack")
    model = workspace.models.get(request.model)
    derived: dict[str, str] = {}

    def embeddings_at(z: int) -> ImageEmbeddings:
        return workspace.embeddings_for(request, z, cancelled=cancelled)[0]

    def plane_embeddings(axis: str, index: int) -> ImageEmbeddings:
        if axis not in derived:
            derived[axis] = _plane_stack_id(workspace, image, axis)
        return workspace.embeddings_for(replace(request, image_id=derived[axis]), index, cancelled=cancelled)[0]

    return VolumeSource(model, (image.n_slices,) + tuple(image.spatial_shape), embeddings_at, plane_embeddings)


def summarize_volume(labels: np.ndarray, scores: dict[int, float] | None = None,
                     first_slices: dict[int, int] | None = None) -> list[ObjectSummary]:
    """Per-object voxel count, yx bounding box over all slices, score and seed slice."""
    return summarize_labels(labels, scores, first_slices=first_slices)
