"""The rewritten point-grid decoder against SAM's own MaskDecoder on the same weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sambridge_server.engine.automatic.amg import amg_candidates
from sambridge_server.engine.automatic.grid_decoder import decode_points, prepare_grid_image, supports_grid_decoding


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Random values in every parameter (LayerNorms included), so no term of the rewrite is trivially zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)


def _prompts(sam, count: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    coords = torch.rand(count, 1, 2, generator=generator) * 1024
    labels = torch.ones(count, 1, dtype=torch.int)
    return sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)


def _compare(sam, decoder, count: int = 5, seed: int = 0) -> None:
    embeddings = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        sparse, dense = _prompts(sam, count, seed)
        image_pe = sam.prompt_encoder.get_dense_pe()
        expected_logits, expected_iou = decoder(
            image_embeddings=embeddings, image_pe=image_pe, sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, multimask_output=True)
        image = prepare_grid_image(decoder, embeddings, image_pe, dense[:1])
        logits, iou, upscaled = decode_points(decoder, image, sparse)
        assert upscaled.tolist() == list(range(count))
        torch.testing.assert_close(iou, expected_iou, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(logits, expected_logits, rtol=1e-4, atol=1e-4)

        # the pre-filter: only prompts with a mask above the threshold are upscaled, unchanged
        best = expected_iou.max(dim=1).values.sort().values
        threshold = float(best[count // 2 - 1] + best[count // 2]) / 2  # between two prompts, no ties
        logits, iou, upscaled = decode_points(decoder, image, sparse, min_pred_iou=threshold)
        wanted = torch.nonzero((expected_iou > threshold).any(dim=1)).flatten()
        assert 0 < len(upscaled) < count and upscaled.tolist() == wanted.tolist()
        torch.testing.assert_close(iou, expected_iou, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(logits, expected_logits[wanted], rtol=1e-4, atol=1e-4)


def test_equals_segment_anything_mask_decoder(tiny_sam):
    assert supports_grid_decoding(tiny_sam.mask_decoder)
    _compare(tiny_sam, tiny_sam.mask_decoder)


def test_equals_decoder_with_random_norms_and_biases():
    from sambridge_server.engine.models import PRESETS, build_sam

    sam = build_sam(PRESETS["vit_tiny"], seed=3)
    _randomize(sam.mask_decoder, seed=4)
    _compare(sam, sam.mask_decoder, count=6, seed=5)


def test_equals_mobile_sam_mask_decoder(tiny_sam):
    pytest.importorskip("mobile_sam")
    from mobile_sam.modeling import MaskDecoder, TwoWayTransformer

    torch.manual_seed(7)
    decoder = MaskDecoder(num_multimask_outputs=3, transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
                          transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8)).eval()
    _randomize(decoder, seed=8)
    assert supports_grid_decoding(decoder)
    _compare(tiny_sam, decoder)


def test_other_decoders_are_not_taken():
    assert not supports_grid_decoding(torch.nn.Linear(2, 2))
    assert not supports_grid_decoding(torch.nn.Module())


def test_prefiltered_candidates_equal_unfiltered_ones(tiny_sam, hela_crop):
    """AMG candidates with the IoU pre-filter (masks of failing prompts never upscaled) are exactly
    the unfiltered candidates above the threshold."""
    from micro_sam.util import precompute_image_embeddings
    from segment_anything import SamPredictor

    predictor = SamPredictor(tiny_sam)
    predictor.model_type, predictor.model_name, predictor._hash = "vit_b", "grid_test", "xxh128:grid"
    embeddings = precompute_image_embeddings(predictor, hela_crop, verbose=False)
    args = (tiny_sam, np.asarray(embeddings["features"]), embeddings["input_size"], embeddings["original_size"])
    everything = amg_candidates(*args, points_per_side=5, min_pred_iou=-math.inf)
    ordered = everything.iou_preds.sort().values
    middle = len(ordered) // 2
    threshold = float(ordered[middle - 1] + ordered[middle]) / 2
    filtered = amg_candidates(*args, points_per_side=5, min_pred_iou=threshold)
    keep = everything.iou_preds > threshold
    assert 0 < len(filtered.iou_preds) == int(keep.sum()) < len(everything.iou_preds)
    torch.testing.assert_close(filtered.iou_preds, everything.iou_preds[keep])
    torch.testing.assert_close(filtered.low_res_logits, everything.low_res_logits[keep], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(filtered.points, everything.points[keep.numpy()])
