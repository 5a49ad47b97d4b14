"""The shared-image mask decoder equals segment_anything's MaskDecoder, and windowed mask
upsampling equals ``Sam.postprocess_masks(...) > 0`` bit for bit."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from segment_anything.utils.transforms import ResizeLongestSide

from sambridge_server.engine.prompts import shared_decoder
from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.prompts.projection import decode_prompts, project
from sambridge_server.engine.prompts.upsampling import masks_from_low_res


@pytest.fixture(scope="module")
def embedded(tiny_sam, hela_crop, hela_seg):
    """(embeddings of the HeLa crop, nucleus masks in it)."""
    labels = hela_seg[0][180:436, 300:620]
    ids = [i for i in np.unique(labels) if i and (labels == i).sum() >= 30][:5]
    return compute_embeddings(tiny_sam, hela_crop), [labels == i for i in ids]


def _prompt_tensors(sam, embeddings, prompts):
    """(points, boxes, mask logits) tensors of same-structured SlicePrompts."""
    transform, size = ResizeLongestSide(1024), embeddings.image_shape
    points = boxes = masks = None
    if prompts[0].points is not None:
        coords = np.stack([transform.apply_coords(p.points, size) for p in prompts])
        points = (torch.as_tensor(coords, dtype=torch.float),
                  torch.as_tensor(np.stack([p.point_labels for p in prompts]), dtype=torch.int))
    if prompts[0].box is not None:
        boxes = torch.as_tensor(np.stack([transform.apply_boxes(p.box[None], size)[0] for p in prompts]),
                                dtype=torch.float)
    if prompts[0].mask_logits is not None:
        masks = torch.as_tensor(np.stack([p.mask_logits for p in prompts])[:, None])
    return points, boxes, masks


def _many_points(embeddings, nuclei):
    """Two prompts of 20 points each (more than 16 tokens: the decoder's unfolded branch)."""
    rng = np.random.default_rng(0)
    height, width = embeddings.image_shape
    prompts = [project(mask, embeddings, "points_and_mask", 0.05) for mask in nuclei[:2]]
    for prompt in prompts:
        prompt.points = rng.uniform(0, 1, (20, 2)) * [width - 1, height - 1]
        prompt.point_labels = (np.arange(20) % 3 > 0).astype(np.int64)
    return prompts


@pytest.mark.parametrize("mode", ["single_point", "box", "mask", "points_and_mask", "many_points"])
def test_equals_stock_decoder(tiny_sam, embedded, mode):
    embeddings, nuclei = embedded
    assert shared_decoder.supports(tiny_sam)
    if mode == "many_points":
        prompts = _many_points(embeddings, nuclei)
    else:
        prompts = [project(mask, embeddings, mode, 0.05) for mask in nuclei[:3]]
    if mode == "points_and_mask":  # batches need one point count: keep the first object
        prompts = prompts[:1]
    points, boxes, masks = _prompt_tensors(tiny_sam, embeddings, prompts)
    features = torch.from_numpy(embeddings.tile_features(0))
    with torch.inference_mode():
        shared = shared_decoder.SharedImage(tiny_sam, features)
        sparse, dense = tiny_sam.prompt_encoder(points=points, boxes=boxes, masks=masks)
        for multimask in (False, True):
            expected, expected_iou = tiny_sam.mask_decoder(
                image_embeddings=features, image_pe=tiny_sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask)
            sparse_only = shared_decoder.sparse_embeddings(tiny_sam, points, boxes, len(prompts))
            logits, iou = shared_decoder.predict_masks(tiny_sam, shared, sparse_only, masks, multimask)
            assert logits.shape == expected.shape and iou.shape == expected_iou.shape
            scale = float(expected.abs().max())
            torch.testing.assert_close(logits, expected, atol=1e-5 * scale, rtol=0)
            torch.testing.assert_close(iou, expected_iou, atol=1e-5, rtol=0)
            # Only pixels within rounding distance of 0 may flip.
            flipped = (logits > 0) != (expected > 0)
            assert not flipped.any() or float(expected[flipped].abs().max()) < 1e-4 * scale


def test_passing_masks_are_the_stock_masks_of_passing_prompts(tiny_sam, embedded):
    """AMG's pre-filter: only prompts with a mask above the IoU threshold are upscaled, and
    their masks and every prompt's IoU equal the stock decoder's."""
    embeddings, _ = embedded
    features = torch.from_numpy(embeddings.tile_features(0))
    generator = torch.Generator().manual_seed(3)
    points = (torch.rand(12, 1, 2, generator=generator) * 1024, torch.ones(12, 1, dtype=torch.int))
    with torch.inference_mode():
        sparse, dense = tiny_sam.prompt_encoder(points=points, boxes=None, masks=None)
        expected, expected_iou = tiny_sam.mask_decoder(
            image_embeddings=features, image_pe=tiny_sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=True)
        best = expected_iou.max(dim=1).values.sort().values
        threshold = float(best[5] + best[6]) / 2  # between two prompts: no ties
        shared = shared_decoder.SharedImage(tiny_sam, features)
        logits, iou, rows = shared_decoder.predict_passing_masks(tiny_sam, shared, sparse, threshold)
        wanted = torch.nonzero((expected_iou > threshold).any(dim=1)).flatten()
        assert rows.tolist() == wanted.tolist() and len(rows) == 6
        torch.testing.assert_close(iou, expected_iou, atol=1e-5, rtol=0)
        scale = float(expected.abs().max())
        torch.testing.assert_close(logits, expected[wanted], atol=1e-5 * scale, rtol=0)
        none, _, no_rows = shared_decoder.predict_passing_masks(tiny_sam, shared, sparse, float(best[-1]) + 1)
        assert none.shape == (0, 3, 256, 256) and len(no_rows) == 0


def test_unsupported_decoder_falls_back_to_stock(tiny_sam, embedded):
    embeddings, nuclei = embedded
    modified = copy.deepcopy(tiny_sam)
    modified.mask_decoder.output_upscaling[2] = torch.nn.ReLU()
    assert not shared_decoder.supports(modified)
    prompts = [project(mask, embeddings, "box", 0.05) for mask in nuclei[:2]]
    masks, scores = decode_prompts(modified, embeddings, prompts)  # stock decoder path
    assert masks.shape == (2,) + embeddings.image_shape and np.isfinite(scores).all()


def _stock_masks(low_res: torch.Tensor, input_size, original_size) -> torch.Tensor:
    up = F.interpolate(low_res, (1024, 1024), mode="bilinear", align_corners=False)
    up = up[..., : input_size[0], : input_size[1]]
    return F.interpolate(up, original_size, mode="bilinear", align_corners=False) > 0


@pytest.mark.parametrize("shape", [(256, 320), (443, 512), (128, 128), (300, 400), (1024, 1024), (2048, 1500),
                                   (100, 37), (5, 443), (777, 1023)])
def test_windowed_masks_equal_postprocess(shape):
    """Blobs of smooth logits anywhere in the frame (also at its edges), pure noise, all negative
    and positive only in the padding."""
    generator = torch.Generator().manual_seed(sum(shape))
    input_size = ResizeLongestSide(1024).get_preprocess_shape(shape[0], shape[1], 1024)
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    maps = []
    for _ in range(6):
        cy = float(torch.randint(0, max(1, input_size[0] // 4), (1,), generator=generator))
        cx = float(torch.randint(0, max(1, input_size[1] // 4), (1,), generator=generator))
        radius = float(torch.rand(1, generator=generator)) * 30 + 0.5
        noise = torch.randn(256, 256, generator=generator) * 0.3
        maps.append(radius - ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt() + noise)
    padding = torch.full((256, 256), -1.0)  # positive only in the padding right of / below the image
    padding[min(255, input_size[0] // 4 + 3):, :] = 1.0
    padding2 = torch.full((256, 256), -1.0)
    padding2[:, min(255, input_size[1] // 4 + 3):] = 1.0
    maps += [torch.randn(256, 256, generator=generator), torch.full((256, 256), -1.0), padding, padding2]
    low_res = torch.stack(maps)[:, None]
    got = masks_from_low_res(low_res, input_size, shape)
    assert torch.equal(got, _stock_masks(low_res, input_size, shape))
