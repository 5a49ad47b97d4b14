"""`sambridge propagate` and `sambridge auto3d` write the label volumes the client returns."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from sambridge import Client
from sambridge.cli import main


@pytest.fixture(scope="module")
def address(live):
    """Address of the shared live server (default model: a random-weight vit_tiny)."""
    return live[1]


def test_propagate_cli_matches_client(address, hela_movie, tmp_path):
    volume = np.ascontiguousarray(hela_movie[:3, :96, :96])
    labels_2d = np.zeros((96, 96), np.uint32)
    labels_2d[30:60, 30:60] = 1
    tifffile.imwrite(tmp_path / "vol.tif", volume, photometric="minisblack")
    tifffile.imwrite(tmp_path / "lab.tif", labels_2d)
    code = main(["--address", address, "propagate", str(tmp_path / "vol.tif"), "--labels", str(tmp_path / "lab.tif"),
                 "--z", "1", "--iou-threshold", "0", "-o", str(tmp_path / "out.tif")])
    assert code == 0
    with Client(address) as client:
        expected = client.propagate_objects(volume, labels_2d, 1, iou_threshold=0.0)
    written = tifffile.imread(tmp_path / "out.tif")
    assert written.shape == volume.shape and np.array_equal(written, expected)
    assert np.array_equal(written[1] > 0, labels_2d > 0)  # the annotated slice keeps its mask
