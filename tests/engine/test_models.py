"""Model presets, config inference, checkpoint formats and the registry."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from segment_anything import sam_model_registry

from sambridge_server.engine.embeddings import ImageEmbeddings
from sambridge_server.engine.errors import InvalidInput, NotFound
from sambridge_server.engine.models import (
    PRESETS,
    build_sam,
    file_hash,
    infer_config,
    load_checkpoint,
    save_checkpoint,
)
from sambridge_server.engine.model_registry import ModelRegistry
from sambridge_server.engine.prompts.decoding import decode
from sambridge_server.engine.tiling import make_grid


def _shapes(module: torch.nn.Module) -> dict[str, tuple]:
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


@pytest.mark.parametrize("model_type", ["vit_b", "vit_l", "vit_h"])
def test_presets_build_segment_anythings_architecture(model_type):
    with torch.device("meta"):  # shapes only, no memory or init cost
        ours = build_sam(PRESETS[model_type])
        reference = sam_model_registry[model_type]()
    assert _shapes(ours) == _shapes(reference)
    assert infer_config(ours.state_dict()) == PRESETS[model_type]


def test_infer_config_of_tiny_and_custom_configs():
    assert infer_config(build_sam(PRESETS["vit_tiny"]).state_dict()) == PRESETS["vit_tiny"]
    custom = PRESETS["vit_tiny"].__class__(96, 3, 3, (0, 2), window_size=8)
    with torch.device("meta"):
        assert infer_config(build_sam(custom).state_dict()) == custom


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    state_b = b.state_dict()
    for key, value in a.state_dict().items():
        assert torch.equal(value, state_b[key]), key


@pytest.mark.parametrize("fmt, prefix", [("meta", False), ("micro_sam", False), ("micro_sam", True)])
def test_checkpoint_round_trip(tmp_path, tiny_sam, fmt, prefix):
    decoder_state = {"w": torch.arange(3.0)} if fmt == "micro_sam" else None
    path = save_checkpoint(tiny_sam, tmp_path / "model.pt", decoder_state, fmt=fmt, sam_prefix=prefix)
    loaded = load_checkpoint(path, model_type="vit_tiny", name="tiny")
    assert (loaded.name, loaded.model_type, loaded.config) == ("tiny", "vit_tiny", PRESETS["vit_tiny"])
    _assert_same_weights(loaded.sam, tiny_sam)
    assert not loaded.sam.training
    from micro_sam.util import _compute_hash

    assert loaded.model_hash == _compute_hash(path) == file_hash(path)
    if decoder_state is None:
        assert loaded.decoder_state is None
    else:
        assert torch.equal(loaded.decoder_state["w"], decoder_state["w"])


def test_load_errors(tmp_path, tiny_sam):
    path = save_checkpoint(tiny_sam, tmp_path / "tiny.pth")
    with pytest.raises(InvalidInput, match="does not match"):
        load_checkpoint(path, model_type="vit_b_lm")
    with pytest.raises(InvalidInput, match="unknown model_type"):
        load_checkpoint(path, model_type="resnet")
    with pytest.raises(NotFound, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(InvalidInput, match="not a readable PyTorch"):
        load_checkpoint(tmp_path / "garbage.pth")
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InvalidInput, match="not a readable"):
        load_checkpoint(truncated)
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(InvalidInput, match="not a SAM checkpoint"):
        load_checkpoint(tmp_path / "other.pth")
    torch.save({"image_encoder.layers.0.weight": torch.zeros(3)}, tmp_path / "mobile.pth")
    with pytest.raises(InvalidInput, match="does not fit a SAM vit_t"):  # TinyViT keys, wrong weights
        load_checkpoint(tmp_path / "mobile.pth")
    state = tiny_sam.state_dict()
    state.pop("mask_decoder.iou_token.weight")
    torch.save(state, tmp_path / "incomplete.pth")
    with pytest.raises(InvalidInput, match="does not fit"):
        load_checkpoint(tmp_path / "incomplete.pth")


class _NotAWeight:
    """A class a weights_only load must refuse to construct."""


def test_loader_never_unpickles_arbitrary_objects(tmp_path):
    torch.save({"model_state": {}, "payload": _NotAWeight()}, tmp_path / "evil.pth")
    with pytest.raises(InvalidInput, match="not a readable"):
        load_checkpoint(tmp_path / "evil.pth")


def test_meta_vit_b_checkpoint_matches_micro_sam_loader(tmp_path):
    from micro_sam.util import get_sam_model

    path = save_checkpoint(build_sam(PRESETS["vit_b"], seed=1), tmp_path / "sam_vit_b_random.pth")
    ours = load_checkpoint(path, model_type="vit_b")
    predictor = get_sam_model(model_type="vit_b", checkpoint_path=path, device="cpu")
    assert ours.model_type == "vit_b" and ours.config == PRESETS["vit_b"]
    assert ours.model_hash == predictor._hash
    _assert_same_weights(ours.sam, predictor.model)
    # Decode on shared precomputed features (a full vit_b embedding is too slow for a test).
    features = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(0))
    predictor.features, predictor.original_size, predictor.input_size = features, (600, 800), (768, 1024)
    predictor.is_image_set = True
    expected, expected_scores, _ = predictor.predict(box=np.array([100, 120, 300, 260]), multimask_output=False)
    embeddings = ImageEmbeddings(features.numpy(), ((768, 1024),), ((600, 800),), make_grid((600, 800)))
    result = decode(ours, embeddings, box=(100, 120, 300, 260))
    np.testing.assert_array_equal(result.masks, expected)
    np.testing.assert_allclose(result.scores, expected_scores, rtol=1e-5, atol=1e-6)


def _fake_model(name: str):
    from sambridge_server.engine.models import LoadedModel

    return LoadedModel(name, "vit_tiny", PRESETS["vit_tiny"], None, None, f"xxh128:{name}")


def test_registry_default_get_list_and_errors():
    registry = ModelRegistry()
    with pytest.raises(NotFound, match="known models: none"):
        registry.get()
    registry.add(_fake_model("a"))
    registry.add(_fake_model("b"))
    assert registry.default_name == "a" and registry.get().name == "a"
    registry.add(_fake_model("c"), default=True)
    assert registry.get().name == "c" and registry.get("b").name == "b"
    assert [model.name for model in registry.list()] == ["a", "b", "c"]
    with pytest.raises(NotFound, match="unknown model 'zzz'; known models: a, b, c"):
        registry.get("zzz")


def test_registry_is_thread_safe():
    registry = ModelRegistry()
    threads = [threading.Thread(target=lambda i=i: registry.add(_fake_model(f"m{i}"))) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registry.list()) == 32
