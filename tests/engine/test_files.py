"""Files a client names: opened once, regular files inside their folder only, never blocking."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import tifffile

from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.files import open_confined
from sambridge_server.engine.training.data import load_data_dir


def _data_dir(root, n=1):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        tifffile.imwrite(root / "images" / f"a{i}.tif", np.full((8, 8), i, np.uint16))
        tifffile.imwrite(root / "labels" / f"a{i}.tif", np.ones((8, 8), np.uint16))
    return root


def test_regular_files_and_inner_symlinks_open(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"abc")
    (tmp_path / "link.bin").symlink_to(tmp_path / "f.bin")
    with open_confined(tmp_path / "link.bin", tmp_path) as handle:
        assert handle.read() == b"abc"


def test_fifo_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    start = time.monotonic()
    with pytest.raises(InvalidInput, match="not a regular file"):
        open_confined(tmp_path / "pipe", tmp_path)
    assert time.monotonic() - start < 1


def test_symlink_leaving_the_folder_is_refused(tmp_path):
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir(), outside.mkdir()
    (outside / "secret.tif").write_bytes(b"x")
    (inside / "x.tif").symlink_to(outside / "secret.tif")
    with pytest.raises(InvalidInput, match="outside its folder"):
        open_confined(inside / "x.tif", inside)


def test_training_folder_with_escaping_symlinks_special_files_or_junk_is_refused(tmp_path):
    data = _data_dir(tmp_path / "data", n=2)
    assert [name for name, _, _ in load_data_dir(data)] == ["a0", "a1"]
    elsewhere = _data_dir(tmp_path / "elsewhere")
    (data / "images" / "a1.tif").unlink()
    (data / "images" / "a1.tif").symlink_to(elsewhere / "images" / "a0.tif")
    with pytest.raises(InvalidInput, match="outside its folder"):
        list(load_data_dir(data))
    moved = _data_dir(tmp_path / "moved")
    os.rename(moved / "labels", tmp_path / "other_labels")
    (moved / "labels").symlink_to(tmp_path / "other_labels")  # the folder itself is a symlink out
    with pytest.raises(InvalidInput, match="outside its folder"):
        list(load_data_dir(moved))
    fifo = _data_dir(tmp_path / "fifo")
    os.mkfifo(fifo / "images" / "b.tif"), os.mkfifo(fifo / "labels" / "b.tif")
    with pytest.raises(InvalidInput, match="not a regular file"):
        list(load_data_dir(fifo))
    junk = _data_dir(tmp_path / "junk")
    (junk / "images" / "c.tif").write_bytes(b"not a tiff"), (junk / "labels" / "c.tif").write_bytes(b"no")
    with pytest.raises(InvalidInput, match="cannot read 'c.tif'"):
        list(load_data_dir(junk))


def test_checkpoint_is_hashed_and_loaded_from_one_open_file_inside_its_root(tmp_path):
    from sambridge_server.engine.models import PRESETS, build_sam, file_hash, load_checkpoint, save_checkpoint

    root, outside = tmp_path / "models", tmp_path / "elsewhere"
    root.mkdir(), outside.mkdir()
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=3), root / "m.pth", fmt="meta")
    model = load_checkpoint(root / "m.pth", root=root)
    assert model.model_hash == file_hash(root / "m.pth")
    (outside / "m.pth").write_bytes((root / "m.pth").read_bytes())
    (root / "swapped.pth").symlink_to(outside / "m.pth")  # what a swap after the path check leaves
    with pytest.raises(InvalidInput, match="outside its folder"):
        load_checkpoint(root / "swapped.pth", root=root)
