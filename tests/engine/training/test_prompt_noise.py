"""Training prompt noise: SAM's jittered boxes, loose boxes, clipping, seeds, refinement rounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge_server.engine.models import PRESETS, build_sam
from sambridge_server.engine.training.prompt_noise import SAM_BOX_NOISE, BoxNoise, noisy_boxes
from sambridge_server.engine.training.config import SAM_PROMPT_NOISE
from sambridge_server.engine.training.config import box_noise, make_config
from sambridge_server.engine.training.objective import prompt_loss
from sambridge_server.engine.training.data import Patch

JITTER_ONLY = BoxNoise(jitter=0.1, max_jitter_px=20.0)
LOOSE_ONLY = BoxNoise(jitter=0.1, max_jitter_px=20.0, loose_prob=1.0, max_margin_px=20.0)


def _boxes(n: int, side: float, origin: float = 5000.0) -> torch.Tensor:
    return torch.tensor([[origin, origin, origin + side, origin + side]] * n, dtype=torch.float32)


def test_jitter_is_ten_percent_of_the_side_and_at_most_20_px():
    small = noisy_boxes(_boxes(4000, 40.0), np.random.default_rng(0), JITTER_ONLY) - _boxes(4000, 40.0)
    assert abs(small.mean().item()) < 0.2
    assert small.std().item() == pytest.approx(4.0, rel=0.05)  # 10% of a 40-px side, never clipped at 20
    large = noisy_boxes(_boxes(4000, 1000.0), np.random.default_rng(0), JITTER_ONLY) - _boxes(4000, 1000.0)
    assert large.abs().max().item() == pytest.approx(20.0)  # N(0, 100 px) is clipped to 20 px
    assert (large.abs() == 20.0).float().mean().item() > 0.8


def test_default_noise_keeps_micro_sams_small_unclipped_jitter():
    shifts = noisy_boxes(_boxes(4000, 1000.0), np.random.default_rng(1), BoxNoise()) - _boxes(4000, 1000.0)
    assert shifts.std().item() == pytest.approx(25.0, rel=0.05)  # 2.5% of 1000 px
    assert shifts.abs().max().item() > 20.0


def test_loose_boxes_grow_by_0_to_20_px_per_side():
    tight = _boxes(4000, 30.0)
    margins = (noisy_boxes(tight, np.random.default_rng(2), LOOSE_ONLY) - tight) * torch.tensor([-1, -1, 1, 1])
    assert margins.min().item() >= 0.0 and margins.max().item() <= 20.0
    assert margins.mean().item() == pytest.approx(10.0, abs=0.3)  # uniform on [0, 20]
    assert margins.max().item() > 19.5 and margins.min().item() < 0.5
    half = noisy_boxes(tight, np.random.default_rng(3), SAM_BOX_NOISE) - tight
    grown = ((half * torch.tensor([-1, -1, 1, 1])) >= 0).all(1).float().mean().item()
    assert 0.45 < grown < 0.62  # about half loose (plus jittered boxes that happened to grow)


def test_boxes_are_clipped_to_the_patch_and_stay_ordered():
    tight = torch.tensor([[0, 0, 10, 10], [90, 40, 100, 60], [0, 0, 100, 100], [99, 99, 100, 100]],
                         dtype=torch.float32).repeat(200, 1)
    bounds = (0.0, 0.0, 100.0, 100.0)
    for noise in (LOOSE_ONLY, BoxNoise(jitter=2.0, max_jitter_px=20.0)):
        boxes = noisy_boxes(tight, np.random.default_rng(4), noise, bounds)
        assert boxes.min().item() >= 0.0 and boxes.max().item() <= 100.0
        assert ((boxes[:, 2] - boxes[:, 0]) >= 1.0).all() and ((boxes[:, 3] - boxes[:, 1]) >= 1.0).all()
    loose = noisy_boxes(tight[:4], np.random.default_rng(5), LOOSE_ONLY, bounds)
    torch.testing.assert_close(loose[2], torch.tensor([0.0, 0.0, 100.0, 100.0]))  # the whole patch already


def test_noise_is_deterministic_for_a_seed():
    tight = _boxes(50, 60.0)
    first = noisy_boxes(tight, np.random.default_rng(7), SAM_BOX_NOISE)
    torch.testing.assert_close(first, noisy_boxes(tight, np.random.default_rng(7), SAM_BOX_NOISE))
    assert not torch.equal(first, noisy_boxes(tight, np.random.default_rng(8), SAM_BOX_NOISE))


def test_sam_preset_maps_to_sam_noise():
    config = make_config("cpu", **SAM_PROMPT_NOISE)
    assert box_noise(config) == SAM_BOX_NOISE
    assert (config.n_sub_iterations, config.mask_only_iterations) == (9, 2)
    assert box_noise(make_config("cpu")) == BoxNoise()  # finetune jobs keep today's noise


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_refinement_rounds_add_no_prompt_but_feed_the_mask(seed):
    torch.set_num_threads(1)
    sam = build_sam(PRESETS["vit_tiny"], seed=0)
    labels = np.zeros((64, 64), dtype=np.int32)
    labels[8:30, 8:28], labels[36:60, 30:58] = 1, 2
    patch = Patch(np.zeros((64, 64, 3), np.uint8), labels, (0, 0))
    calls = []
    sam.prompt_encoder.register_forward_pre_hook(
        lambda _m, args, kwargs: calls.append(None if kwargs["points"] is None else kwargs["points"][0].shape[1]),
        with_kwargs=True)
    masks_fed = []
    original = sam.prompt_encoder._embed_masks
    sam.prompt_encoder._embed_masks = lambda m: masks_fed.append(len(calls)) or original(m)
    config = make_config("cpu", n_sub_iterations=3, mask_only_iterations=2, n_objects_per_batch=2,
                         mask_prompt_prob=1e-9)  # corrections never feed the mask; refinements always do
    with torch.no_grad():
        dice, iou = prompt_loss(sam, torch.randn(1, 256, 4, 4), patch, np.random.default_rng(seed), config)
    assert torch.isfinite(dice) and torch.isfinite(iou)
    first = calls[0] or 0  # a box (no point) or one uniform point
    assert calls == [calls[0], first + 2, first + 4, first + 4, first + 4]  # 3 prompting + 2 mask-only rounds
    assert masks_fed == [4, 5]  # only the refinement rounds decode with the previous logits


def test_first_prompts_points_are_uniform_inside_and_boxes_inside_the_patch():
    from sambridge_server.engine.training.objective import _first_prompts

    masks = torch.zeros(400, 40, 60, dtype=torch.bool)
    masks[:, 10:30, 0:20] = True  # an object touching the patch's left border
    offset = (32, 48)
    (points, labels), box = _first_prompts(masks, offset, np.random.default_rng(9), False, SAM_BOX_NOISE)
    assert box is None and points.shape == (400, 1, 2) and (labels == 1).all()
    x, y = points[:, 0, 0] - offset[1], points[:, 0, 1] - offset[0]
    assert (x >= 0).all() and (x < 20).all() and (y >= 10).all() and (y < 30).all()
    assert x.mean().item() == pytest.approx(10.0, abs=0.8) and y.mean().item() == pytest.approx(20.0, abs=0.8)
    assert len({(int(a), int(b)) for a, b in zip(x, y)}) > 250  # spread over the object's 400 pixels
    _, boxes = _first_prompts(masks, offset, np.random.default_rng(9), True, SAM_BOX_NOISE)
    assert boxes[:, 0].min().item() >= offset[1] and boxes[:, 2].max().item() <= offset[1] + 60
    assert boxes[:, 1].min().item() >= offset[0] and boxes[:, 3].max().item() <= offset[0] + 40
    assert (boxes[:, 0] == offset[1]).float().mean().item() > 0.5  # pushed past the border, clipped to it
