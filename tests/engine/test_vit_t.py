"""micro_sam's vit_t (MobileSAM TinyViT): our loader and engine against micro_sam 1.8.14.

The model is built with ``mobile_sam`` itself (as micro_sam does), given random weights, and
saved in micro_sam's ``{"model_state", "decoder_state"}`` format with an AIS decoder from
micro_sam's ``get_unetr``. micro_sam loads the file with ``get_sam_model``; we load it with
``load_checkpoint``. Embeddings, box and point masks and AIS maps must agree.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

micro_util = pytest.importorskip("micro_sam.util")
pytest.importorskip("mobile_sam")
from micro_sam import prompt_based_segmentation as pbs  # noqa: E402
from micro_sam.instance_segmentation import InstanceSegmentationWithDecoder, get_decoder, get_unetr  # noqa: E402

from sambridge_server.engine.automatic.ais_decoder import build_ais_decoder, predict_ais_maps  # noqa: E402
from sambridge_server.engine.embeddings import compute_embeddings, prepare_tile  # noqa: E402
from sambridge_server.engine.errors import InvalidInput  # noqa: E402
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint  # noqa: E402
from sambridge_server.engine.prompts.decoding import decode  # noqa: E402
from sambridge_server.engine.tinyvit import randomize_tinyvit, set_attention_bias  # noqa: E402


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _mobile_sam_vit_t(seed: int) -> torch.nn.Module:
    """mobile_sam's own vit_t with random weights everywhere (biases and BatchNorms included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mobile_sam import sam_model_registry
    torch.manual_seed(seed)
    sam = sam_model_registry["vit_t"]()
    randomize_tinyvit(sam.image_encoder)
    return sam


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(path, sam state, decoder state): micro_sam format, keys with torch_em's ``sam.`` prefix."""
    sam = _mobile_sam_vit_t(seed=11)
    torch.manual_seed(12)
    unetr = get_unetr(sam.image_encoder, decoder_state=None, device="cpu")
    for name, module in unetr.named_modules():  # random decoder BatchNorms (the encoder's are random already)
        if isinstance(module, torch.nn.BatchNorm2d) and not name.startswith("encoder"):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.2, 0.2)
    decoder_state = OrderedDict((k, v) for k, v in unetr.state_dict().items() if not k.startswith("encoder"))
    model_state = OrderedDict(("sam." + k, v) for k, v in sam.state_dict().items())
    path = tmp_path_factory.mktemp("vit_t") / "vit_t_lm.pt"
    torch.save({"model_state": model_state, "decoder_state": decoder_state}, path)
    return path, sam.state_dict(), decoder_state


@pytest.fixture(scope="module")
def ours(checkpoint, hela_crop):
    """Our model (loaded, model type inferred) and its fp32 embeddings of the crop."""
    model = load_checkpoint(checkpoint[0])
    model.sam.train().eval()  # eval() after loading fills TinyViT's bias cache with the learned biases
    return model, compute_embeddings(model, hela_crop)


@pytest.fixture(scope="module")
def theirs(checkpoint, hela_crop):
    """micro_sam's predictor from get_sam_model, its checkpoint state and its embeddings."""
    predictor, state = micro_util.get_sam_model(
        model_type="vit_t", checkpoint_path=checkpoint[0], device="cpu", return_state=True
    )
    return predictor, state, micro_util.precompute_image_embeddings(predictor, hela_crop, verbose=False)


def test_loader_reads_micro_sam_and_meta_vit_t(checkpoint, ours, tmp_path):
    path, sam_state, _ = checkpoint
    model, _ = ours
    assert (model.model_type, model.config) == ("vit_t", PRESETS["vit_t"])
    assert model.decoder_state is not None and not model.sam.training
    loaded = model.sam.state_dict()
    assert set(loaded) == set(sam_state)
    assert all(torch.equal(loaded[key], value) for key, value in sam_state.items())
    assert load_checkpoint(path, model_type="vit_t_lm").model_type == "vit_t"
    with pytest.raises(InvalidInput, match="does not match"):
        load_checkpoint(path, model_type="vit_b")
    meta = tmp_path / "mobile_sam.pt"  # MobileSAM's own release format: a plain state dict
    torch.save(sam_state, meta)
    assert load_checkpoint(meta).config == PRESETS["vit_t"]
    vit = tmp_path / "vit.pt"
    torch.save(build_sam(PRESETS["vit_tiny"]).state_dict(), vit)
    with pytest.raises(InvalidInput, match="does not match"):
        load_checkpoint(vit, model_type="vit_t")


