"""Finetuning engine: loss goes down, checkpoints are micro_sam-shaped, resume and cancel work."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sambridge_server.engine.ais_decoder import AISDecoder, build_ais_decoder
from sambridge_server.engine.errors import Cancelled, InvalidInput
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint
from sambridge_server.engine.training import (
    STATE_NAME,
    ais_loss,
    encode_patch,
    make_config,
    prompt_loss,
    train,
)
from sambridge_server.engine.training_data import (
    distance_targets,
    random_patch,
    synthetic_nuclei,
    to_sam_space,
)
from sambridge_server.engine.training_lora import merged_state_dict

TINY = dict(patch_size=64, ais_patch_size=64, n_objects_per_batch=2, n_sub_iterations=2,
            steps_per_epoch=2, validation_patches=1, lr=1e-3)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster single-threaded, and much faster on a busy shared CPU (no spin-waits)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images() -> list:
    """Two synthetic 64x64 nuclei images in SAM space (upscaled x16: objects span many tokens)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(2):
        image, labels = synthetic_nuclei((64, 64), 4, rng, radius=(6.0, 10.0))
        out.append(to_sam_space(image, labels, name=str(i)))
    return out


def _model(seed: int = 0):
    sam = build_sam(PRESETS["vit_tiny"], seed=seed)
    torch.manual_seed(seed)
    return sam, AISDecoder()


def test_distance_targets_follow_torch_em_definition():
    labels = np.zeros((40, 40), dtype=np.int32)
    labels[5:16, 5:16] = 1
    labels[20:35, 22:30] = 7
    targets = distance_targets(labels)
    assert targets.shape == (3, 40, 40)
    np.testing.assert_array_equal(targets[0], labels > 0)
    assert targets[1, 10, 10] == 0 and targets[2, 10, 10] == 0  # both distances vanish at the center
    assert targets[1][labels > 0].max() == pytest.approx(1.0, abs=1e-4)  # normalised per object
    assert (targets[1:, labels == 0] == 1).all()  # fill value outside objects


def test_a_few_steps_reduce_the_loss(images):
    sam, decoder = _model()
    config = make_config("cpu", **TINY)
    patch = random_patch(images[0], config.patch_size, np.random.default_rng(3), augment=False)
    params = list(sam.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-3)

    def loss() -> torch.Tensor:
        embeddings = encode_patch(sam, patch.rgb, patch.offset)
        rng = np.random.default_rng(1)  # same prompts every time: a fixed batch
        dice, iou = prompt_loss(sam, embeddings, patch, rng, config)
        return dice + iou + ais_loss(decoder, embeddings, patch, config.ais_patch_size, rng)

    first = loss()
    for _ in range(6):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    with torch.no_grad():
        last = loss()
    assert last.item() < first.item() - 0.05


def test_checkpoint_is_micro_sam_format_and_resume_continues(images, tmp_path):
    sam, decoder = _model()
    config = make_config("cpu", epochs=1, **TINY)
    result = train(sam, decoder, images[:1], images[1:], config, tmp_path)
    assert result.step == 2 and result.epoch == 1
    raw = torch.load(tmp_path / "last.pt", weights_only=True)
    assert set(raw) == {"model_state", "decoder_state"}
    assert not any(key.startswith("sam.") for key in raw["model_state"])
    loaded = load_checkpoint(tmp_path / "best.pt")
    assert loaded.model_type == "vit_tiny" and loaded.decoder_state is not None
    build_ais_decoder(loaded.decoder_state)  # strict: exactly the UNETR decoder layout
    for key, value in loaded.sam.state_dict().items():
        torch.testing.assert_close(value, sam.state_dict()[key])
    assert (tmp_path / STATE_NAME).exists() and (tmp_path / "curves.csv").exists()

    # A new process would start from fresh weights: resume restores them and the step count.
    sam2, decoder2 = _model(seed=5)
    resumed = train(sam2, decoder2, images[:1], images[1:], make_config("cpu", epochs=2, **TINY), tmp_path)
    assert resumed.step == 4 and resumed.epoch == 2


