"""SAM2.1 models by name: the shipped registry's SAM2 entries, pointed at a loopback HTTP server that
serves a random-weight hiera-tiny in Meta's format, are downloaded, verified and served by
``sambridge-server --model sam2.1_hiera_t`` and by ``client.load_model(name)``; a file whose
weights do not match the entry's architecture is refused naming it, and the server keeps serving."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from sambridge import Client, SamBridgeError
from sambridge_server.cli import config_from_args, parse_args
from sambridge_server.engine.model_zoo import SHIPPED_REGISTRY
from tests.loopback_http import serve_files, sha256, write_registry

pytest.importorskip("sam2", reason="the sam2 package is not installed")


@pytest.fixture(scope="module")
def sam2_zoo(tmp_path_factory):
    """(http state, registry file): the shipped sam2.1_hiera_t and sam2.1_hiera_s entries plus a copy of the
    tiny one named 'hiera_copy', every URL pointing at the loopback server's random hiera-tiny file."""
    from sambridge_server.engine.sam2_models import build_sam2_model, save_sam2_checkpoint

    folder = tmp_path_factory.mktemp("sam2_zoo")
    path = save_sam2_checkpoint(build_sam2_model("sam2.1_hiera_t", seed=0), folder / "sam2.1_hiera_tiny.pt")
    http, server = serve_files()
    http.files["sam2.1_hiera_tiny.pt"] = path.read_bytes()
    shipped = json.loads(SHIPPED_REGISTRY.read_text())
    local = {"url": http.url("sam2.1_hiera_tiny.pt"), "sha256": sha256(http.files["sam2.1_hiera_tiny.pt"])}
    registry = write_registry(folder / "registry.json", {
        "sam2.1_hiera_t": {**shipped["sam2.1_hiera_t"], **local},
        "sam2.1_hiera_s": {**shipped["sam2.1_hiera_s"], **local},  # tiny weights under the small entry
        "hiera_copy": {**shipped["sam2.1_hiera_t"], **local},
    })
    yield http, registry
    server.shutdown()
    server.server_close()


def test_sam2_models_by_name_from_the_cli_and_the_client(sam2_zoo, tmp_path, start_server, hela_frame, caplog):
    http, registry = sam2_zoo
    args = parse_args(["--model", "sam2.1_hiera_t", "--port", "0", "--precision", "fp32",
                       "--model-dir", str(tmp_path), "--model-registry", str(registry)])
    with caplog.at_level("INFO", logger="sambridge.server.models"):
        _, workspace, address = start_server(config_from_args(args))
    assert "download sam2.1_hiera_t.pt" in caplog.text and "sha256 verified" in caplog.text
    assert (tmp_path / "sam2.1_hiera_t.pt").read_bytes() == http.files["sam2.1_hiera_tiny.pt"]
    image = np.ascontiguousarray(hela_frame[180:308, 300:428])
    events: list[str] = []
    with Client(address, timeout=300) as client:
        models = {m["name"]: m for m in client.models()}
        assert models["sam2.1_hiera_t"]["family"] == "sam2" and models["sam2.1_hiera_t"]["is_default"]
        assert models["sam2.1_hiera_t"]["model_type"] == "sam2.1_hiera_t"
        mask = client.segment(image, box=(30, 30, 90, 90), model="sam2.1_hiera_t")
        assert mask.shape == image.shape and mask.dtype == bool
        # The small entry's download verifies, but the weights are tiny's: refused naming the file.
        with pytest.raises(SamBridgeError) as wrong:
            client.load_model("sam2.1_hiera_s")
        assert wrong.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "sam2.1_hiera_s.pt" in wrong.value.details
        info = client.load_model("hiera_copy", progress=lambda stage, done, total: events.append(stage))
        assert info == {"name": "hiera_copy", "model_type": "sam2.1_hiera_t", "has_decoder": False}
        assert sorted(m["name"] for m in client.models()) == ["hiera_copy", "sam2.1_hiera_t"]
        available = {m["name"]: m for m in client.available_models()}
    assert events[0] == "download hiera_copy.pt" and events[-1] == "load"
    assert available["sam2.1_hiera_t"]["loaded"] and available["sam2.1_hiera_t"]["downloaded"]
    assert available["sam2.1_hiera_s"]["downloaded"] and not available["sam2.1_hiera_s"]["loaded"]
    assert workspace.models.get("hiera_copy").model_hash == workspace.models.get("sam2.1_hiera_t").model_hash
