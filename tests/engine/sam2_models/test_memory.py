"""SAM2 memory propagation through a real time-lapse (HeLa) and a real volume (CHO) matches
SAM2VideoPredictor per slice (IoU >= 0.98) on identical weights, prompts and features.

The reference is sam2's own video predictor, built by ``build_sam2_video_predictor`` from the same
checkpoint, used as SAM2 is usually used (prompts, ``propagate_in_video`` forward, then
``reverse=True`` on the same state). Its frames enter through the image predictor's transform
(no JPEGs, so no compression changes the pixels), and its encoder outputs are our features of the
same frames, which ``test_features`` shows equal sam2's: each slice is encoded once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge_server.engine.errors import Cancelled
from sambridge_server.engine.sam2_models import MemoryPropagator, SlicePrompt, correct, propagate_stack
from sambridge_server.engine.sam2_models.features import backbone_out, encoder_input
from sambridge_server.engine.sam2_models.memory import _Track

from .conftest import CONFIG


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@pytest.fixture(scope="module")
def video_reference(checkpoint):
    """SAM2VideoPredictor (corrections become conditioning frames, as in our propagator)."""
    from sam2.build_sam import build_sam2_video_predictor

    return build_sam2_video_predictor(CONFIG, str(checkpoint), device="cpu",
                                      hydra_overrides_extra=["++model.add_all_frames_to_correct_as_cond=true"])


@pytest.fixture(scope="module")
def hela_stack(features, hela_frames):
    return hela_frames, [features(f"hela{t}", frame) for t, frame in enumerate(hela_frames)]


@pytest.fixture(scope="module")
def cho_stack(features, cho_volume):
    return cho_volume, [features(f"cho{z}", image) for z, image in enumerate(cho_volume)]


def reference_state(video_reference, stack, monkeypatch):
    """init_state on in-memory frames whose encoder output is our features of the same frames."""
    import sam2.sam2_video_predictor as video_module

    frames, feats = stack
    images = torch.cat([encoder_input(video_reference, frame) for frame in frames])
    monkeypatch.setattr(video_module, "load_video_frames",
                        lambda **_: (images, frames.shape[1], frames.shape[2]))
    by_pixels = {images[i].numpy().tobytes(): i for i in range(len(images))}
    monkeypatch.setattr(video_reference, "forward_image",
                        lambda batch: backbone_out(video_reference, feats[by_pixels[batch[0].numpy().tobytes()]]))
    return video_reference.init_state("in-memory frames")


def add_reference_prompt(video_reference, state, prompt: SlicePrompt):
    if prompt.mask is not None:
        video_reference.add_new_mask(state, prompt.frame, prompt.object_id, prompt.mask)
    else:
        video_reference.add_new_points_or_box(state, prompt.frame, prompt.object_id, points=prompt.points,
                                              labels=prompt.labels, box=prompt.box)


def run_reference(video_reference, state, start=None, reverse=False) -> dict[int, np.ndarray]:
    return {frame: (logits[:, 0] > 0).numpy()
            for frame, _, logits in video_reference.propagate_in_video(state, start_frame_idx=start, reverse=reverse)}


def run_ours(propagator: MemoryPropagator, start=None, reverse=False) -> dict[int, np.ndarray]:
    return {result.frame: result.masks for result in propagator.propagate(start, reverse)}


def make_propagator(ours, stack, prompts, **kwargs) -> MemoryPropagator:
    frames, feats = stack
    propagator = MemoryPropagator(ours, len(frames), frames.shape[1:], lambda z: feats[z], **kwargs)
    for prompt in prompts:
        propagator.add_prompt(prompt.frame, prompt.object_id, prompt.points, prompt.labels, prompt.box, prompt.mask)
    return propagator


def assert_match(mine: dict, theirs: dict, min_iou: float = 0.98) -> list[float]:
    assert mine.keys() == theirs.keys()
    ious = []
    for frame in mine:
        assert mine[frame].shape == theirs[frame].shape
        for a, b in zip(mine[frame], theirs[frame]):
            assert 0.001 < a.mean() < 0.999, "degenerate mask: the comparison would mean nothing"
            ious.append(iou(a, b))
    assert min(ious) >= min_iou, ious
    return ious


@pytest.fixture(scope="module")
def hela_prompts(hela_nuclei):
    """A box and a point on frame 0 (the volume test covers mask prompts)."""
    (_, box, _), (_, _, centre) = hela_nuclei[1], hela_nuclei[2]
    return [SlicePrompt(0, 1, box=box), SlicePrompt(0, 2, points=np.array([centre]), labels=np.array([1]))]


@pytest.fixture(scope="module")
def hela_together(ours, hela_stack, hela_prompts):
    """Our propagation of both HeLa objects in one pass: {frame: logits (2, H, W)}."""
    return {result.frame: result.logits for result in make_propagator(ours, hela_stack, hela_prompts).propagate()}


def test_timelapse_several_objects_match_the_video_predictor(video_reference, hela_stack, hela_prompts,
                                                             hela_together, monkeypatch):
    state = reference_state(video_reference, hela_stack, monkeypatch)
    for prompt in hela_prompts:
        add_reference_prompt(video_reference, state, prompt)
    theirs = run_reference(video_reference, state)
    mine = {frame: logits > 0 for frame, logits in hela_together.items()}
    assert list(mine) == [0, 1, 2]
    assert_match(mine, theirs)


def test_volume_both_directions_match_the_video_predictor(ours, video_reference, cho_stack, cho_boxes, monkeypatch):
    """A mask and a box on the middle slice, propagated up and down."""
    mask = np.zeros(cho_stack[0].shape[1:], dtype=bool)
    x0, y0, x1, y1 = cho_boxes[0].astype(int)
    mask[y0 + 5 : y1 - 5, x0 + 5 : x1 - 5] = True
    prompts = [SlicePrompt(1, 1, mask=mask), SlicePrompt(1, 2, box=cho_boxes[1])]
    state = reference_state(video_reference, cho_stack, monkeypatch)
    for prompt in prompts:
        add_reference_prompt(video_reference, state, prompt)
    theirs = run_reference(video_reference, state)
    theirs.update(run_reference(video_reference, state, reverse=True))
    propagator = make_propagator(ours, cho_stack, prompts)
    mine = run_ours(propagator)
    mine.update(run_ours(propagator, reverse=True))
    assert sorted(mine) == [0, 1, 2]
    assert_match(mine, theirs)


def test_many_objects_in_one_pass_equal_one_by_one(ours, hela_stack, hela_prompts, hela_together):
    for k, prompt in enumerate(hela_prompts):
        alone = {result.frame: result.logits for result in make_propagator(ours, hela_stack, [prompt]).propagate()}
        for frame, logits in hela_together.items():
            np.testing.assert_array_equal(logits[k], alone[frame][0])


def test_correction_on_a_middle_slice_repropagates_as_sam2(ours, video_reference, hela_stack, hela_nuclei,
                                                            monkeypatch):
    (_, box, _), (_, _, inside), (_, _, outside) = hela_nuclei[1], hela_nuclei[1], hela_nuclei[3]
    first = SlicePrompt(0, 1, box=box)
    fix = SlicePrompt(1, 1, points=np.array([inside, outside]), labels=np.array([1, 0]))
    state = reference_state(video_reference, hela_stack, monkeypatch)
    add_reference_prompt(video_reference, state, first)
    run_reference(video_reference, state)
    add_reference_prompt(video_reference, state, fix)
    theirs_forward = run_reference(video_reference, state, start=1)
    theirs_backward = run_reference(video_reference, state, start=1, reverse=True)

    frames, _ = hela_stack
    labels, propagator = propagate_stack(ours, len(frames), frames.shape[1:], lambda z: hela_stack[1][z], [first])
    before = labels.copy()
    visited = correct(propagator, labels, [fix], forward=True, backward=False)
    assert visited == [1, 2]
    np.testing.assert_array_equal(labels[0], before[0])  # not re-propagated: unchanged
    assert not np.array_equal(labels[2], before[2])  # re-propagated with the correction's memory
    assert_match({f: (labels[f] == 1)[None] for f in (1, 2)}, {f: theirs_forward[f] for f in (1, 2)})
    backward = {result.frame: result.masks for result in propagator.propagate(1, reverse=True)}
    assert list(backward) == [1, 0]
    assert_match(backward, theirs_backward)


def test_progress_cancellation_and_labels(ours, cho_stack, cho_boxes):
    frames, feats = cho_stack
    calls = []
    prompts = [SlicePrompt(1, 7, box=cho_boxes[0])]
    labels, _ = propagate_stack(ours, 3, frames.shape[1:], lambda z: feats[z], prompts,
                                progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]  # forward 1, 2; backward 1, 0
    assert labels.dtype == np.uint32 and set(np.unique(labels)) == {0, 7}
    with pytest.raises(Cancelled):
        propagate_stack(ours, 3, frames.shape[1:], lambda z: feats[z], prompts,
                        progress=lambda d, t: calls.append((d, t)), cancelled=lambda: len(calls) > 5)


def test_memory_bank_is_bounded_but_keeps_what_sam2_reads(ours, hela_stack):
    frames, feats = hela_stack
    propagator = MemoryPropagator(ours, 200, frames.shape[1:], lambda z: feats[0], max_memory_frames=40)
    track = _Track()
    track.output["cond_frame_outputs"][0] = {}
    track.output["non_cond_frame_outputs"].update({f: {} for f in range(1, 150)})
    propagator._evict(track, current=149)
    kept = set(track.output["non_cond_frame_outputs"])
    reach = propagator._reach
    assert reach == 16 and len(kept) == 40
    assert set(range(1, 17)) <= kept  # read by a backward pass from the conditioning frame
    assert set(range(149 - 16, 150)) <= kept  # read by the next forward steps
