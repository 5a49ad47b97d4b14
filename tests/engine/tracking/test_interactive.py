"""Interactive tracking: parity with micro_sam's track_from_prompts on real HeLa frames, and the
mechanics (motion, divisions, stopping, backward, cancel) with an oracle in place of SAM."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage.draw import disk
from skimage.measure import regionprops

from sambridge_server.engine.tracking import interactive as ti
from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.errors import Cancelled, InvalidInput
from sambridge_server.engine.models import LoadedModel
from sambridge_server.engine.tracking.interactive import (
    Division,
    FollowOptions,
    ObjectAnnotation,
    track_object,
)

pytest.importorskip("micro_sam")

CROP = (slice(180, 436), slice(300, 556))  # 256 x 256 of the real HeLa movie
N_FRAMES = 10


def _micro_sam_tracking_util():
    """micro_sam's ``sam_annotator/util.py`` (``track_from_prompts``) without napari.

    The annotator package imports napari (a GUI, not installed); the module itself only uses it
    in type hints, so a stand-in is registered while it is imported and removed afterwards.
    """
    import micro_sam
    import micro_sam.multi_dimensional_segmentation  # noqa: F401 - imported before the stand-in
    import micro_sam.util  # noqa: F401 - its optional napari import must see the real absence

    class _Anything:
        def __getattr__(self, name: str) -> "_Anything":
            return self

    path = Path(micro_sam.__file__).parent / "sam_annotator" / "util.py"
    spec = importlib.util.spec_from_file_location("micro_sam.sam_annotator.util", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("napari")
    sys.modules["napari"] = _Anything()  # type: ignore[assignment]
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop("napari", None)
        else:
            sys.modules["napari"] = saved
    return module


# ---------------------------------------------------------------- parity with micro_sam


@pytest.fixture(scope="module")
def movie(hela_movie, hela_seg, tiny_sam):
    """Ten real frames (cropped), their embeddings, and a nucleus mask on frame 0."""
    frames = np.ascontiguousarray(hela_movie[:N_FRAMES][(slice(None), *CROP)])
    embeddings = [compute_embeddings(tiny_sam, frame) for frame in frames]
    labels = hela_seg[0][CROP]
    nucleus = max(
        (p for p in regionprops(labels) if min(p.bbox[:2]) > 10 and max(p.bbox[2:]) < 246), key=lambda p: p.area
    )
    return frames, embeddings, labels == nucleus.label


def _reference(micro_sam_predictor, embeddings, start_mask, threshold, projection):
    """micro_sam's track_from_prompts from ``start_mask`` on frame 0, fed our features."""
    util = _micro_sam_tracking_util()
    features = np.stack([e.features for e in embeddings])  # (t, 1, 256, 64, 64), as micro_sam stores them
    image_embeddings = {
        "features": features, "input_size": embeddings[0].input_sizes[0],
        "original_size": embeddings[0].original_sizes[0],
    }
    seg = np.zeros((len(embeddings), *start_mask.shape), dtype=np.uint32)
    seg[0] = start_mask
    seg, _ = util.track_from_prompts(
        None, None, seg, micro_sam_predictor, np.array([0]), image_embeddings, False, threshold, projection,
        motion_smoothing=0.5, box_extension=0.05,
    )
    return seg == 1


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.mark.parametrize("projection", ["single_point", "box"])
def test_follows_a_real_nucleus_like_micro_sam(tiny_sam, micro_sam_predictor, movie, projection):
    _, embeddings, start_mask = movie
    model = LoadedModel("tiny", "vit_t", None, tiny_sam, None, "test")
    # Random weights make poor masks; without the IoU stop both implementations run all 10 frames.
    options = FollowOptions(iou_threshold=0.0, projection=projection)
    ours = track_object(model, embeddings.__getitem__, (N_FRAMES, *start_mask.shape), ObjectAnnotation(0, mask=start_mask),
                        options=options)
    theirs = _reference(micro_sam_predictor, embeddings, start_mask, 0.0, projection)

    assert ours.tracks.tolist() == [[1, 0, N_FRAMES - 1, 0]] and ours.stop_reasons == {1: "end of series"}
    ious = [_iou(ours.labels[t] == 1, theirs[t]) for t in range(N_FRAMES)]
    assert min(ious) >= 0.9, ious
    # The comparison is not vacuous: the object's mask changes from frame to frame.
    assert len({(ours.labels[t] == 1).tobytes() for t in range(N_FRAMES)}) >= 5


