"""Interactive tracking: follow one annotated object through a ``(t, y, x)`` series with SAM.

Same procedure as micro_sam's ``track_from_prompts`` (tracking annotator): the object is segmented
on its annotated frame, then each next frame is prompted with the previous mask shifted by the
center-of-mass motion model (``motion``: no shift for the first two frames, exponential
smoothing 0.5 from the third). The prompt is derived from the shifted mask by ``projection``, as
micro_sam's ``segment_from_mask`` does (micro_sam's tracking defaults: ``single_point``, box
extension 0.05), and decoded single-mask. A track stops (the frame is not kept) when the new mask's
IoU with the shifted previous mask falls below ``iou_threshold`` (micro_sam default 0.5).

A declared division at frame t ends the mother track at t - 1 and starts two daughter tracks
from their own annotations on frame t; the daughters are followed like the mother (and may
divide again). Track ids: the annotated object is 1, daughters are numbered in order of birth,
as micro_sam's lineage ``{mother: [mother + 1, mother + 2]}`` for a first division.

Ours, not micro_sam's: tracking backward in time on request (same procedure, time reversed);
a track also stops when the shifted mask leaves the image or the decoded mask is empty (micro_sam
decodes an empty prompt, then stops on IoU 0); several tracks are followed frame by frame
together, so a division is given to the track alive at t - 1 whose mask best covers the
daughters' annotations (the only track, in micro_sam's one-object-at-a-time annotator).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..callbacks import CancelledFn, raise_if_cancelled
from ..prompts import decoding as prompts
from ..prompts import projection as prompt_projection
from ..embeddings import ImageEmbeddings
from ..metrics import mask_iou
from ..errors import InvalidInput
from ..models import LoadedModel
from .linking import lineage_from_tracks
from .motion import center_of_mass_motion, shift_mask

EmbeddingsAt = Callable[[int], ImageEmbeddings]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ObjectAnnotation:
    """One object on frame ``t``: a mask (kept as drawn) or prompts (decoded by SAM).

    ``points`` are ``(N, 2)`` ``(x, y)`` with ``point_labels`` 1/0 (default all 1), ``box`` is
    ``(x0, y0, x1, y1)``; give either ``mask`` or points and/or a box.
    """

    t: int
    mask: np.ndarray | None = None
    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    box: np.ndarray | None = None


@dataclass(frozen=True)
class Division:
    """A division seen on frame ``t``: the mother ends at ``t - 1``, two daughters start at ``t``."""

    t: int
    daughters: tuple[ObjectAnnotation, ObjectAnnotation]


@dataclass(frozen=True)
class FollowOptions:
    """How an object is followed from frame to frame (defaults: micro_sam's tracking annotator)."""

    iou_threshold: float = 0.5
    """Stop when IoU(new mask, shifted previous mask) is below this; 0 never stops on IoU."""
    projection: str = "single_point"
    """Prompt derived from the shifted mask: one of ``projection.PROJECTION_MODES`` (micro_sam's names)."""
    box_extension: float = 0.05
    """Relative enlargement of the derived box (and of the crop the points are sampled in)."""
    motion_smoothing: float = 0.5
    """Weight of the previous motion estimate in the exponential smoothing."""
    backward: bool = False
    """Also follow the annotated object backward from its frame."""
    method: str = ""
    """``"prompts"`` (the above, SAM1-family models), ``"memory"`` (SAM2 memory propagation, SAM2
    models; the projection, IoU and motion settings do not apply); ``""``: the model's own."""

    def validate(self) -> None:
        """Raise ``InvalidInput`` naming the first option out of range."""
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise InvalidInput(f"iou_threshold must be in [0, 1], got {self.iou_threshold}")
        prompt_projection.mode_flags(self.projection)  # raises InvalidInput for an unknown mode
        if not 0.0 <= self.box_extension:
            raise InvalidInput(f"box_extension must be >= 0, got {self.box_extension}")
        if not 0.0 <= self.motion_smoothing <= 1.0:
            raise InvalidInput(f"motion_smoothing must be in [0, 1], got {self.motion_smoothing}")


@dataclass(frozen=True)
class InteractiveTrackingResult:
    """Tracks of the followed object and its descendants.

    ``labels`` is ``(t, y, x)`` uint32 with each track painted with its id (where two tracks
    overlap the higher id wins); ``tracks`` the CTC ``(n, 4)`` table ``(id, begin, end,
    parent)``; ``lineage`` ``{mother: [daughters]}``; ``stop_reasons[id]`` says why each track
    ended (``"end of series"``, ``"divided at frame 7"``, ``"lost at frame 5: IoU 0.31 < 0.5"``,
    ...); ``backward_stop`` the same for the backward pass of track 1 (empty without one).
    """

    labels: np.ndarray
    tracks: np.ndarray
    lineage: dict[int, list[int]]
    stop_reasons: dict[int, str]
    backward_stop: str = ""


@dataclass
class _Track:
    """A track being followed: its masks in following order and its state."""

    track_id: int
    parent: int
    frames: list[int] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    alive: bool = True
    divided: bool = False
    stop_reason: str = ""

    def add(self, t: int, mask: np.ndarray) -> None:
        self.frames.append(t)
        self.masks.append(mask)

    def stop(self, reason: str) -> None:
        self.alive = False
        self.stop_reason = reason


def track_object(
    model: LoadedModel,
    embeddings_at: EmbeddingsAt,
    shape: tuple[int, int, int],
    start: ObjectAnnotation,
    divisions: Sequence[Division] = (),
    options: FollowOptions | None = None,
    progress: Progress | None = None,
    cancelled: CancelledFn | None = None,
) -> InteractiveTrackingResult:
    """Follow the object annotated by ``start`` through a series of ``shape`` ``(t, y, x)``.

    ``embeddings_at(t)`` returns frame t's embeddings; it is called only for frames that are
    decoded, so a track that stops early costs no further embeddings. ``progress(done, total)``
    counts frames; ``cancelled()`` is polled before every frame and raises ``Cancelled``.
    """
    options = options or FollowOptions()
    options.validate()
    n_frames, height, width = _check_shape(shape)
    _check_annotation(start, "start", n_frames, (height, width))
    divisions = sorted(divisions, key=lambda d: d.t)
    for i, division in enumerate(divisions):
        _check_division(division, i, start.t, n_frames, (height, width))
    total = (n_frames - 1 - start.t) + (start.t if options.backward else 0)
    done = 0

    def step_done() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, max(total, 1))

    _raise_if_cancelled(cancelled)
    first = _Track(track_id=1, parent=0)
    first.add(start.t, _segment_annotation(model, embeddings_at, start, "start"))
    tracks = [first]
    for t in range(start.t + 1, n_frames):
        if not any(track.alive for track in tracks) and not any(d.t >= t for d in divisions):
            break  # nothing left to follow: no further embeddings are needed
        _raise_if_cancelled(cancelled)
        born = _apply_divisions(model, embeddings_at, tracks, [d for d in divisions if d.t == t])
        for track in tracks:
            if track.alive and track.track_id not in born:
                _follow(model, embeddings_at, track, t, options)
        step_done()
    for track in tracks:
        if track.alive:
            track.stop("end of series")
    backward_stop = ""
    if options.backward:
        backward_stop = _follow_backward(model, embeddings_at, first, options, step_done, cancelled)
    if progress is not None:
        progress(max(total, 1), max(total, 1))
    return _result(tracks, (n_frames, height, width), backward_stop)


