"""Models by name over the wire and from the command lines, downloaded from a loopback HTTP server."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
import torch

from sambridge import Client, SamBridgeError
from sambridge.cli import main as client_main
from sambridge.v1 import models_pb2, models_pb2_grpc
from sambridge_server.cli import config_from_args, main as server_main, parse_args
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.automatic.ais_decoder import AISDecoder
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint
from tests.loopback_http import closed_port_url, serve_files, sha256, write_registry


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """(http state, registry file, folder of the original files) serving 'tiny_lm' (micro_sam model +
    separate decoder file, like micro_sam's vit_b_lm) and 'tiny_sam' (Meta format, no decoder)."""
    folder = tmp_path_factory.mktemp("zoo_source")
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=11), folder / "tiny_lm.pt", fmt="micro_sam")
    torch.manual_seed(11)
    torch.save(AISDecoder().state_dict(), folder / "tiny_lm_decoder.pt")
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=12), folder / "tiny_sam.pth", fmt="meta")
    http, server = serve_files()
    for name in ("tiny_lm.pt", "tiny_lm_decoder.pt", "tiny_sam.pth"):
        http.files[name] = (folder / name).read_bytes()
    registry = write_registry(folder / "registry.json", {
        "tiny_lm": {"model_type": "vit_tiny", "url": http.url("tiny_lm.pt"),
                    "sha256": sha256(http.files["tiny_lm.pt"]), "decoder_url": http.url("tiny_lm_decoder.pt"),
                    "decoder_sha256": sha256(http.files["tiny_lm_decoder.pt"]), "description": "test model"},
        "tiny_sam": {"model_type": "vit_tiny", "url": http.url("tiny_sam.pth"),
                     "sha256": sha256(http.files["tiny_sam.pth"])},
        "offline": {"model_type": "vit_tiny", "url": closed_port_url("offline.pt"), "sha256": "0" * 64},
    })
    yield http, registry, folder
    server.shutdown()
    server.server_close()


def test_server_cli_options_resolve_to_registry_sources_in_order(zoo, tmp_path, tiny_checkpoint):
    _, registry, _ = zoo
    args = parse_args(["--model", "tiny_lm", "--checkpoint", tiny_checkpoint, "--model", "tiny_sam",
                       "--model-dir", str(tmp_path), "--model-registry", str(registry)])
    config = config_from_args(args)
    assert [(s.name, s.from_registry) for s in config.models] == [("tiny_lm", True), (None, False),
                                                                   ("tiny_sam", True)]
    assert str(config.models[1].path) == tiny_checkpoint
    assert config.model_dir == tmp_path and config.model_registry == registry


def test_server_cli_unknown_model_is_one_line_exit_2(zoo, capsys):
    code = server_main(["--model", "vit_q", "--model-registry", str(zoo[1])])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "unknown model 'vit_q'; available: offline, tiny_lm, tiny_sam" in err


