"""Server-test fixtures (the live server itself is in tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest



@pytest.fixture(scope="session")
def hela_crop(hela_frame) -> np.ndarray:
    """A 512x512 crop of a real HeLa frame (uint16)."""
    return np.ascontiguousarray(hela_frame[100:612, 200:712])


@pytest.fixture()
def slow_encoder(monkeypatch):
    """Every encoder batch takes 0.1 s and returns zero features; yields the batch start times.

    Makes "long" embeddings deterministic and cheap for cancellation and deadline tests.
    """
    import time

    from sambridge_server.engine import embeddings

    calls: list[float] = []

    def encode_batch(sam, batch, precision="fp32", attention="sdpa", forward=None):
        calls.append(time.monotonic())
        time.sleep(0.1)
        return np.zeros((batch.shape[0], 256, 64, 64), np.float32)

    monkeypatch.setattr(embeddings, "encode_batch", encode_batch)
    return calls