# ---------------------------------------------------------------- following


def _follow(model: LoadedModel, embeddings_at: EmbeddingsAt, track: _Track, t: int, options: FollowOptions) -> None:
    """Segment ``track`` on frame ``t`` from its shifted previous mask, or stop it."""
    mask, reason = follow_step(model, embeddings_at(t), track.masks, options)
    if mask is None:
        track.stop(f"lost at frame {t}: {reason}")
    else:
        track.add(t, mask)


def follow_step(
    model: LoadedModel, embeddings: ImageEmbeddings, history: Sequence[np.ndarray], options: FollowOptions
) -> tuple[np.ndarray | None, str]:
    """One tracking step: ``(mask, "")`` on the next frame, or ``(None, why the object is lost)``.

    ``history`` are the object's masks in the frames followed so far, oldest first.
    """
    motion = center_of_mass_motion(history, options.motion_smoothing)
    shifted = shift_mask(np.asarray(history[-1], dtype=bool), motion)
    if not shifted.any():
        return None, "the predicted position left the image"
    mask = segment_from_mask(model, embeddings, shifted, options.projection, options.box_extension)
    if not mask.any():
        return None, "empty mask"
    overlap = mask_iou(shifted, mask)
    if overlap < options.iou_threshold:
        return None, f"IoU {overlap:.2f} < {options.iou_threshold:g}"
    return mask, ""


