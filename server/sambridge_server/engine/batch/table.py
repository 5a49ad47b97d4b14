"""The per-object table of a batch: id, plane, bounding box, area, centroid, score.

Objects are accumulated core by core (a whole slide never has to be in memory): areas, centroid
sums and boxes add up across the chunks an object spans, and its score is the area-weighted mean
of its pieces' scores. Written as CSV, and also as Parquet when pyarrow is installed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy import ndimage

COLUMNS = ("input", "id", "plane", "y0", "x0", "y1", "x1", "area", "centroid_y", "centroid_x", "score")


class ObjectTable:
    """Accumulates per-object statistics over label blocks; ``rows()`` gives the finished table."""

    def __init__(self) -> None:
        """An empty table."""
        # (input, id) -> [plane, y0, x0, y1, x1, area, sum_y, sum_x, sum_score]
        self._objects: dict[tuple[str, int], list] = {}

    def add(self, input_name: str, plane: int, labels: np.ndarray, origin: tuple[int, int],
            scores: np.ndarray | None = None) -> None:
        """Add a block of final labels whose top-left pixel is ``origin`` (y, x) of the plane;
        ``scores`` holds each pixel's object score (1.0 when None)."""
        ids, compact = np.unique(labels, return_inverse=True)
        compact = compact.reshape(labels.shape)
        if not ids.any():
            return
        ys, xs = np.indices(labels.shape)
        area = np.bincount(compact.ravel())
        sum_y = np.bincount(compact.ravel(), weights=(ys + origin[0]).ravel())
        sum_x = np.bincount(compact.ravel(), weights=(xs + origin[1]).ravel())
        weights = np.ones(labels.size) if scores is None else scores.ravel()
        sum_score = np.bincount(compact.ravel(), weights=weights)
        boxes = ndimage.find_objects(compact + 1)
        for k, label in enumerate(ids.tolist()):
            if label == 0:
                continue
            box = boxes[k]
            y0, x0 = box[0].start + origin[0], box[1].start + origin[1]
            y1, x1 = box[0].stop + origin[0], box[1].stop + origin[1]
            entry = self._objects.get((input_name, label))
            if entry is None:
                self._objects[(input_name, label)] = [plane, y0, x0, y1, x1, int(area[k]), sum_y[k], sum_x[k],
                                                      sum_score[k]]
                continue
            entry[0] = min(entry[0], plane)
            entry[1], entry[2] = min(entry[1], y0), min(entry[2], x0)
            entry[3], entry[4] = max(entry[3], y1), max(entry[4], x1)
            entry[5] += int(area[k])
            entry[6] += sum_y[k]
            entry[7] += sum_x[k]
            entry[8] += sum_score[k]

    def __len__(self) -> int:
        return len(self._objects)

    def rows(self) -> list[dict]:
        """One dict per object (keys ``COLUMNS``), by input then id."""
        result = []
        for (name, label), (plane, y0, x0, y1, x1, area, sy, sx, ss) in sorted(self._objects.items()):
            result.append({"input": name, "id": label, "plane": plane, "y0": y0, "x0": x0, "y1": y1, "x1": x1,
                           "area": area, "centroid_y": round(sy / area, 3), "centroid_x": round(sx / area, 3),
                           "score": round(ss / area, 6)})
        return result

    def write(self, path: Path) -> list[Path]:
        """Write ``path`` (CSV) and, with pyarrow, the same table next to it as Parquet."""
        rows = self.rows()
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        written = [path]
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            return written
        table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in COLUMNS})
        pq.write_table(table, path.with_suffix(".parquet"))
        return written + [path.with_suffix(".parquet")]
