"""SAM2 features: ours equal SAM2ImagePredictor's, and the container round-trips for the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge_server.engine.errors import Cancelled, InvalidInput
from sambridge_server.engine.sam2_models import Sam2Features, compute_sam2_features
from sambridge_server.engine.sam2_models.features import decoder_inputs


def test_features_equal_the_image_predictors(ours, features, hela_frames, reference_predictor):
    mine = features("hela0", hela_frames[0])
    assert mine.n_tiles == 1 and mine.image_shape == hela_frames[0].shape
    assert mine.image_embed.shape == (1, 256, 64, 64)
    assert mine.high_res_0.shape == (1, 32, 256, 256) and mine.high_res_1.shape == (1, 64, 128, 128)
    embed, high_res = decoder_inputs(ours.model, mine)
    reference = reference_predictor._features
    torch.testing.assert_close(embed, reference["image_embed"], rtol=1e-4, atol=1e-4)
    for level, theirs in zip(high_res, reference["high_res_feats"]):
        torch.testing.assert_close(level, theirs, rtol=1e-4, atol=1e-4)


def test_container_round_trip(features, hela_frames):
    mine = features("hela0", hela_frames[0])
    again = Sam2Features.from_arrays(mine.arrays(), mine.original_sizes, mine.grid, mine.precision)
    assert all(np.array_equal(a, b) for a, b in zip(mine.arrays().values(), again.arrays().values()))
    assert mine.nbytes == sum(a.nbytes for a in mine.arrays().values())
    with pytest.raises(ValueError, match="high_res_0"):
        Sam2Features.from_arrays({"image_embed": mine.image_embed}, mine.original_sizes, mine.grid)


def test_progress_cancellation_and_bad_options(ours, hela_frames):
    with pytest.raises(Cancelled):
        compute_sam2_features(ours, hela_frames[0], cancelled=lambda: True)
    with pytest.raises(InvalidInput, match="precision"):
        compute_sam2_features(ours, hela_frames[0], precision="fp8")
    with pytest.raises(InvalidInput, match="halo given without tile_shape"):
        compute_sam2_features(ours, hela_frames[0], halo=(8, 8))