def test_server_cli_offline_start_is_one_clear_line(zoo, tmp_path, capsys):
    code = server_main(["--model", "offline", "--model-registry", str(zoo[1]), "--model-dir", str(tmp_path),
                        "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "cannot download http://127.0.0.1:" in err and "/offline.pt" in err
    assert f"save it as {tmp_path / 'offline.pt'}" in err
    assert list(tmp_path.iterdir()) == []


def test_server_started_with_model_names_downloads_and_serves_them(zoo, tmp_path, start_server, caplog):
    http, registry, _ = zoo
    args = parse_args(["--model", "tiny_lm", "--model", "tiny_sam", "--port", "0", "--precision", "fp32",
                       "--model-dir", str(tmp_path), "--model-registry", str(registry)])
    with caplog.at_level("INFO", logger="sambridge.server.models"):
        _, workspace, address = start_server(config_from_args(args))
    assert workspace.models.default_name == "tiny_lm"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny_lm.pt", "tiny_lm_decoder.pt", "tiny_sam.pt"]
    assert "download tiny_lm.pt" in caplog.text and "sha256 verified" in caplog.text
    with Client(address, timeout=60) as client:
        models = {m["name"]: m for m in client.models()}
        assert models["tiny_lm"]["has_decoder"] and models["tiny_lm"]["is_default"]
        assert not models["tiny_sam"]["has_decoder"]
        available = {m["name"]: m for m in client.available_models()}
    assert available["tiny_lm"] == {"name": "tiny_lm", "model_type": "vit_tiny", "has_decoder": True,
                                    "downloaded": True, "loaded": True, "description": "test model",
                                    "url": http.url("tiny_lm.pt")}
    assert not available["offline"]["downloaded"] and not available["offline"]["loaded"]


@pytest.fixture()
def empty_server(zoo, tmp_path, start_server, tiny_checkpoint):
    """A server on a plain checkpoint whose registry is the loopback one and whose model folder is empty."""
    config = ServerConfig(port=0, precision="fp32", models=[ModelSource(path=tiny_checkpoint, name="tiny")],
                          model_dir=tmp_path / "models", model_registry=zoo[1])
    return start_server(config)


def test_pull_streams_progress_then_serves_masks_with_the_decoder(zoo, empty_server, hela_crop):
    http, _, folder = zoo
    _, workspace, address = empty_server
    events: list[tuple[str, int, int]] = []
    with Client(address, timeout=300) as client:
        assert {m["name"]: m["downloaded"] for m in client.available_models()}["tiny_lm"] is False
        info = client.load_model("tiny_lm", progress=lambda stage, done, total: events.append((stage, done, total)))
        assert info == {"name": "tiny_lm", "model_type": "vit_tiny", "has_decoder": True}
        image = np.ascontiguousarray(hela_crop[:128, :128])
        mask = client.segment(image, box=(30, 30, 90, 90), model="tiny_lm")
        labels = client.auto_segment(image, method="ais", model="tiny_lm", min_size=0)
        again = client.load_model("tiny_lm")  # already served: answered at once, nothing downloaded
    size = len(http.files["tiny_lm.pt"])
    stages = [stage for stage, _, _ in events]
    assert stages[0] == "download tiny_lm.pt" and ("download tiny_lm.pt", size, size) in events
    assert "download tiny_lm_decoder.pt" in stages and stages[-1] == "load"
    assert again["name"] == "tiny_lm"
    assert mask is not None and labels.dtype == np.uint32 and labels.shape == (128, 128)
    # AIS ran on the decoder of the separate decoder file the registry points at.
    served = workspace.models.get("tiny_lm").decoder_state
    decoder_file = torch.load(folder / "tiny_lm_decoder.pt", weights_only=True)
    assert served.keys() == decoder_file.keys()
    assert all(torch.equal(served[k].cpu(), v) for k, v in decoder_file.items())


def test_unary_load_model_by_name_and_errors(zoo, empty_server):
    _, _, address = empty_server
    with Client(address, timeout=60) as client:
        assert client.load_model("tiny_sam")["has_decoder"] is False
        with pytest.raises(SamBridgeError) as unknown:
            client.load_model("vit_q")
        assert unknown.value.code == grpc.StatusCode.NOT_FOUND and "unknown model 'vit_q'" in unknown.value.details
        with pytest.raises(SamBridgeError) as offline:
            client.load_model("offline")
        assert offline.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "http://127.0.0.1:" in offline.value.details and "/offline.pt" in offline.value.details
        assert "save it as" in offline.value.details
    with grpc.insecure_channel(address) as channel:
        stub = models_pb2_grpc.ModelServiceStub(channel)
        info = stub.LoadModel(models_pb2.LoadModelRequest(name="tiny_lm"), timeout=60)
        assert info.has_decoder and info.name == "tiny_lm"
        with pytest.raises(grpc.RpcError) as both:
            list(stub.PullModel(models_pb2.LoadModelRequest(name="tiny_lm", checkpoint_path="x.pt"), timeout=10))
        assert both.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_corrupted_download_over_the_wire_names_both_digests(zoo, empty_server):
    http, _, _ = zoo
    _, workspace, address = empty_server
    original = http.files["tiny_sam.pth"]
    http.files["tiny_sam.pth"] = original[:-10] + b"corrupted!"
    try:
        with Client(address, timeout=60) as client, pytest.raises(SamBridgeError) as info:
            client.load_model("tiny_sam")
    finally:
        http.files["tiny_sam.pth"] = original
    assert f"expected sha256 {sha256(original)}" in info.value.details
    assert f"got {sha256(original[:-10] + b'corrupted!')}" in info.value.details
    assert list(workspace.zoo.model_dir.iterdir()) == []


def test_client_cli_lists_available_models_and_pulls(zoo, empty_server, capsys):
    _, _, address = empty_server
    assert client_main(["--address", address, "models", "--available"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == ["offline", "tiny_lm", "tiny_sam"]
    assert rows[1]["has_decoder"] and not rows[1]["downloaded"]
    assert client_main(["--address", address, "pull", "tiny_sam"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["name"] == "tiny_sam"
    assert client_main(["--address", address, "pull", "vit_q"]) == 2
    lines = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1].startswith("sambridge pull: unknown model 'vit_q'")
    assert not any("Traceback" in line for line in lines)
