"""Stitching: objects across chunk seams come out whole and once (the issue's 4096 x 4096 mosaic)."""

from __future__ import annotations

import numpy as np
import tifffile
from scipy import ndimage
from skimage.measure import label

from sambridge_server.engine.batch import BatchSpec, ChunkRegion, execute_batch, merge_plane, plan_batch, read_labels
from sambridge_server.engine.batch.plan import plan_plane
from sambridge_server.engine.batch.stitch import matched_pairs

from .conftest import SEAM, draw_mosaic


def assert_same_objects(result: np.ndarray, reference: np.ndarray) -> None:
    """Equal up to renumbering: the same foreground and a one-to-one map between ids."""
    assert np.array_equal(result > 0, reference > 0)
    fg = reference > 0
    pairs = np.unique(np.stack([result[fg], reference[fg]]).astype(np.int64), axis=1)
    assert pairs.shape[1] == len(np.unique(result[fg])) == len(np.unique(reference[fg]))


def test_mosaic_objects_across_seams_are_whole_and_once(tmp_path, executor):
    image = draw_mosaic()
    assert image.shape == (4096, 4096)
    tifffile.imwrite(tmp_path / "mosaic.tif", image, tile=(256, 256))
    spec = BatchSpec(inputs=("mosaic.tif",), output="mosaic.zarr", method="threshold",
                     params=(("threshold", 500.0),), chunk_size=SEAM, overlap=64)
    plan = plan_batch(spec, [tmp_path])
    assert len(plan.tasks) == 64
    result = execute_batch(plan, executor, "mosaic")
    labels = read_labels(tmp_path / "mosaic.zarr", "mosaic")
    reference = label(image > 500, connectivity=2)
    boxes = ndimage.find_objects(reference)
    crossing = [i + 1 for i, box in enumerate(boxes)
                if any(box[a].start // SEAM != (box[a].stop - 1) // SEAM for a in (0, 1))]
    assert len(crossing) > 300  # bars longer than the overlap and disks on four chunks among them
    for obj in crossing[:: 7]:  # each seam-crossing object: exactly one label, covering exactly it
        ids = np.unique(labels[boxes[obj - 1]][reference[boxes[obj - 1]] == obj])
        assert len(ids) == 1 and ids[0] > 0
        assert np.array_equal(labels[boxes[obj - 1]] == ids[0], reference[boxes[obj - 1]] == obj)
    assert_same_objects(labels, reference)
    assert result.n_objects == reference.max() == labels.max()


def test_matched_pairs_need_the_minimum_overlap():
    a = np.zeros((10, 10), np.uint32)
    b = np.zeros((10, 10), np.uint32)
    a[:, :6] = 1
    b[:, :5] = 7  # covers 50 of a's 60 pixels: the same object
    b[:, 5:] = 8  # shares 10 pixels with a: a neighbour, not the same object
    assert matched_pairs(a, b, 0.5).tolist() == [[1, 7]]


def test_merge_plane_unions_a_bar_cut_in_both_chunks():
    # a bar from x=10 to x=190 on a 200-wide plane cut at x=100 with overlap 20: each chunk sees a piece
    chunks = plan_plane(0, (40, 200), 100, 20)
    assert [c.outer for c in chunks] == [(0, 0, 40, 120), (0, 80, 40, 200)]
    plane = np.zeros((40, 200), np.uint32)
    plane[18:22, 10:190] = 1
    plane[2:6, 30:60] = 1
    pieces = []
    for chunk in chunks:
        y0, x0, y1, x1 = chunk.outer
        pieces.append(label(plane[y0:y1, x0:x1], connectivity=2).astype(np.uint32))
    merge = merge_plane(chunks, [int(p.max()) for p in pieces], lambda i: pieces[i])
    assert merge.n_objects == 2
    stitched = np.zeros_like(plane)
    for i, chunk in enumerate(chunks):
        y0, x0, y1, x1 = chunk.core
        stitched[y0:y1, x0:x1] = merge.final(i, pieces[i][chunk.core_in_outer()])
    assert len(np.unique(stitched[18:22, 10:190])) == 1


def test_a_plane_within_one_chunk_is_read_whole():
    assert plan_plane(3, (700, 1100), 2048, 128) == [ChunkRegion(3, 0, 0, (0, 0, 700, 1100), (0, 0, 700, 1100))]