def test_embeddings_equal_micro_sams(ours, theirs, hela_crop):
    _, embeddings = ours
    reference = np.asarray(theirs[2]["features"])
    assert embeddings.features.shape == reference.shape == (1, 256, 64, 64)
    np.testing.assert_allclose(embeddings.features, reference, atol=1e-5, rtol=1e-5)
    assert embeddings.input_sizes[0] == tuple(theirs[2]["input_size"])


def test_box_masks_match_micro_sam(ours, theirs, hela_objects):
    model, embeddings = ours
    predictor, _, reference = theirs
    boxes, _ = hela_objects
    ious, areas = [], []
    for x0, y0, x1, y1 in boxes[:10]:
        expected = pbs.segment_from_box(predictor, np.array([y0, x0, y1, x1]), reference).squeeze()
        result = decode(model, embeddings, box=np.array([x0, y0, x1, y1]))
        ious.append(_iou(result.masks[0], expected))
        areas.append(int(expected.sum()))
    assert len(ious) == 10 and min(ious) >= 0.99, ious
    assert all(0 < a < expected.size for a in areas) and len(set(areas)) > 1, areas  # masks are not trivial


def test_point_masks_match_micro_sam(ours, theirs, hela_objects):
    model, embeddings = ours
    predictor, _, reference = theirs
    _, points = hela_objects
    ious = []
    for x, y in points[:10]:
        expected = pbs.segment_from_points(predictor, np.array([[y, x]]), np.array([1]), reference).squeeze()
        result = decode(model, embeddings, points=np.array([[x, y]]))
        ious.append(_iou(result.masks[0], expected))
    assert len(ious) == 10 and min(ious) >= 0.99, ious


def test_ais_decoder_maps_equal_micro_sams(ours, theirs, checkpoint, hela_crop):
    model, embeddings = ours
    predictor, state, reference = theirs
    decoder = build_ais_decoder(model.decoder_state)
    assert set(decoder.state_dict()) == set(checkpoint[2])
    segmenter = InstanceSegmentationWithDecoder(predictor, get_decoder(predictor.model.image_encoder, state["decoder_state"], device="cpu"))
    segmenter.initialize(hela_crop, image_embeddings=reference)
    expected = segmenter.get_state()
    maps = predict_ais_maps(decoder, embeddings.tile_features(0), embeddings.input_sizes[0], embeddings.original_sizes[0])
    for got, name in zip(maps, ("foreground", "center_distances", "boundary_distances")):
        assert got.shape == hela_crop.shape
        np.testing.assert_allclose(got, expected[name], atol=1e-5, rtol=1e-4)
    assert np.ptp(maps[0]) > 1e-3


def test_learned_attention_biases_equal_mobile_sam_after_eval(checkpoint, ours, hela_crop):
    """micro_sam 1.8.14 ignores the learned biases (see tinyvit.py); "learned" is MobileSAM's usage."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mobile_sam import sam_model_registry
    mobile_sam = sam_model_registry["vit_t"]()
    mobile_sam.load_state_dict(checkpoint[1])
    mobile_sam.eval()  # after loading, as MobileSAM's README does (micro_sam does not)
    model, embeddings = ours
    batch, _ = prepare_tile(model.sam, hela_crop)
    with torch.inference_mode():
        expected = mobile_sam.image_encoder(batch).numpy()
        set_attention_bias(model.sam.image_encoder, "learned")
        try:
            learned = model.sam.image_encoder(batch).numpy()
        finally:
            set_attention_bias(model.sam.image_encoder, "micro_sam")
    np.testing.assert_allclose(learned, expected, atol=1e-5, rtol=1e-5)
    # ``ours`` called eval() after loading, yet its embeddings equal micro_sam's: the mode outlives eval().
    assert np.abs(learned - embeddings.features).max() > 1e-2  # the biases matter with these weights


def test_bf16_embeddings_are_close_to_fp32(ours, hela_crop):
    model, fp32 = ours
    bf16 = compute_embeddings(model, hela_crop, precision="bf16").features
    error = np.linalg.norm(bf16 - fp32.features) / np.linalg.norm(fp32.features)
    assert 0 < error < 0.05, error


def test_training_refuses_vit_t(ours, tmp_path):
    from sambridge_server.engine.automatic.ais_decoder import AISDecoder
    from sambridge_server.engine.training.config import TrainConfig
    from sambridge_server.engine.training.trainer import train

    with pytest.raises(InvalidInput, match="vit_t"):
        train(ours[0].sam, AISDecoder(), [np.zeros((8, 8))], [], TrainConfig(), tmp_path)
    assert not any(tmp_path.iterdir())  # refused before writing anything
