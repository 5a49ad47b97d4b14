"""``sambridge track``: TIFF in, Cell Tracking Challenge result folder out, against a live server."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from skimage.draw import disk

from sambridge import Client
from sambridge.cli import main
from sambridge_server.engine.tracking.ctc import read_ctc


@pytest.fixture(scope="module")
def address(live):
    """Address of the shared live server (default model: a random-weight vit_tiny)."""
    return live[1]


def dividing_cell() -> tuple[np.ndarray, list[list[int]]]:
    """Five frames: a cell that divides at frame 2 and a still neighbour; its CTC table."""
    truth = np.zeros((5, 96, 96), dtype=np.uint16)
    for t in range(5):
        truth[t][disk((70, 70), 8, shape=(96, 96))] = 2
        if t < 2:
            truth[t][disk((30, 30), 9, shape=(96, 96))] = 1
        else:
            truth[t][disk((30, 22 - t), 6, shape=(96, 96))] = 3
            truth[t][disk((30, 38 + t), 6, shape=(96, 96))] = 4
    return truth, [[1, 0, 1, 0], [2, 0, 4, 0], [3, 2, 4, 1], [4, 2, 4, 1]]


def test_track_links_a_label_tiff_into_a_ctc_folder(address, tmp_path, capsys):
    truth, table = dividing_cell()
    # Per-frame ids that mean nothing across frames, as a per-frame segmentation writes them.
    labels = np.where(truth > 0, truth * 7 + np.arange(5, dtype=np.uint16)[:, None, None] * 100, 0)
    tifffile.imwrite(tmp_path / "movie.tif", (truth > 0).astype(np.uint8) * 200)
    tifffile.imwrite(tmp_path / "labels.tif", labels.astype(np.uint16))

    code = main(["--address", address, "track", str(tmp_path / "movie.tif"), "--labels", str(tmp_path / "labels.tif"),
                 "-o", str(tmp_path / "out"), "--time-limit", "20"])

    assert code == 0
    assert "4 track(s), 1 division(s), optimal" in capsys.readouterr().out
    tracked, tracks = read_ctc(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[:5] == [f"mask{t:03d}.tif" for t in range(5)]
    pairs = np.unique(np.stack([tracked.ravel(), truth.ravel()]), axis=1)
    mapping = dict(zip(pairs[0].tolist(), pairs[1].tolist()))
    assert len(mapping) == pairs.shape[1] == 5
    assert sorted([mapping[i], b, e, mapping[p]] for i, b, e, p in tracks.tolist()) == table


def test_track_follows_a_boxed_object_interactively(address, tmp_path, hela_movie):
    movie = np.ascontiguousarray(hela_movie[:2, 200:328, 340:468])
    tifffile.imwrite(tmp_path / "movie.tif", movie)
    box = (40, 40, 80, 80)

    code = main(["--address", address, "track", str(tmp_path / "movie.tif"), "--method", "interactive",
                 "--frame", "0", "--box", ",".join(map(str, box)), "--iou-threshold", "0", "-o", str(tmp_path / "out")])

    assert code == 0
    tracked, tracks = read_ctc(tmp_path / "out")
    assert tracked.shape == movie.shape and tracks[0].tolist()[:2] == [1, 0] and tracks[0, 3] == 0
    with Client(address) as client:
        expected = client.segment(movie, box=box, axes="tyx")
    np.testing.assert_array_equal(tracked[0] == 1, expected)


def test_track_without_an_interactive_prompt_is_a_usage_error(address, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "movie.tif", np.zeros((2, 16, 16), np.uint8))
    code = main(["--address", address, "track", str(tmp_path / "movie.tif"), "--method", "interactive",
                 "-o", str(tmp_path / "out")])
    assert code == 2 and "--box, --point or --mask" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
