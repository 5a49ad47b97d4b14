"""User mistakes on the command line: one line on stderr, exit status 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from sambridge.cli import _write, main


@pytest.fixture()
def files(tmp_path):
    """An image TIFF, a text file named .tif, a 4D (z, c, y, x) TIFF and a 2D label TIFF."""
    rng = np.random.default_rng(0)
    image = tmp_path / "img.tif"
    tifffile.imwrite(image, rng.integers(0, 255, (48, 64), dtype=np.uint8))
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    zcyx = tmp_path / "zcyx.tif"
    tifffile.imwrite(zcyx, rng.integers(0, 255, (3, 2, 48, 64), dtype=np.uint8))
    return {"image": str(image), "text": str(text), "zcyx": str(zcyx), "dir": str(tmp_path),
            "out": str(tmp_path / "out.tif")}


def _assert_one_line(capsys, code: int, *words: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse exits
        return exc.code


UNREACHABLE = ["--address", "127.0.0.1:9"]  # nothing listens on the discard port: never reached first


@pytest.mark.parametrize("argv, words", [
    (["auto", "{dir}/missing.tif", "-o", "{out}"], ["cannot read", "missing.tif", "No such file"]),
    (["auto", "{dir}", "-o", "{out}"], ["cannot read", "directory"]),
    (["embed", "{text}"], ["notes.tif", "is not a TIFF file"]),
    (["segment", "{image}", "--box", "1,2,3", "-o", "{out}"], ["--box needs 4", "'1,2,3'"]),
    (["segment", "{image}", "--box", "a,b,c,d", "-o", "{out}"], ["--box needs 4", "'a,b,c,d'"]),
    (["segment", "{image}", "--point", "5", "-o", "{out}"], ["--point needs 2", "'5'"]),
    (["segment", "{image}", "--point", "5,5", "--negative", "x,y", "-o", "{out}"], ["--negative needs 2"]),
    (["auto", "{image}", "--tile", "256", "-o", "{out}"], ["--tile", "'256'"]),
    (["auto", "{image}", "--halo", "a,b", "-o", "{out}"], ["--halo", "'a,b'"]),
    (["auto", "{image}", "--axes", "czyx", "-o", "{out}"], ["axes 'czyx'", "(48, 64)"]),
    (["auto", "{zcyx}", "--axes", "zcyx", "--channel", "5", "-o", "{out}"], ["[5]", "2 channels"]),
    (["auto3d", "{zcyx}", "--axes", "zcyx", "-o", "{out}"], ["(z, y, x) volume", "'zyxc'", "--channel"]),
    (["auto", "{image}", "--method", "nope", "-o", "{out}"], ["--method", "nope"]),
    (["auto", "{image}"], ["-o/--output"]),
    (["no-such-command"], ["no-such-command"]),
])
def test_mistakes_before_any_call(files, capsys, argv, words):
    code = _run(UNREACHABLE + [a.format(**files) for a in argv])
    _assert_one_line(capsys, code, *words)


def test_no_server_says_how_to_start_one(files, capsys):
    code = _run(UNREACHABLE + ["auto", files["image"], "-o", files["out"]])
    _assert_one_line(capsys, code, "no SAMBridge server answers at 127.0.0.1:9", "sambridge-server", "--address")


def test_unknown_model_and_index(live, files, capsys):
    address = ["--address", live[1]]
    code = _run(address + ["segment", files["image"], "--box", "5,5,30,30", "--model", "nope", "-o", files["out"]])
    _assert_one_line(capsys, code, "NOT_FOUND", "nope")
    code = _run(address + ["segment", files["image"], "--box", "5,5,30,30", "--index", "3", "-o", files["out"]])
    _assert_one_line(capsys, code, "INVALID_ARGUMENT", "index 3")


def test_axes_and_channel_select_before_upload(live, files, capsys):
    """--axes zcyx --channel 1 embeds the (z, y, x) volume of channel 1."""
    assert main(["--address", live[1], "embed", files["zcyx"], "--axes", "zcyx", "--channel", "1"]) == 0
    assert "embedded 3 plane(s)" in capsys.readouterr().out
    volume = np.ascontiguousarray(tifffile.imread(files["zcyx"])[:, 1])
    from sambridge import wire

    assert live[0].images.get(wire.image_id(volume, "zyx")).axes == "zyx"


def test_subprocess_has_no_traceback(files):
    """The installed entry point behaves the same in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-m", "sambridge.cli", "segment", files["image"], "--box", "1,2",
                             "-o", files["out"]], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "sambridge segment: --box needs 4 comma-separated numbers, got '1,2'"


def test_three_plane_labels_are_a_zyx_stack_not_rgb(tmp_path):
    labels = np.arange(3 * 20 * 30, dtype=np.uint32).reshape(3, 20, 30)
    _write(tmp_path / "labels.tif", labels)
    with tifffile.TiffFile(tmp_path / "labels.tif") as tif:
        assert len(tif.pages) == 3
        assert tif.series[0].axes == "ZYX" and tif.series[0].shape == (3, 20, 30)
        assert all(page.photometric == tifffile.PHOTOMETRIC.MINISBLACK for page in tif.pages)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "labels.tif"), labels)