def _follow_backward(
    model: LoadedModel,
    embeddings_at: EmbeddingsAt,
    track: _Track,
    options: FollowOptions,
    step_done: Callable[[], None],
    cancelled: CancelledFn | None,
) -> str:
    """Follow track 1 from its annotated frame back to frame 0; return why it stopped."""
    history = [track.masks[0]]
    first_frame = track.frames[0]
    found: list[tuple[int, np.ndarray]] = []
    reason = "start of series"
    for t in range(first_frame - 1, -1, -1):
        _raise_if_cancelled(cancelled)
        mask, why = follow_step(model, embeddings_at(t), history, options)
        step_done()
        if mask is None:
            reason = f"lost at frame {t}: {why}"
            break
        history.append(mask)
        found.append((t, mask))
    # Keep the track's frames in time order: backward frames first.
    for t, mask in found:
        track.frames.insert(0, t)
        track.masks.insert(0, mask)
    return reason


def _apply_divisions(
    model: LoadedModel, embeddings_at: EmbeddingsAt, tracks: list[_Track], divisions: Sequence[Division]
) -> set[int]:
    """End each division's mother and start its daughters; return the daughters' ids."""
    born: set[int] = set()
    for division in divisions:
        mother = _mother_of(division, [track for track in tracks if track.track_id not in born])
        if mother.alive:
            mother.stop(f"divided at frame {division.t}")
        mother.divided = True
        for which, annotation in enumerate(division.daughters):
            daughter = _Track(track_id=len(tracks) + 1, parent=mother.track_id)
            what = f"division at frame {division.t}, daughter {'ab'[which]}"
            daughter.add(division.t, _segment_annotation(model, embeddings_at, annotation, what))
            tracks.append(daughter)
            born.add(daughter.track_id)
    return born


def _mother_of(division: Division, tracks: Sequence[_Track]) -> _Track:
    """The track a division belongs to.

    Preference: alive at ``t - 1``, then most of the daughters' annotations inside its last
    mask, then nearest last mask. A mother lost before the division still gets its daughters:
    the user declared them.
    """
    candidates = [track for track in tracks if not track.divided and track.frames and track.frames[0] < division.t]
    if not candidates:
        raise InvalidInput(f"division at frame {division.t}: no followed object exists before that frame")
    shape = candidates[0].masks[-1].shape
    footprint = np.logical_or(*(_footprint(a, shape) for a in division.daughters))
    center = np.argwhere(footprint).mean(axis=0) if footprint.any() else np.zeros(2)

    def preference(track: _Track) -> tuple[bool, int, float]:
        last = track.masks[-1]
        distance = float(np.linalg.norm(np.argwhere(last).mean(axis=0) - center)) if last.any() else np.inf
        return track.alive, int(np.count_nonzero(footprint & last)), -distance

    return max(candidates, key=preference)