def test_stops_where_micro_sam_stops(tiny_sam, micro_sam_predictor, movie):
    _, embeddings, start_mask = movie
    model = LoadedModel("tiny", "vit_t", None, tiny_sam, None, "test")
    ours = track_object(model, embeddings.__getitem__, (N_FRAMES, *start_mask.shape), ObjectAnnotation(0, mask=start_mask))
    theirs = _reference(micro_sam_predictor, embeddings, start_mask, 0.5, "single_point")

    last = max(t for t in range(N_FRAMES) if theirs[t].any())
    assert ours.tracks[0, 2] == last < N_FRAMES - 1
    assert ours.stop_reasons[1].startswith(f"lost at frame {last + 1}: IoU")
    assert all(_iou(ours.labels[t] == 1, theirs[t]) >= 0.9 for t in range(N_FRAMES))


# ---------------------------------------------------------------- mechanics, SAM replaced by an oracle


def _discs(frames: int, centers_of, radius: int = 8, size: int = 96) -> np.ndarray:
    """A (t, y, x) ground truth: ``centers_of(t)`` -> {id: (y, x)}."""
    truth = np.zeros((frames, size, size), dtype=np.uint32)
    for t in range(frames):
        for label, center in centers_of(t).items():
            truth[t][disk(center, radius, shape=(size, size))] = label
    return truth


@pytest.fixture()
def oracle(monkeypatch):
    """Replace SAM by the ground-truth object that overlaps the prompt mask most.

    ``embeddings_at(t)`` hands out t; ``calls`` records the frames the tracker asked for.
    """
    state = {"truth": None, "calls": []}

    def segment_from_mask(model, t, mask, projection, box_extension):
        frame = state["truth"][t]
        ids, counts = np.unique(frame[mask & (frame > 0)], return_counts=True)
        return frame == ids[np.argmax(counts)] if len(ids) else np.zeros_like(mask)

    def embeddings_at(t):
        state["calls"].append(t)
        return t

    monkeypatch.setattr(ti, "segment_from_mask", segment_from_mask)
    state["embeddings_at"] = embeddings_at
    return state


def test_motion_model_keeps_an_accelerating_object(oracle, monkeypatch):
    # x moves 6 px, then 10 px per frame: unshifted, the 10 px steps overlap too little (IoU 0.15).
    truth = _discs(8, lambda t: {1: (48, 12 + (6 + 10 * (t - 1) if t else 0)), 2: (20, 20)})
    oracle["truth"] = truth
    start = ObjectAnnotation(0, mask=truth[0] == 1)
    options = FollowOptions(iou_threshold=0.2)
    result = track_object(None, oracle["embeddings_at"], truth.shape, start, options=options)
    np.testing.assert_array_equal(result.labels, (truth == 1).astype(np.uint32))
    assert result.tracks.tolist() == [[1, 0, 7, 0]] and result.lineage == {}

    monkeypatch.setattr(ti, "center_of_mass_motion", lambda masks, smoothing: np.zeros(2))
    lost = track_object(None, oracle["embeddings_at"], truth.shape, start, options=options)
    assert lost.tracks.tolist() == [[1, 0, 1, 0]] and lost.stop_reasons[1].startswith("lost at frame 2: IoU 0.1")


