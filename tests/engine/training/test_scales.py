"""Scale augmentation: zoomed views scale objects by the zoom, mosaics keep objects distinct."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.training.synthetic import SyntheticStyle, synthetic_image
from sambridge_server.engine.tiling import NativeTiling
from sambridge_server.engine.training.scales import encoder_diameters, mosaic, scale_views, zoomed_view

STYLE = SyntheticStyle(diameter=(18.0, 22.0), coverage=0.2, overlap=0.0)


@pytest.fixture(scope="module")
def frames() -> list:
    rng = np.random.default_rng(0)
    return [synthetic_image((200, 240), STYLE, rng) for _ in range(3)]


def _median_inner_diameter(sample) -> float:
    return float(np.median(encoder_diameters(sample)))


@pytest.mark.parametrize("zoom", [0.5, 1.0, 2.5])
def test_zoomed_views_scale_objects_by_the_zoom(frames, zoom):
    view = zoomed_view(frames, zoom, np.random.default_rng(1))
    assert view.rgb.shape == (1024, 1024, 3) and view.input_size == (1024, 1024)  # no padding
    assert view.labels.max() > 0
    # Objects are ~20 px in the source: ~20 x zoom in the encoder (objects cut by the window are smaller).
    assert _median_inner_diameter(view) == pytest.approx(20 * zoom, rel=0.25)


def test_zoomed_out_views_are_mosaics_of_distinct_objects(frames):
    image, labels = mosaic(frames, (2, 3), np.random.default_rng(2))
    assert labels.shape == image.shape[:2] == (400, 720)
    counts = [len(np.unique(f[1])) - 1 for f in frames]
    assert len(np.unique(labels)) - 1 >= 6 * min(counts)  # ids never collide across cells
    view = zoomed_view(frames, 0.4, np.random.default_rng(3))  # a 2560-px window: many frames
    assert len(np.unique(view.labels)) - 1 > 3 * max(counts)


def test_scale_views_cover_whole_tiles_and_zooms(frames):
    tiling = NativeTiling((96, 96), (16, 16))
    views = scale_views(frames, 4, np.random.default_rng(4), (0.5, 3.0), tiling, n_tiles=2, name="s")
    assert len(views) == 3 + 2 + 4
    names = [v.name for v in views]
    assert sum("zoom" in n for n in names) == 4 and sum("tile" in n for n in names) == 2
    whole = views[0]
    assert whole.input_size == (853, 1024)  # the frame resized like serving does, padding below
    again = scale_views(frames, 4, np.random.default_rng(4), (0.5, 3.0), tiling, n_tiles=2, name="s")
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(views, again))  # seeded