def _footprint(annotation: ObjectAnnotation, shape: tuple[int, int]) -> np.ndarray:
    """Pixels an annotation covers: its mask, its box, its positive points."""
    if annotation.mask is not None:
        return np.asarray(annotation.mask, dtype=bool)
    covered = np.zeros(shape, dtype=bool)
    if annotation.box is not None:
        x0, y0, x1, y1 = np.round(np.asarray(annotation.box, dtype=np.float64)).astype(int)
        covered[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    if annotation.points is not None:
        points = np.asarray(annotation.points, dtype=np.float64).reshape(-1, 2)
        labels = np.ones(len(points)) if annotation.point_labels is None else np.asarray(annotation.point_labels)
        for x, y in np.round(points[labels == 1]).astype(int).tolist():
            if 0 <= y < shape[0] and 0 <= x < shape[1]:
                covered[y, x] = True
    return covered


def _segment_annotation(
    model: LoadedModel, embeddings_at: EmbeddingsAt, annotation: ObjectAnnotation, what: str
) -> np.ndarray:
    """The annotated object's mask: the mask as drawn, or SAM's answer to the prompts."""
    if annotation.mask is not None:
        return np.asarray(annotation.mask, dtype=bool)
    result = prompts.decode(
        model, embeddings_at(annotation.t), points=annotation.points, point_labels=annotation.point_labels,
        box=annotation.box,
    )
    mask = result.masks[int(np.argmax(result.scores))]
    if not mask.any():
        raise InvalidInput(f"{what}: the prompts on frame {annotation.t} segment nothing; annotate the object again")
    return mask


# ---------------------------------------------------------------- decoding


def segment_from_mask(
    model: LoadedModel, embeddings: ImageEmbeddings, mask: np.ndarray, mode: str, box_extension: float
) -> np.ndarray:
    """Decode one frame from the prompt ``projection`` derives from ``mask`` (micro_sam's
    ``segment_from_mask``: single-mask output, also for a lone point)."""
    prompt = prompt_projection.project(mask, embeddings, mode, box_extension)
    masks, _ = prompt_projection.decode_prompts(model, embeddings, [prompt])
    return masks[0]


# ---------------------------------------------------------------- validation and result


def _check_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    if len(shape) != 3 or min(shape) < 1:
        raise InvalidInput(f"interactive tracking needs a (t, y, x) series, got shape {tuple(shape)}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _check_annotation(annotation: ObjectAnnotation, what: str, n_frames: int, plane: tuple[int, int]) -> None:
    if not 0 <= annotation.t < n_frames:
        raise InvalidInput(f"{what}: frame {annotation.t} is outside the series (0..{n_frames - 1})")
    has_prompts = annotation.points is not None or annotation.box is not None
    if annotation.mask is None and not has_prompts:
        raise InvalidInput(f"{what}: give the object as a mask or as points and/or a box")
    if annotation.mask is not None:
        if has_prompts:
            raise InvalidInput(f"{what}: give either a mask or prompts (points/box), not both")
        mask = np.asarray(annotation.mask)
        if mask.shape != plane:
            raise InvalidInput(f"{what}: mask has shape {mask.shape} but the frames are {plane}")
        if not mask.any():
            raise InvalidInput(f"{what}: mask is empty")


def _check_division(division: Division, index: int, start: int, n_frames: int, plane: tuple[int, int]) -> None:
    what = f"divisions[{index}]"
    if not start < division.t < n_frames:
        raise InvalidInput(
            f"{what}: frame {division.t} must come after the annotated frame {start} and lie in the series "
            f"(..{n_frames - 1})"
        )
    if len(division.daughters) != 2:
        raise InvalidInput(f"{what}: a division needs exactly two daughters, got {len(division.daughters)}")
    for which, daughter in zip("ab", division.daughters):
        if daughter.t != division.t:
            raise InvalidInput(f"{what}: daughter {which} is annotated on frame {daughter.t}, not {division.t}")
        _check_annotation(daughter, f"{what} daughter {which}", n_frames, plane)


def _raise_if_cancelled(cancelled: CancelledFn | None) -> None:
    raise_if_cancelled(cancelled, "interactive tracking cancelled")


def _result(tracks: Sequence[_Track], shape: tuple[int, int, int], backward_stop: str) -> InteractiveTrackingResult:
    labels = np.zeros(shape, dtype=np.uint32)
    for track in tracks:  # ascending ids: a later (daughter) track wins overlaps
        for t, mask in zip(track.frames, track.masks):
            labels[t][mask] = track.track_id
    table = np.array(
        [(track.track_id, track.frames[0], track.frames[-1], track.parent) for track in tracks], dtype=np.int64
    ).reshape(-1, 4)
    return InteractiveTrackingResult(
        labels=labels,
        tracks=table,
        lineage=lineage_from_tracks(table),
        stop_reasons={track.track_id: track.stop_reason for track in tracks},
        backward_stop=backward_stop,
    )
