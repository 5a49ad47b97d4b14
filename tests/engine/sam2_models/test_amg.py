"""SAM2 AMG on cached features agrees with SAM2AutomaticMaskGenerator (mSA >= 0.95)."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.errors import Cancelled
from sambridge_server.engine.metrics import mean_segmentation_accuracy
from sambridge_server.engine.preprocess import to_uint8_rgb
from sambridge_server.engine.sam2_models import Sam2AMGParams, paint_labels, sam2_amg

# Random weights predict low IoU and stability and their masks span the image (so box NMS would keep
# one): keep every candidate. 4 x 4 points keep the test fast.
PARAMS = Sam2AMGParams(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)


def test_amg_labels_agree_with_sam2s_generator(ours, features, hela_frames, reference_model, reference_predictor):
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    image = hela_frames[0]
    calls = []
    mine = sam2_amg(ours, image, features("hela0", image), PARAMS, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 1)]  # 16 points, one batch

    generator = SAM2AutomaticMaskGenerator(reference_model, **PARAMS.generator_kwargs())
    rgb = to_uint8_rgb(image)
    # The session's predictor already holds this image's embedding (computed by sam2): reuse it.
    reference_predictor.set_image = lambda _image: None
    reference_predictor.reset_predictor = lambda: None
    generator.predictor = reference_predictor
    records = generator.generate(rgb)
    theirs = paint_labels([record["segmentation"] for record in records], image.shape)

    assert mine.dtype == np.uint32 and 3 <= mine.max() == theirs.max()
    assert mean_segmentation_accuracy(mine, theirs) >= 0.95


def test_amg_honours_cancellation(ours, features, hela_frames):
    with pytest.raises(Cancelled):
        sam2_amg(ours, hela_frames[0], features("hela0", hela_frames[0]), PARAMS, cancelled=lambda: True)


def test_paint_labels_smaller_masks_win():
    big = np.zeros((8, 8), bool)
    big[:, :6] = True
    small = np.zeros((8, 8), bool)
    small[2:4, 2:4] = True
    labels = paint_labels([small, big], (8, 8))
    assert labels[3, 3] == 2 and labels[0, 0] == 1 and labels[0, 7] == 0
