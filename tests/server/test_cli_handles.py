"""``sambridge segment --object-id``, ``undo`` and ``reset``: one object corrected across commands."""

from __future__ import annotations

import numpy as np
import tifffile

from sambridge.cli import main


def test_cli_object_is_corrected_undone_and_reset_across_commands(live, hela_crop, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the default session lives here
    _, address = live
    image = tmp_path / "crop.tif"
    tifffile.imwrite(image, hela_crop)
    run = lambda *args: main(["--address", address, *args])  # noqa: E731
    base = ["--model", "tiny", "--object-id", "nucleus"]
    assert run("segment", str(image), "--box", "60,40,140,120", *base, "-o", str(tmp_path / "1.tif")) == 0
    assert run("segment", str(image), "--negative", "65,45", "--point", "100,80", *base,
               "-o", str(tmp_path / "2.tif")) == 0
    first, second = tifffile.imread(tmp_path / "1.tif"), tifffile.imread(tmp_path / "2.tif")
    assert first.dtype == np.uint32 and first.shape == hela_crop.shape and first.any()
    session = (tmp_path / "cache" / "sambridge" / "cli-session").read_text()
    assert len(session) == 32  # random and private to this user
    # The object lives in the CLI's session: a Python client in the same session steps it back.
    from sambridge import Client

    with Client(address, session=session) as client:
        np.testing.assert_array_equal(client.undo(hela_crop, "nucleus", model="tiny"), first.astype(bool))
        client.segment(hela_crop, points=[(65, 45), (100, 80)], point_labels=[0, 1], object_id="nucleus",
                       model="tiny")
    assert run("reset", str(image), *base) == 0
    assert run("undo", str(image), *base, "-o", str(tmp_path / "3.tif")) == 0
    # Undoing the reset restores the object as the same clicks on the same state decoded it.
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "3.tif"), second)
    # Another session cannot see the object.
    capsys.readouterr()
    assert run("--session", "someone-else", "undo", str(image), *base, "-o", str(tmp_path / "4.tif")) != 0
    assert "unknown object handle 'nucleus'" in capsys.readouterr().err
