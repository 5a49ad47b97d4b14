"""Interactive tracking with SAM2 memory: follow an annotated cell (and declared daughters) through t.

The same call as SAM1 interactive tracking (``tracking.interactive.track_object``), answered with
SAM2's memory propagation instead of prompts derived from the shifted previous mask: the start
object is prompted on its frame (object 1), each declared division's daughters on theirs (new
ids), and one ``MemoryPropagator`` pass runs forward from the start frame (plus one backward
pass with ``backward``). A track is painted only while it lives: a daughter from its division's
frame, a mother until the frame before; the mother of a division is the living track that
covered the daughters' pixels on the previous frame. Labels are track ids; the CTC table is
(id, begin, end, parent).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidInput
from .memory import CancelledFn, FeatureSource, MemoryPropagator, ProgressFn


def _prompt(propagator: MemoryPropagator, annotation: Any, object_id: int) -> None:
    """Prompt ``object_id`` with an ObjectAnnotation (mask, or points and/or a box)."""
    if annotation.mask is not None:
        propagator.add_prompt(annotation.t, object_id, mask=np.asarray(annotation.mask, bool))
        return
    points = annotation.points
    labels = None
    if points is not None and len(points):
        labels = annotation.point_labels if annotation.point_labels is not None else np.ones(len(points), int)
    else:
        points = None
    propagator.add_prompt(annotation.t, object_id, points=points, labels=labels, box=annotation.box)


def follow_with_memory(
    model: Any,
    shape: tuple[int, int, int],
    features: FeatureSource,
    start: Any,
    divisions: Sequence[Any] = (),
    backward: bool = False,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(labels (t, y, x) uint32, tracks (n, 4) int64, stop reasons) of an interactive SAM2 track."""
    n_frames, height, width = (int(v) for v in shape)
    divisions = sorted(divisions, key=lambda d: d.t)
    if any(not start.t < d.t < n_frames for d in divisions):
        raise InvalidInput(f"divisions must lie after the start frame {start.t} and inside the series")
    propagator = MemoryPropagator(model, n_frames, (height, width), features)
    _prompt(propagator, start, 1)
    born: dict[int, int] = {1: start.t}
    daughters_at: dict[int, list[int]] = {}
    for k, division in enumerate(divisions):
        ids = [2 * k + 2, 2 * k + 3]
        for object_id, daughter in zip(ids, division.daughters):
            _prompt(propagator, daughter, object_id)
            born[object_id] = division.t
        daughters_at.setdefault(division.t, []).extend(ids)
    died: dict[int, int] = {}  # id -> first frame it is no longer followed
    parents: dict[int, int] = {}
    reasons: dict[int, str] = {}
    labels = np.zeros((n_frames, height, width), dtype=np.uint32)
    passes = [(start.t, False)] + ([(start.t, True)] if backward and start.t > 0 else [])
    total = sum(len(propagator.order(s, r)) for s, r in passes)
    done = 0

    def report(_done: int, _total: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    def divide(frame: int) -> None:
        """Find the mother of the daughters born on ``frame``: the living track that covered them on frame - 1."""
        new = daughters_at.pop(frame)
        union = np.zeros((height, width), dtype=bool)
        for object_id in new:
            logits = propagator.cond_logits(object_id, frame)
            if logits is not None:
                union |= logits > 0
        previous = labels[frame - 1][union]
        candidates = [int(i) for i in np.unique(previous) if i and int(i) not in died]
        mother = max(candidates, key=lambda i: int((previous == i).sum())) if candidates else 0
        for object_id in new:
            parents[object_id] = mother
        if mother:
            died[mother] = frame
            reasons[mother] = f"divided at frame {frame}"

    def active(object_id: int, frame: int, reverse: bool) -> bool:
        if reverse:
            return object_id == 1  # backward from the start frame: only the annotated object
        if frame in daughters_at:
            divide(frame)
        return born[object_id] <= frame < died.get(object_id, n_frames)

    for begin, reverse in passes:
        for result in propagator.propagate(begin, reverse, progress=report, cancelled=cancelled,
                                           active=lambda i, f, r=reverse: active(i, f, r)):
            logits = result.logits
            best = np.argmax(logits, axis=0)
            ids = np.asarray(result.object_ids, dtype=np.uint32)
            labels[result.frame] = np.where(logits.max(axis=0) > 0, ids[best], 0)
    rows = []
    for object_id in born:
        frames = np.flatnonzero((labels == object_id).reshape(n_frames, -1).any(axis=1))
        if len(frames):
            rows.append((object_id, int(frames[0]), int(frames[-1]), parents.get(object_id, 0)))
            reasons.setdefault(object_id, "end of series")
        else:
            reasons.setdefault(object_id, "never visible")
    return labels, np.array(rows, dtype=np.int64).reshape(-1, 4), reasons
