"""Training curves: a CSV log and a PNG plot (matplotlib when available, else a tiny rasteriser)."""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..files import atomic_path


def append_row(path: Path, row: Mapping[str, float | int | str]) -> None:
    """Append ``row`` to a CSV file, writing the header when the file is new."""
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def truncate_rows(path: Path, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (and a torn last line): a resumed run logs them again."""
    if not path.exists():
        return
    rows = []
    for row in read_rows(path):
        try:
            if int(row["step"]) <= last_step and None not in row.values():
                rows.append(row)
        except (KeyError, TypeError, ValueError):
            continue  # a row cut short by a crash
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a curves CSV (empty when it does not exist)."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def plot_curves(csv_path: Path, png_path: Path, columns: Sequence[str] = ("loss", "val_msa")) -> Path:
    """Plot ``columns`` of the CSV against ``step`` into a PNG (one panel per column)."""
    rows = read_rows(csv_path)
    series = {}
    for column in columns:
        points = [(float(r["step"]), float(r[column])) for r in rows if r.get(column) not in (None, "")]
        series[column] = np.array(points, dtype=float).reshape(-1, 2)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _raster_plot(series, png_path)
    fig, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 3.5))
    for ax, (column, points) in zip(np.atleast_1d(axes), series.items()):
        if len(points):
            ax.plot(points[:, 0], points[:, 1], marker="." if column.startswith("val") else None)
        ax.set_xlabel("step")
        ax.set_title(column)
    fig.tight_layout()
    with atomic_path(png_path, keep_suffix=True) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return png_path


def _raster_plot(series: Mapping[str, np.ndarray], png_path: Path, size: tuple[int, int] = (200, 300)) -> Path:
    """Fallback plotter: each series as dots in its own white panel, written as a grayscale PNG."""
    height, width = size
    canvas = np.full((height, width * max(1, len(series))), 255, dtype=np.uint8)
    for panel, points in enumerate(series.values()):
        if len(points) == 0:
            continue
        x, y = points[:, 0], points[:, 1]
        cols = ((x - x.min()) / max(np.ptp(x), 1e-12) * (width - 11) + 5).astype(int) + panel * width
        rows = (height - 6 - (y - y.min()) / max(np.ptp(y), 1e-12) * (height - 11)).astype(int)
        canvas[rows, cols] = 0
    write_png(png_path, canvas)
    return png_path


def write_png(path: Path, gray: np.ndarray) -> None:
    """Write an 8-bit grayscale image as PNG with only the standard library."""
    height, width = gray.shape
    raw = b"".join(b"\x00" + gray[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)
