"""Cell Tracking Challenge (CTC) format: per-frame uint16 label TIFFs plus a track table.

A result folder holds ``mask000.tif`` ... and ``res_track.txt``; a ground-truth ``TRA`` folder
holds ``man_track000.tif`` ... and ``man_track.txt``. Each text line is ``L B E P``: track label,
first and last frame (0-based, inclusive) and parent label (0 = none). A track occupies every
frame from B to E with the same label; a daughter of a division starts after its parent ends.
Frame numbers are zero-padded to 3 digits, 4 when there are 1000 frames or more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, NotFound

_FRAME_FILE = re.compile(r"^(?:mask|man_track)(\d+)\.tif{1,2}$")
_TRACK_FILES = ("man_track.txt", "res_track.txt")


def track_table(labels: np.ndarray, parents: Mapping[int, int] | None = None) -> np.ndarray:
    """The ``(n, 4)`` int64 ``L B E P`` table of a label series whose ids are track ids.

    ``parents`` maps a track id to its parent's id (absent or 0 = no parent). Raises
    ``InvalidInput`` when a track has a gap in time, which CTC does not allow.
    """
    parents = parents or {}
    frames_of: dict[int, list[int]] = {}
    for t, frame in enumerate(labels):
        for label in np.unique(frame).tolist():
            if label:
                frames_of.setdefault(int(label), []).append(t)
    rows = []
    for label, frames in sorted(frames_of.items()):
        if frames[-1] - frames[0] + 1 != len(frames):
            raise InvalidInput(f"track {label} has a gap in time (frames {frames}): CTC tracks are contiguous")
        rows.append((label, frames[0], frames[-1], int(parents.get(label, 0))))
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def write_ctc(folder: str | Path, labels: np.ndarray, tracks: np.ndarray, ground_truth: bool = False) -> None:
    """Write a ``(t, y, x)`` label series and its track table in CTC layout into ``folder``.

    Result layout (``mask###.tif`` + ``res_track.txt``) by default; ``ground_truth=True``
    writes the ``TRA`` layout (``man_track###.tif`` + ``man_track.txt``).
    """
    import tifffile  # deferred: only needed for file I/O

    if labels.ndim != 3:
        raise InvalidInput(f"CTC export needs a (t, y, x) label series, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise InvalidInput("CTC label images are uint16: track ids must be within 0..65535")
    tracks = np.asarray(tracks, dtype=np.int64).reshape(-1, 4)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "man_track" if ground_truth else "mask"
    digits = 4 if len(labels) >= 1000 else 3
    for t, frame in enumerate(labels):
        tifffile.imwrite(folder / f"{prefix}{t:0{digits}d}.tif", frame.astype(np.uint16), compression="zlib")
    lines = [f"{label} {begin} {end} {parent}\n" for label, begin, end, parent in tracks.tolist()]
    (folder / ("man_track.txt" if ground_truth else "res_track.txt")).write_text("".join(lines))


def read_track_file(path: str | Path) -> np.ndarray:
    """Read a ``man_track.txt`` / ``res_track.txt`` into an ``(n, 4)`` int64 ``L B E P`` table."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise InvalidInput(f"{path}:{number}: expected 'L B E P', got {line!r}")
        rows.append([int(f) for f in fields])
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def read_ctc(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a CTC folder (result or ``TRA`` ground truth) into ``(labels, tracks)``.

    ``labels`` is ``(t, y, x)`` as stored (uint16), frames ordered by their number;
    ``tracks`` the ``L B E P`` table from ``man_track.txt`` (preferred) or ``res_track.txt``.
    """
    import tifffile  # deferred: only needed for file I/O

    folder = Path(folder)
    if not folder.is_dir():
        raise NotFound(f"CTC folder {folder} does not exist")
    track_file = next((folder / name for name in _TRACK_FILES if (folder / name).is_file()), None)
    if track_file is None:
        raise NotFound(f"{folder} has neither man_track.txt nor res_track.txt")
    frames = sorted(
        (int(match.group(1)), path) for path in folder.iterdir() if (match := _FRAME_FILE.match(path.name))
    )
    if not frames:
        raise NotFound(f"{folder} has no mask###.tif or man_track###.tif frames")
    numbers = [number for number, _ in frames]
    if numbers != list(range(len(frames))):
        raise InvalidInput(f"{folder}: frame numbers must run 0..{len(frames) - 1}, got {numbers[:5]}...")
    labels = np.stack([tifffile.imread(path) for _, path in frames])
    return labels, read_track_file(track_file)
