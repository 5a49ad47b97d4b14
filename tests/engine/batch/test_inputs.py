"""Input discovery: TIFF, OME-TIFF pyramid levels, OME-Zarr levels, folders, globs, confinement."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile
import zarr

from sambridge_server.engine.batch import discover_inputs, read_region
from sambridge_server.engine.errors import InvalidInput, NotFound


@pytest.fixture()
def data(tmp_path, hela_movie):
    root = tmp_path / "data"
    (root / "plates").mkdir(parents=True)
    frames = hela_movie[:3, :300, :400]
    for i, frame in enumerate(frames):
        tifffile.imwrite(root / "plates" / f"well_{i}.tif", frame)
    with tifffile.TiffWriter(root / "slide.ome.tif", ome=True) as tif:
        tif.write(frames, metadata={"axes": "TYX"}, tile=(128, 128), subifds=1)
        tif.write(frames[:, ::2, ::2], tile=(128, 128), subfiletype=1)
    from ome_zarr.writer import write_image

    group = zarr.open_group(str(root / "stack.ome.zarr"), mode="w")
    write_image(frames, group, axes="zyx", scale_factors=(2,), storage_options={"chunks": (1, 128, 128)})
    return root, frames


def test_folder_glob_and_file_inputs(data):
    root, frames = data
    folder = discover_inputs(["plates"], [root])
    assert [i.name for i in folder] == ["well_0", "well_1", "well_2"]
    assert folder[1].shape == (1, 300, 400) and folder[1].axes == "yx"
    assert np.array_equal(read_region(folder[1], 0, (10, 20, 60, 90)), frames[1, 10:60, 20:90])
    globbed = discover_inputs(["plates/well_[12].tif", "plates/well_1.tif"], [root])
    assert [i.name for i in globbed] == ["well_1", "well_2"]  # each file once


def test_pyramid_levels_of_ome_tiff_and_ome_zarr(data):
    root, frames = data
    slide = discover_inputs(["slide.ome.tif"], [root], level=1)[0]
    assert slide.axes == "tyx" and slide.shape == (3, 150, 200)
    assert np.array_equal(read_region(slide, 2, (0, 0, 150, 200)), frames[2, ::2, ::2])
    stack = discover_inputs(["stack.ome.zarr"], [root])[0]
    assert stack.kind == "zarr" and stack.axes == "zyx" and stack.shape == (3, 300, 400)
    assert np.array_equal(read_region(stack, 1, (5, 5, 50, 50)), frames[1, 5:50, 5:50])
    assert discover_inputs(["stack.ome.zarr"], [root], level=1)[0].shape == (3, 150, 200)
    with pytest.raises(InvalidInput, match="level 5"):
        discover_inputs(["stack.ome.zarr"], [root], level=5)


def test_paths_outside_the_data_root_are_refused(data, tmp_path):
    root, frames = data
    tifffile.imwrite(tmp_path / "secret.tif", frames[0])
    os.symlink(tmp_path / "secret.tif", root / "plates" / "link.tif")
    with pytest.raises(InvalidInput, match="outside"):
        discover_inputs(["../secret.tif"], [root])
    with pytest.raises(InvalidInput, match="outside"):
        discover_inputs(["plates"], [root])  # the folder holds a symlink leading out
    with pytest.raises(NotFound):
        discover_inputs(["nothing.tif"], [root])
    with pytest.raises(InvalidInput, match="names no"):
        discover_inputs(["*.png"], [root])


def test_multichannel_images_are_refused(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((3, 64, 64, 2), np.uint8), metadata={"axes": "ZYXC"})
    with pytest.raises(InvalidInput, match="channels"):
        discover_inputs(["rgb.tif"], [tmp_path])
