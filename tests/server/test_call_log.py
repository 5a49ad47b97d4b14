"""The server logs one INFO line per call: method, image id, milliseconds, status; never the token."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from sambridge import Client, SamBridgeError
from sambridge_server.config import ModelSource, ServerConfig

LINE = re.compile(r"^(?P<method>\w+/\w+) image=(?P<image>\S+) (?P<ms>\d+) ms (?P<status>[A-Z_]+)$")


def _calls(caplog) -> list[dict]:
    return [LINE.match(r.getMessage()).groupdict() for r in caplog.records
            if r.name == "sambridge.server" and LINE.match(r.getMessage())]


def test_one_line_per_call_with_image_ms_status(client, caplog):
    caplog.set_level(logging.INFO, logger="sambridge.server")
    image = np.random.default_rng(3).integers(0, 255, (64, 80), dtype=np.uint8)
    image_id = client.upload(image)  # GetImage (NOT_FOUND) + Upload
    client.embed(image_id)  # a streaming call
    client.segment(image_id, box=(10, 10, 40, 40))
    with pytest.raises(SamBridgeError):
        client.segment(image_id, box=(10, 10, 40, 40), model="no-such-model")
    calls = _calls(caplog)
    assert [(c["method"], c["status"]) for c in calls] == [
        ("ImageService/GetImage", "NOT_FOUND"), ("ImageService/Upload", "OK"),
        ("EmbeddingService/Embed", "OK"), ("PromptService/Segment", "OK"), ("PromptService/Segment", "NOT_FOUND"),
    ]
    assert all(c["image"] == image_id for c in calls)  # the upload's id comes from its answer
    assert all(int(c["ms"]) >= 0 for c in calls)
    assert int(calls[2]["ms"]) > 0  # embedding takes time


def test_calls_without_image_and_refused_calls_never_log_the_token(tiny_checkpoint, start_server, caplog):
    caplog.set_level(logging.DEBUG)
    token = "s3cret-token-4711"
    config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], token=token)
    _, _, address = start_server(config)
    with Client(address, token=token) as client:
        client.models()
    with Client(address, token="wrong-token-0815") as client, pytest.raises(SamBridgeError):
        client.models()
    calls = _calls(caplog)
    assert [(c["method"], c["image"], c["status"]) for c in calls] == [
        ("ModelService/ListModels", "-", "OK"), ("ModelService/ListModels", "-", "UNAUTHENTICATED")]
    assert token not in caplog.text and "wrong-token-0815" not in caplog.text
