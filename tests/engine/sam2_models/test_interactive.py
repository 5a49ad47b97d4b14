"""SAM2 object handles in the engine: SAM2's mask-prompt frame, bool mask prompts, and a click that
moves the object to another tile (the previous mask, cut to the new tile, becomes the mask prompt)."""

from __future__ import annotations

import numpy as np

from sambridge_server.engine.prompts.interactive import object_prompt
from sambridge_server.engine.sam2_models import Sam2Features, Sam2Prompt, decode_prompts
from sambridge_server.engine.sam2_models.interactive import logits_from_mask, segment_object
from sambridge_server.engine.tiling import make_grid


def test_mask_logits_are_in_sam2s_stretched_frame(ours, features, hela_frames, hela_nuclei):
    """A decoded mask turned back into logits agrees with the decoder's own low-res logits: the
    256 x 320 image is stretched to 256 x 256, not padded as in SAM1's frame. Random weights paint
    speckled masks, so the round trip loses fine detail (measured 0.94 here, SAM1's frame 0.65)."""
    from sambridge_server.engine.prompts.decoding import logits_from_mask as sam1_logits_from_mask

    whole = features("hela0", hela_frames[0])
    _, box, _ = hela_nuclei[0]
    decoded = decode_prompts(ours, whole, [Sam2Prompt(box=box)])
    mask, low_res = decoded.masks[0, 0], decoded.low_res_logits[0, 0]
    assert 0 < mask.sum() < mask.size
    agreement = ((logits_from_mask(mask) > 0) == (low_res > 0)).mean()
    padded = ((sam1_logits_from_mask(mask) > 0) == (low_res > 0)).mean()
    assert agreement > 0.9 and agreement > padded + 0.15, (agreement, padded)
    # A bool mask of the image's shape is a mask prompt; so are (256, 256) logits.
    result, state = segment_object(ours, whole, object_prompt(None, None, None, mask.shape), mask=mask)
    want = decode_prompts(ours, whole, [Sam2Prompt(mask_logits=logits_from_mask(mask))])
    np.testing.assert_array_equal(result.masks, want.masks[0])
    np.testing.assert_array_equal(state.logits, want.low_res_logits[0, 0])


def test_a_click_into_another_tile_carries_the_previous_mask_over(ours, features, hela_frames):
    whole = features("hela0", hela_frames[0])
    grid = make_grid(whole.image_shape, (256, 160), (0, 32))  # outer x: [0, 192) and [128, 320)
    n = len(grid.tiles)
    tiled = Sam2Features(image_embed=np.repeat(whole.image_embed, n, 0), high_res_0=np.repeat(whole.high_res_0, n, 0),
                         high_res_1=np.repeat(whole.high_res_1, n, 0),
                         original_sizes=tuple(tile.shape for tile in grid.tiles), grid=grid)
    box = np.array([130.0, 60.0, 180.0, 120.0])
    first, state = segment_object(ours, tiled, object_prompt(None, None, box, whole.image_shape))
    assert first.tile_index == 0 and first.window == grid.tiles[0].outer
    np.testing.assert_array_equal(first.masks, decode_prompts(ours, tiled, [Sam2Prompt(box=box)]).masks[0])
    click = np.array([[185.0, 90.0]])
    second, _ = segment_object(ours, tiled, object_prompt(click, [1], None, whole.image_shape), previous=state)
    tile = grid.tiles[1]
    assert second.tile_index == 1 and second.window == tile.outer
    carried = state.mask(whole.image_shape)[tile.outer_slices()]
    assert carried.any()
    want = decode_prompts(ours, tiled, [Sam2Prompt(points=click, labels=np.array([1]), box=box,
                                                   mask_logits=logits_from_mask(carried))])
    assert int(want.tiles[0]) == 1
    np.testing.assert_array_equal(second.masks, want.masks[0])
