"""Random-weight SAM2 models whose masks are not degenerate, for tests and benches.

Pretrained SAM2 weights cannot be downloaded here, and a randomly initialised SAM2 paints almost
the whole image for every prompt (its mask logits sit slightly above 0) and may call every
object absent. ``make_nontrivial`` edits a few decoder weights so that comparisons mean
something: one channel of the upscaled embedding becomes a constant that each mask token's
hypernetwork turns into a logit offset, chosen on a calibration image so that the median logit
of every token is 0 (masks then follow the image and the prompt instead of covering
everything), and the object-score head says "present". Both sides of a parity test load the
edited weights from the same checkpoint, so nothing here favours either side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .features import compute_sam2_features, decoder_inputs

_CONSTANT = 3.0  # pre-activation value of the constant channel


@torch.no_grad()
def _token_medians(model: Any, image: np.ndarray) -> np.ndarray:
    """Median low-resolution logit of each mask token for a box around the image centre."""
    features = compute_sam2_features(model, image)
    embed, high_res = decoder_inputs(model, features)
    height, width = image.shape[:2]
    box = torch.tensor([[[width / 4, height / 4], [3 * width / 4, 3 * height / 4]]]) / torch.tensor([width, height])
    points = (box * model.image_size, torch.tensor([[2, 3]], dtype=torch.int))
    sparse, dense = model.sam_prompt_encoder(points=points, boxes=None, masks=None)
    masks = model.sam_mask_decoder.predict_masks(
        image_embeddings=embed, image_pe=model.sam_prompt_encoder.get_dense_pe(), sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense, repeat_image=False, high_res_features=high_res)[0]
    return masks[0].flatten(1).median(dim=1).values.numpy()


@torch.no_grad()
def make_nontrivial(model: Any, image: np.ndarray, object_score: float = 10.0) -> Any:
    """Edit ``model`` (a SAM2Base) in place as the module doc says, calibrated on ``image``; returns it."""
    decoder = model.sam_mask_decoder
    dc2 = decoder.output_upscaling[3]
    dc2.weight[:, 0] = 0.0
    dc2.bias[0] = 0.0
    decoder.conv_s0.weight[0] = 0.0
    decoder.conv_s0.bias[0] = _CONSTANT
    for mlp in decoder.output_hypernetworks_mlps:
        mlp.layers[-1].weight[0] = 0.0
        mlp.layers[-1].bias[0] = 0.0
    medians = _token_medians(model, image)
    constant = torch.nn.functional.gelu(torch.tensor(_CONSTANT)).item()
    for mlp, median in zip(decoder.output_hypernetworks_mlps, medians):
        mlp.layers[-1].bias[0] = -float(median) / constant
    head = decoder.pred_obj_score_head
    last = head.layers[-1] if hasattr(head, "layers") else head
    last.bias.fill_(object_score)
    return model
