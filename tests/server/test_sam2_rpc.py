"""A SAM2.1 model over gRPC: served by path next to a SAM1 model, reported with its family and
capabilities, segments boxes and runs AMG; AIS gets FAILED_PRECONDITION naming the model and the
server keeps serving."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sambridge import Client
from sambridge.client import SamBridgeError
from sambridge_server.config import ModelSource, ServerConfig

pytest.importorskip("sam2", reason="the sam2 package is not installed")


@pytest.fixture(scope="module")
def sam2_checkpoint(tmp_path_factory) -> str:
    from sambridge_server.engine.sam2_models import build_sam2_model, save_sam2_checkpoint

    path = tmp_path_factory.mktemp("sam2") / "sam2.1_hiera_tiny.pt"
    return str(save_sam2_checkpoint(build_sam2_model("sam2.1_hiera_t", seed=0), path))


def test_sam2_model_over_grpc(start_server, tiny_checkpoint, sam2_checkpoint, hela_frame):
    config = ServerConfig(port=0, precision="fp32", models=[ModelSource(path=tiny_checkpoint, name="tiny"),
                                                            ModelSource(path=sam2_checkpoint, name="hiera")])
    _, _, address = start_server(config)
    image = np.ascontiguousarray(hela_frame[180:436, 300:620])
    with Client(address, timeout=600) as client:
        models = {m["name"]: m for m in client.models()}
        assert models["hiera"]["family"] == "sam2" and models["hiera"]["model_type"] == "sam2.1_hiera_t"
        assert models["hiera"]["capabilities"] == ["prompts", "amg", "memory_propagation"]
        assert models["tiny"]["family"] == "sam" and "prompt_propagation" in models["tiny"]["capabilities"]
        labels = client.segment_objects(image, boxes=[[10, 10, 60, 50], [100, 80, 160, 140]], model="hiera")
        assert labels.dtype == np.uint32 and labels.shape == image.shape
        with pytest.raises(SamBridgeError) as error:
            client.auto_segment(image, method="ais", model="hiera")
        assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION and "'hiera'" in str(error.value)
        labels = client.auto_segment(image, method="amg", model="hiera", points_per_side=2, pred_iou_thresh=0.0,
                                     stability_score_thresh=0.0)
        assert labels.shape == image.shape and labels.max() >= 1
        volume = np.ascontiguousarray(np.stack([image, image[::-1]]))
        slice0 = np.zeros(image.shape, np.uint32)
        slice0[40:80, 50:100] = 4
        tracked = client.propagate_objects(volume, slice0, 0, model="hiera", method="memory")
        assert tracked.shape == volume.shape and set(np.unique(tracked)) <= {0, 4}
        with pytest.raises(SamBridgeError) as error:
            client.propagate_objects(volume, slice0, 0, model="tiny", method="memory")
        assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION and "'tiny'" in str(error.value)
