"""Segmenting objects through a whole stack with SAM2 memory: prompts in, uint32 labels out.

``propagate_stack`` is SAM2's usual use of its video predictor, applied to a (z, y, x) volume or
a (t, y, x) time-lapse: every annotated slice's prompts are added, then one pass runs forward from
the earliest annotated slice to the end and one backward from it to the start (slices between
annotated slices are reached by the forward pass, which remembers every annotated slice).
``correct`` adds prompts on one slice of a finished propagation and re-propagates from that slice
(forward, backward or both), changing only the slices it passes. Labels are the object ids; where
objects overlap, the one with the higher logit wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import InvalidInput
from .memory import CancelledFn, FeatureSource, MemoryPropagator, ProgressFn, PropagatedFrame


@dataclass(frozen=True)
class SlicePrompt:
    """A prompt for one object on one slice: points (x, y) + labels and/or a box, or a mask."""

    frame: int
    object_id: int
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    box: np.ndarray | None = None
    mask: np.ndarray | None = None


def paint_frame(result: PropagatedFrame) -> np.ndarray:
    """(H, W) uint32 labels of one propagated frame: the id of the object with the highest positive logit."""
    if not result.object_ids:
        return np.zeros(result.logits.shape[1:], dtype=np.uint32)
    best = np.argmax(result.logits, axis=0)
    ids = np.asarray(result.object_ids, dtype=np.uint32)
    return np.where(result.logits.max(axis=0) > 0, ids[best], 0).astype(np.uint32)


def _add(propagator: MemoryPropagator, prompts: Iterable[SlicePrompt]) -> None:
    for prompt in prompts:
        if int(prompt.object_id) <= 0:
            raise InvalidInput(f"object ids must be positive (0 is background), got {prompt.object_id}")
        propagator.add_prompt(prompt.frame, prompt.object_id, prompt.points, prompt.labels, prompt.box, prompt.mask)


def _run(propagator: MemoryPropagator, passes: Sequence[tuple[int | None, bool]], labels: np.ndarray,
         progress: ProgressFn | None, cancelled: CancelledFn | None) -> list[int]:
    """Run the passes (start, reverse), painting into ``labels``; returns the frames visited."""
    lengths = [len(propagator.order(start, reverse)) for start, reverse in passes]
    total, offset, visited = sum(lengths), 0, []
    for (start, reverse), length in zip(passes, lengths):
        def report(done: int, _total: int, base: int = offset) -> None:
            if progress is not None:
                progress(base + done, total)

        for result in propagator.propagate(start, reverse, progress=report, cancelled=cancelled):
            labels[result.frame] = paint_frame(result)
            visited.append(result.frame)
        offset += length
    return visited


def propagate_stack(
    model: Any,
    n_frames: int,
    frame_shape: tuple[int, int],
    features: FeatureSource,
    prompts: Sequence[SlicePrompt],
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    max_memory_frames: int = 64,
) -> tuple[np.ndarray, MemoryPropagator]:
    """Labels (n_frames, H, W) uint32 of every prompted object, and the propagator (for corrections).

    ``features(frame)`` gives a slice's untiled ``Sam2Features``; ``progress(done, total)``
    counts slices over both passes; ``cancelled()`` is polled before every slice.
    """
    if not prompts:
        raise InvalidInput("memory propagation needs at least one prompt")
    propagator = MemoryPropagator(model, n_frames, frame_shape, features, max_memory_frames)
    _add(propagator, prompts)
    labels = np.zeros((n_frames,) + tuple(frame_shape), dtype=np.uint32)
    _run(propagator, [(None, False), (None, True)], labels, progress, cancelled)
    return labels, propagator


def correct(
    propagator: MemoryPropagator,
    labels: np.ndarray,
    prompts: Sequence[SlicePrompt],
    forward: bool = True,
    backward: bool = True,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> list[int]:
    """Add correction prompts on one slice and re-propagate from it; ``labels`` is updated in place.

    Returns the slices re-propagated (all others are unchanged).
    """
    frames = {int(prompt.frame) for prompt in prompts}
    if len(frames) != 1:
        raise InvalidInput(f"a correction is on one slice, got slices {sorted(frames)}")
    frame = frames.pop()
    _add(propagator, prompts)
    passes = ([(frame, False)] if forward else []) + ([(frame, True)] if backward else [])
    if not passes:
        raise InvalidInput("a correction re-propagates forward, backward or both")
    return _run(propagator, passes, labels, progress, cancelled)