def test_division_ends_the_mother_and_follows_both_daughters(oracle, monkeypatch):
    def centers(t):
        if t < 4:
            return {1: (48, 48)}
        gap = 10 + 2 * (t - 4)
        return {2: (48 - gap, 48), 3: (48 + gap, 48)}

    truth = _discs(8, centers)
    oracle["truth"] = truth
    daughters = (ObjectAnnotation(4, mask=truth[4] == 2), ObjectAnnotation(4, box=np.array([38, 50, 58, 68])))
    # The box daughter is decoded by "SAM": the oracle answers the box with daughter 3.
    decoded = ti.prompts.DecodeResult(np.array([truth[4] == 3]), np.array([1.0]), np.zeros((1, 256, 256)))
    monkeypatch.setattr(ti.prompts, "decode", lambda model, t, **prompt: decoded)
    result = track_object(None, oracle["embeddings_at"], truth.shape, ObjectAnnotation(0, mask=truth[0] == 1),
                          divisions=[Division(4, daughters)])

    assert result.tracks.tolist() == [[1, 0, 3, 0], [2, 4, 7, 1], [3, 4, 7, 1]]
    assert result.lineage == {1: [2, 3]}
    np.testing.assert_array_equal(result.labels, truth)
    assert result.stop_reasons == {1: "divided at frame 4", 2: "end of series", 3: "end of series"}


def test_lost_object_stops_and_no_later_frame_is_embedded(oracle):
    truth = _discs(10, lambda t: {1: (48, 48)} if t < 4 else {})
    oracle["truth"] = truth
    result = track_object(None, oracle["embeddings_at"], truth.shape, ObjectAnnotation(0, mask=truth[0] == 1))
    assert result.tracks.tolist() == [[1, 0, 3, 0]]
    assert result.stop_reasons[1] == "lost at frame 4: empty mask"
    assert oracle["calls"] == [1, 2, 3, 4]


def test_backward_follows_the_object_to_the_first_frame(oracle):
    truth = _discs(8, lambda t: {1: (48, 20 + 3 * t)})  # first step unshifted: keep it small
    oracle["truth"] = truth
    progress = []
    result = track_object(None, oracle["embeddings_at"], truth.shape, ObjectAnnotation(5, mask=truth[5] == 1),
                          options=FollowOptions(backward=True), progress=lambda d, n: progress.append((d, n)))
    np.testing.assert_array_equal(result.labels, truth)
    assert result.tracks.tolist() == [[1, 0, 7, 0]] and result.backward_stop == "start of series"
    assert progress[-1] == (7, 7) and [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_cancel_stops_between_frames(oracle):
    truth = _discs(10, lambda t: {1: (48, 48)})
    oracle["truth"] = truth
    polls = iter([False, False, False])
    with pytest.raises(Cancelled):
        track_object(None, oracle["embeddings_at"], truth.shape, ObjectAnnotation(0, mask=truth[0] == 1),
                     cancelled=lambda: next(polls, True))
    assert oracle["calls"] == [1, 2]


@pytest.mark.parametrize(
    ("start", "divisions", "options", "message"),
    [
        (ObjectAnnotation(9, mask=np.ones((32, 32), bool)), (), None, "outside the series"),
        (ObjectAnnotation(0, mask=np.ones((16, 32), bool)), (), None, "mask has shape"),
        (ObjectAnnotation(0, mask=np.zeros((32, 32), bool)), (), None, "mask is empty"),
        (ObjectAnnotation(0), (), None, "as a mask or as points"),
        (ObjectAnnotation(0, mask=np.ones((32, 32), bool), box=np.array([0, 0, 4, 4])), (), None, "not both"),
        (ObjectAnnotation(2, mask=np.ones((32, 32), bool)),
         [Division(1, (ObjectAnnotation(1, box=np.array([0, 0, 4, 4])),) * 2)], None, "must come after"),
        (ObjectAnnotation(0, mask=np.ones((32, 32), bool)),
         [Division(2, (ObjectAnnotation(3, box=np.array([0, 0, 4, 4])),) * 2)], None, "not 2"),
        (ObjectAnnotation(0, mask=np.ones((32, 32), bool)), (), FollowOptions(iou_threshold=1.5), "iou_threshold"),
        (ObjectAnnotation(0, mask=np.ones((32, 32), bool)), (), FollowOptions(projection="lasso"), "projection"),
    ],
)
def test_bad_input_is_named(start, divisions, options, message):
    with pytest.raises(InvalidInput, match=message):
        track_object(None, lambda t: t, (4, 32, 32), start, divisions, options)
