"""precision="int8": the OpenVINO int8 encoder, quantised once per model and stored beside the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.measure import regionprops

from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine import int8_encoder
from sambridge_server.engine.embeddings import check_options, model_encoder
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.requests import EmbeddingRequest
from sambridge_server.engine.workspace import Workspace

needs_openvino = pytest.mark.skipif(bool(int8_encoder.missing_packages()), reason="openvino/nncf not installed")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / max(1, np.logical_or(a, b).sum()))


def test_int8_is_refused_where_it_cannot_run(monkeypatch, tiny_sam):
    with pytest.raises(InvalidInput, match="for CPUs"):
        int8_encoder.check_int8("cuda:0")
    with pytest.raises(InvalidInput, match="precision must be one of"):
        check_options("int4", None, None)
    # An encoder built without an int8 forward (e.g. a caller outside the server) says so instead of
    # silently computing fp32 features under the name int8.
    with pytest.raises(InvalidInput, match="int8 encoder"):
        model_encoder(tiny_sam)(torch.zeros(1, 3, 1024, 1024), "int8")

    real_version = int8_encoder.metadata.version

    def version(name: str) -> str:
        if name == "nncf":
            raise int8_encoder.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(int8_encoder.metadata, "version", version)
    assert int8_encoder.missing_packages() == ["nncf"] or "openvino" in int8_encoder.missing_packages()
    with pytest.raises(InvalidInput, match="nncf"):
        int8_encoder.check_int8("cpu")


def test_a_sam2_model_refuses_int8_with_a_clear_message(tmp_path):
    from sambridge_server.engine.sam2_models.features import check_options as sam2_check_options

    with pytest.raises(InvalidInput, match="precision must be one of"):
        sam2_check_options("int8", None, None)


@needs_openvino
def test_int8_masks_match_fp32_and_the_network_is_quantised_once(tiny_checkpoint, hela_frame, hela_seg, tmp_path,
                                                                 monkeypatch):
    image = np.ascontiguousarray(hela_frame[:384, :512])
    labels = hela_seg[0][:384, :512]
    boxes = [np.array([p.bbox[1], p.bbox[0], p.bbox[3], p.bbox[2]], float) for p in regionprops(labels)
             if p.area >= 50]
    assert len(boxes) >= 20

    def workspace() -> Workspace:
        config = ServerConfig(port=0, models=[ModelSource(path=tiny_checkpoint, name="tiny")], precision="fp32",
                              cache_dir=tmp_path / "cache")
        ws = Workspace(config)
        ws.images.put("hela", image, "yx")
        return ws

    first = workspace()
    first.prepare_int8()  # the server's warm-up with --precision int8
    stored = list((tmp_path / "cache" / "int8-encoders").glob("encoder-*-int8-*.xml"))
    assert len(stored) == 1 and stored[0].with_suffix(".bin").stat().st_size > 0
    fp32, _, _ = first.embeddings_for(EmbeddingRequest("hela", precision="fp32"))
    int8, _, _ = first.embeddings_for(EmbeddingRequest("hela", precision="int8"))
    assert int8.precision == "int8"
    # Quantised, not the fp32 network under another name: close to fp32, yet not equal.
    relative = np.abs(int8.features - fp32.features).mean() / np.abs(fp32.features).mean()
    assert 1e-4 < relative < 0.1, relative
    ious = [_iou(first.segment(EmbeddingRequest("hela", precision="int8"), box=box).masks[0],
                 first.segment(EmbeddingRequest("hela", precision="fp32"), box=box).masks[0]) for box in boxes]
    assert np.mean(ious) >= 0.95 and np.min(ious) >= 0.8, (np.mean(ious), np.min(ious))

    assert list((tmp_path / "cache" / "int8-encoders").glob("encoder-*-int8-*.xml")) == stored

    # A second server on the same folder (a restart, or a replica) reads the stored network.
    def no_quantising(sam):
        raise AssertionError("quantised again")

    monkeypatch.setattr(int8_encoder, "quantize_encoder", no_quantising)
    monkeypatch.setattr(int8_encoder, "shared_encoders", int8_encoder.shared_encoders.__wrapped__)
    second = workspace()
    # One tile covering the whole image: the same encoder input under a new cache key, so the
    # stored embeddings are not reused and the int8 network runs.
    whole = EmbeddingRequest("hela", precision="int8", tile_shape=image.shape, halo=(0, 0))
    recomputed, _, _ = second.embeddings_for(whole)
    np.testing.assert_allclose(recomputed.features, int8.features, rtol=0, atol=1e-5)


def test_batch_workers_use_the_int8_networks_beside_the_shared_embeddings(monkeypatch, tmp_path, tiny_sam):
    from types import SimpleNamespace

    from sambridge_server.engine.batch import segmenters
    from sambridge_server.engine.batch.worker_models import EngineSettings

    seen = {}

    class FakeEncoders:
        def get(self, sam, model_hash):
            seen["hash"] = model_hash
            return lambda batch: np.full((len(batch), 256, 64, 64), 7, np.float32)

    def shared(directory: Path):
        seen["directory"] = directory
        return FakeEncoders()

    monkeypatch.setattr(int8_encoder, "shared_encoders", shared)
    model = SimpleNamespace(sam=tiny_sam, model_hash="xxh128:abc")
    assert segmenters._encoder(model, EngineSettings(precision="fp32")) is None
    encoder = segmenters._encoder(model, EngineSettings(precision="int8", cache_dir=str(tmp_path / "embeddings")))
    features = encoder(torch.zeros(2, 3, 1024, 1024), "int8")
    assert features.shape == (2, 256, 64, 64) and (features == 7).all()
    assert seen == {"hash": "xxh128:abc", "directory": tmp_path / "int8-encoders"}
