"""preprocess.to_uint8_rgb must equal micro_sam's _to_image bit for bit, and reject bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from micro_sam.util import _to_image

from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.preprocess import to_uint8_rgb

RNG = np.random.default_rng(0)


def _cases(hela_crop: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "hela_uint16_2d": hela_crop,
        "uint8_2d": RNG.integers(0, 255, (37, 53), dtype=np.uint8),
        "int16_negative": RNG.integers(-500, 500, (20, 30), dtype=np.int16),
        "float32_yx1": RNG.normal(size=(25, 17, 1)).astype(np.float32),
        "float64_2ch": RNG.normal(size=(25, 17, 2)) * 1000,
        "uint16_rgb": RNG.integers(0, 65535, (21, 22, 3), dtype=np.uint16),
        "uint8_5ch": RNG.integers(0, 255, (19, 23, 5), dtype=np.uint8),
        "constant": np.full((10, 12), 7, dtype=np.uint16),
        "hela_two_channels": np.stack([hela_crop, hela_crop[::-1]], axis=-1),
    }


@pytest.mark.parametrize(
    "case",
    ["hela_uint16_2d", "uint8_2d", "int16_negative", "float32_yx1", "float64_2ch", "uint16_rgb",
     "uint8_5ch", "constant", "hela_two_channels"],
)
def test_matches_micro_sam_to_image(hela_crop, case):
    image = _cases(hela_crop)[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # micro_sam warns about >3 channels
        expected = _to_image(image)
    ours = to_uint8_rgb(image)
    assert ours.dtype == np.uint8 and ours.shape == image.shape[:2] + (3,)
    np.testing.assert_array_equal(ours, expected)


def test_two_channel_images_get_a_zero_third_channel(hela_crop):
    ours = to_uint8_rgb(np.stack([hela_crop, hela_crop], axis=-1))
    assert ours[..., 2].max() == 0 and ours[..., 0].max() == 255


@pytest.mark.parametrize(
    "image, message",
    [
        (np.array([[np.nan, 1.0]]), "NaN"),
        (np.array([[np.inf, 1.0]], dtype=np.float32), "NaN or infinite"),
        (np.zeros((0, 5), dtype=np.uint8), "empty"),
        (np.zeros(5, dtype=np.uint8), "2D"),
        (np.zeros((2, 3, 4, 3), dtype=np.uint8), "2D"),
        (np.zeros((4, 4), dtype=bool), "bool"),
        (np.zeros((4, 4), dtype=np.complex64), "complex"),
        (np.array([[object(), object()]]), "object"),
        (np.zeros((5, 64, 64), dtype=np.uint8), "volume"),
    ],
)
def test_rejects_bad_images(image, message):
    with pytest.raises(InvalidInput, match=message):
        to_uint8_rgb(image)
