"""AutomaticService over the wire: AIS/AMG results, stacks, progress and bad input."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import torch

from sambridge import Client, SamBridgeError
from sambridge.v1 import automatic_pb2, automatic_pb2_grpc, common_pb2
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.automatic.ais import ais_segment, embeddings_ais_maps
from sambridge_server.engine.automatic.ais_decoder import AISDecoder, build_ais_decoder
from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def ais_server(tmp_path_factory, tiny_checkpoint):
    """A server with a tiny model that has an AIS decoder ('ais') and one without ('plain')."""
    from tests.conftest import start_local_server

    path = tmp_path_factory.mktemp("ais") / "tiny_ais.pt"
    torch.manual_seed(5)
    save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=5), path, decoder_state=AISDecoder().state_dict(),
                    fmt="micro_sam", sam_prefix=True)
    config = ServerConfig(port=0, precision="fp32", models=[ModelSource(path=path, name="ais"),
                                                            ModelSource(path=tiny_checkpoint, name="plain")])
    server, workspace, address = start_local_server(config)
    yield workspace, address, path
    server.stop(grace=0)


def test_ais_equals_engine_on_same_weights(ais_server, hela_crop):
    _, address, path = ais_server
    with Client(address, timeout=300) as client:
        labels = client.auto_segment(hela_crop, method="ais", model="ais", min_size=0)
    model = load_checkpoint(path)
    maps = embeddings_ais_maps(build_ais_decoder(model.decoder_state), compute_embeddings(model, hela_crop))
    expected = ais_segment(maps)
    assert labels.dtype == np.uint32 and labels.shape == hela_crop.shape
    assert np.array_equal(labels, expected)


def test_rerun_with_other_thresholds_reuses_decoder_maps(ais_server, hela_crop):
    workspace, address, _ = ais_server
    crop = np.ascontiguousarray(hela_crop[:, ::-1])  # an image no other test decodes
    with Client(address, timeout=300) as client:
        client.auto_segment(crop, method="ais", model="ais")
        computes, maps = workspace.cache.computes, workspace.automatic.recent.computations
        loose = client.auto_segment(crop, method="ais", model="ais", foreground_threshold=0.3)
        strict = client.auto_segment(crop, method="ais", model="ais", foreground_threshold=0.9)
    assert workspace.cache.computes == computes  # no new embeddings
    assert workspace.automatic.recent.computations == maps  # and no new decoder maps
    assert (loose > 0).sum() > (strict > 0).sum()


def test_identical_concurrent_ais_calls_compute_the_maps_once(ais_server, hela_crop):
    import threading

    workspace, address, _ = ais_server
    crop = np.ascontiguousarray(hela_crop[::-1])
    before = workspace.automatic.recent.computations
    results = {}

    def run(name):
        with Client(address, timeout=300) as client:
            results[name] = client.auto_segment(crop, method="ais", model="ais")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert workspace.automatic.recent.computations == before + 1
    assert all(np.array_equal(results[0], results[i]) for i in (1, 2))


def test_stack_segments_every_slice_with_unique_ids_and_progress(ais_server, hela_movie):
    _, address, _ = ais_server
    stack = np.ascontiguousarray(hela_movie[:2, :256, :256])
    events = []
    with Client(address, timeout=300) as client:
        labels = client.auto_segment(stack, method="ais", model="ais", axes="tyx",
                                     progress=lambda stage, done, total: events.append((stage, done, total)))
    assert labels.shape == stack.shape and labels.dtype == np.uint32
    ids = [set(np.unique(plane)) - {0} for plane in labels]
    assert all(not (a & b) for i, a in enumerate(ids) for b in ids[i + 1:])
    assert events and events[-1][1:] == (2, 2)


def test_amg_runs_and_labels_are_valid(ais_server):
    _, address, _ = ais_server
    image = np.zeros((128, 128), np.uint8)
    image[20:60, 20:60] = 200
    image[70:110, 60:120] = 120
    with Client(address, timeout=300) as client:
        labels = client.auto_segment(image, method="amg", model="plain", points_per_side=8,
                                     pred_iou_thresh=0.0, stability_score_thresh=0.0)
    assert labels.dtype == np.uint32 and labels.shape == image.shape


@pytest.mark.parametrize("kwargs, code, words", [
    (dict(method="ais", model="plain"), grpc.StatusCode.FAILED_PRECONDITION, "'plain' has no AIS decoder"),
    (dict(method="ais", model="ais", foreground_threshold=1.5), grpc.StatusCode.INVALID_ARGUMENT, "[0, 1]"),
    (dict(method="ais", model="ais", distance_smoothing=-1.0), grpc.StatusCode.INVALID_ARGUMENT, "negative"),
    (dict(method="amg", model="plain", points_per_side=0), grpc.StatusCode.INVALID_ARGUMENT, "points_per_side"),
    (dict(method="amg", model="plain", pred_iou_thresh=float("nan")), grpc.StatusCode.INVALID_ARGUMENT, "finite"),
])
def test_bad_automatic_requests(ais_server, kwargs, code, words):
    _, address, _ = ais_server
    image = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    with Client(address, timeout=300) as client:
        with pytest.raises(SamBridgeError) as err:
            client.auto_segment(image, **kwargs)
        assert err.value.code == code and words in err.value.details, err.value
        assert client.models()  # still serving


def test_unknown_method_enum_rejected(ais_server):
    _, address, _ = ais_server
    with Client(address) as client:
        image_id = client.upload(np.ones((32, 32), np.uint8))
    with grpc.insecure_channel(address) as channel:
        stub = automatic_pb2_grpc.AutomaticServiceStub(channel)
        request = automatic_pb2.AutoSegmentRequest(key=common_pb2.EmbeddingKey(image_id=image_id), method=9)
        with pytest.raises(grpc.RpcError) as err:
            list(stub.AutoSegment(request))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "method" in err.value.details()
