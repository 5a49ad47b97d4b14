"""Cell Tracking Challenge (CTC) result files, written on the client side.

A result folder holds one uint16 label TIFF per frame (``mask000.tif``, ...; 4 digits from
1000 frames on) and ``res_track.txt`` with one ``L B E P`` line per track: label, first and
last frame (0-based, inclusive), parent label (0 = none). Same layout as the server's
``engine/ctc.py``, duplicated here because the client does not depend on the server.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_result(folder: str | Path, labels: np.ndarray, tracks: np.ndarray) -> list[Path]:
    """Write a ``(t, y, x)`` label series and its ``(n, 4)`` track table; return the files written."""
    import tifffile  # deferred: only needed for file output

    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"CTC results need a (t, y, x) label series, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise ValueError("CTC label images are uint16: track ids must be within 0..65535")
    tracks = np.asarray(tracks, dtype=np.int64).reshape(-1, 4)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    digits = 4 if len(labels) >= 1000 else 3
    written = []
    for t, frame in enumerate(labels):
        path = folder / f"mask{t:0{digits}d}.tif"
        tifffile.imwrite(path, frame.astype(np.uint16), compression="zlib")
        written.append(path)
    track_file = folder / "res_track.txt"
    track_file.write_text("".join(f"{label} {begin} {end} {parent}\n" for label, begin, end, parent in tracks.tolist()))
    return written + [track_file]
