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
* all-plane refinement (``refinement``) after z propagation when asked for.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Generator

import numpy as np

from ..callbacks import CancelledFn, ProgressFn, raise_if_cancelled
from ..errors import InvalidInput
from ..metrics import mask_iou
from ..prompts.projection import decode_prompts, project
from .annotations import check_slice
from .refinement import refine_all_planes
from .source import PropagationOptions, PropagationResult, VolumeSource

MICRO_SAM_EPS = 1e-7  # micro_sam's compute_iou adds it to the union: its stopping rule, exactly
# A schedule asks for (z, prompt mask, mode or None = the options' mode) and is sent back
# (decoded mask, score).
Request = tuple[int, np.ndarray, str | None]
Schedule = Generator[Request, tuple[np.ndarray, float], tuple[int, int]]
AcceptFn = Callable[[int, np.ndarray, float], None]



# ---------------------------------------------------------------- one object's schedule


def _segment_range(start_mask: np.ndarray, z: int, step: int, last: int, threshold: float | None,
                   stops: frozenset[int], accept: AcceptFn) -> Generator[Request, tuple, tuple[int, np.ndarray]]:
    """Propagate from ``start_mask`` on slice z - step through slice ``last`` (inclusive).

    Returns the last accepted slice and its mask. With a threshold, a slice whose IoU with its
    predecessor is below it ends the range without being accepted.
    """
    previous, reached = start_mask, z - step
    while (z - last) * step <= 0 and z not in stops:
        mask, score = yield z, previous, None
        if threshold is not None and mask_iou(previous, mask, eps=MICRO_SAM_EPS) < threshold:
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
    mode = "points" if options.projection == "single_point" else None
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
    prompts = [project(mask, embeddings, mode or options.projection, options.box_extension) for _, mask, mode in requests]
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
        raise_if_cancelled(cancelled, "propagation was cancelled")
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
    """The boolean mask of one annotated slice; InvalidInput for a slice outside, a shape mismatch or no pixels."""
    z = check_slice(z, shape[0], what)
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