def test_cancel_stops_training(images, tmp_path):
    sam, decoder = _model()
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        train(sam, decoder, images, [], make_config("cpu", epochs=50, **TINY), tmp_path, cancelled=cancelled)
    assert len(calls) == 2


def test_lora_trains_adapters_and_exports_plain_sam_keys(images, tmp_path):
    sam, decoder = _model()
    plain_keys = set(sam.state_dict())
    before = sam.image_encoder.blocks[0].attn.qkv.weight.detach().clone()
    config = make_config("cpu", epochs=1, lora_rank=2, **TINY)
    train(sam, decoder, images, [], config, tmp_path)
    merged = merged_state_dict(sam)
    assert set(merged) == plain_keys
    torch.testing.assert_close(sam.image_encoder.blocks[0].attn.qkv.base.weight, before)  # frozen base
    assert not torch.equal(merged["image_encoder.blocks.0.attn.qkv.weight"], before)  # update merged in
    load_checkpoint(tmp_path / "best.pt")


def test_bad_inputs_are_rejected():
    with pytest.raises(InvalidInput, match="shape"):
        to_sam_space(np.zeros((32, 32)), np.ones((16, 32), dtype=np.int32))
    with pytest.raises(InvalidInput, match="no objects"):
        to_sam_space(np.zeros((32, 32)), np.zeros((32, 32), dtype=np.int32))
    with pytest.raises(InvalidInput, match="preset"):
        make_config("tpu")
    with pytest.raises(InvalidInput, match="multiples"):
        make_config("cpu", patch_size=100)


def test_frozen_encoder_trains_only_the_prompt_path_on_serving_embeddings(images, tmp_path):
    from sambridge_server.engine.embeddings import compute_embeddings
    from sambridge_server.engine.training_frozen import encode_image

    sam, decoder = _model()
    encoder_before = {k: v.clone() for k, v in sam.image_encoder.state_dict().items()}
    decoder_before = {k: v.clone() for k, v in decoder.state_dict().items()}
    mask_before = sam.mask_decoder.output_upscaling[0].weight.detach().clone()
    # 256-px patches: every patch holds part of an object (64-px ones may all miss the nuclei).
    config = make_config("cpu", epochs=1, freeze_encoder=True, train_decoder=False, **dict(TINY, patch_size=256))
    assert config.freeze_encoder and not config.train_decoder  # False is a value, not "unset"
    result = train(sam, decoder, images[:1], images[1:], config, tmp_path)
    assert result.best_val_msa is not None  # box-prompt validation on whole-image embeddings
    for key, value in sam.image_encoder.state_dict().items():
        torch.testing.assert_close(value, encoder_before[key])
    for key, value in decoder.state_dict().items():
        torch.testing.assert_close(value, decoder_before[key])
    assert not torch.equal(sam.mask_decoder.output_upscaling[0].weight, mask_before)

    # The cached training embeddings are the serving path's embeddings of the same image.
    sample = images[0]
    height, width = sample.input_size
    served = compute_embeddings(sam, sample.rgb[:height, :width], precision="fp32")
    np.testing.assert_allclose(encode_image(sam, sample).numpy(), np.asarray(served.features, dtype=np.float32), atol=1e-4, rtol=1e-4)


def test_resume_drops_curve_rows_logged_after_the_checkpoint(tmp_path):
    from sambridge_server.engine.training_curves import append_row, read_rows, truncate_rows

    path = tmp_path / "curves.csv"
    for step in range(1, 6):
        append_row(path, {"step": step, "loss": 0.5})
    with open(path, "a") as handle:
        handle.write("6,0.")  # torn by a kill
    truncate_rows(path, 3)
    assert [row["step"] for row in read_rows(path)] == ["1", "2", "3"]
