"""Prompts derived from a slice's mask equal micro_sam's, and batched decoding equals single decoding."""

from __future__ import annotations

import numpy as np
import pytest
from micro_sam import prompt_based_segmentation as pbs
from skimage.measure import regionprops

from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.prompts.projection import (
    box_from_mask,
    decode_prompts,
    mode_flags,
    points_from_mask,
    project,
)


@pytest.fixture(scope="module")
def nuclei(hela_seg):
    """Real nucleus masks (varied shapes) from the HeLa challenge segmentation."""
    labels = hela_seg[0][180:436, 300:620]
    return [labels == p.label for p in regionprops(labels) if p.area >= 30][:15]


@pytest.mark.parametrize("extension", [0.0, 0.05, 3])
def test_box_and_points_equal_micro_sam(nuclei, extension):
    for mask in nuclei:
        theirs_box = pbs._compute_box_from_mask(mask.astype(np.uint8), box_extension=extension)
        assert np.array_equal(box_from_mask(mask, extension), theirs_box)
        for single in (True, False):
            coords, labels = pbs._compute_points_from_mask(mask.astype(np.uint8), None, extension, use_single_point=single)
            ours_coords, ours_labels = points_from_mask(mask, extension, single)
            # Same points and labels; the order of equally high peaks may differ (float noise of
            # scipy vs vigra smoothing), which the decoder does not see (tokens are unordered).
            ours = sorted(zip(ours_coords.tolist(), ours_labels.tolist()))
            assert ours == sorted(zip(np.asarray(coords, dtype=np.float64).tolist(), labels.tolist()))
            assert (ours_labels == 1).any()


def test_modes_derive_micro_sams_prompt_kinds(tiny_sam, hela_crop, nuclei):
    embeddings = compute_embeddings(tiny_sam, hela_crop[:, :256])  # square: logits equal micro_sam's
    mask = nuclei[0][:, :256]
    assert mask.any()
    expected_logits = pbs._compute_logits_from_mask(mask.astype(np.uint8))[0]
    for mode, (box, logits, points) in {"box": (1, 0, 0), "mask": (1, 1, 0), "points": (0, 0, 1),
                                        "points_and_mask": (0, 1, 1), "single_point": (0, 0, 1)}.items():
        prompt = project(mask, embeddings, mode, 0.05)
        assert (prompt.box is not None, prompt.mask_logits is not None, prompt.points is not None) == (
            bool(box), bool(logits), bool(points)), mode
        if logits:
            assert np.array_equal(prompt.mask_logits, expected_logits)
    assert len(project(mask, embeddings, "single_point").points) == 1
    with pytest.raises(InvalidInput, match="unknown projection mode"):
        mode_flags("lasso")
    with pytest.raises(InvalidInput, match="slice is"):
        project(mask[:10], embeddings)


def test_batched_decoding_equals_one_by_one(tiny_sam, hela_crop, nuclei):
    embeddings = compute_embeddings(tiny_sam, hela_crop)
    prompts = [project(m, embeddings, "mask", 0.05) for m in nuclei[:4]]
    prompts += [project(m, embeddings, "points", 0.05) for m in nuclei[:2]] + [None]
    masks, scores = decode_prompts(tiny_sam, embeddings, prompts)
    assert masks.shape == (7,) + hela_crop.shape and masks.dtype == bool
    assert not masks[6].any() and scores[6] == 0
    for i, prompt in enumerate(prompts[:6]):
        single_mask, single_score = decode_prompts(tiny_sam, embeddings, [prompt])
        assert np.array_equal(masks[i], single_mask[0])
        np.testing.assert_allclose(scores[i], single_score[0], atol=1e-5)
