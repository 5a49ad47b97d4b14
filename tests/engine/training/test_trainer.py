"""Finetuning engine: loss goes down, checkpoints are micro_sam-shaped, resume and cancel work."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sambridge_server.engine.automatic.ais_decoder import AISDecoder, build_ais_decoder
from sambridge_server.engine.errors import Cancelled, InvalidInput
from sambridge_server.engine.models import PRESETS, build_sam, load_checkpoint
from sambridge_server.engine.training.config import STATE_NAME, make_config
from sambridge_server.engine.training.objective import ais_loss, prompt_loss
from sambridge_server.engine.training.patch_encoding import encode_patch
from sambridge_server.engine.training.trainer import train
from sambridge_server.engine.training.data import (
    distance_targets,
    flip_valid,
    random_patch,
    synthetic_nuclei,
    to_sam_space,
    to_sam_tiles,
)
from sambridge_server.engine.training.lora import merged_state_dict

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
    from sambridge_server.engine.training.frozen import encode_image

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


def test_joint_training_can_validate_box_prompts_on_fresh_embeddings(images, tmp_path, monkeypatch):
    """validate_boxes: whole-image box + AIS validation while the encoder trains, re-encoded every time."""
    from sambridge_server.engine.training import frozen as training_frozen

    validated = []
    real_validate = training_frozen.validate_box_prompts

    def spy(sam, frozen):
        validated.append(frozen.embeddings(0).clone())
        return real_validate(sam, frozen)

    monkeypatch.setattr("sambridge_server.engine.training.validation.validate_box_prompts", spy)
    sam, decoder = _model()
    config = make_config("cpu", epochs=2, validate_boxes=True, train_decoder=False, **TINY)  # no AIS: fast
    result = train(sam, decoder, images[:1], images[1:], config, tmp_path)
    assert result.best_val_msa is not None and len(validated) == 2
    assert not torch.allclose(validated[0], validated[1])  # the second validation saw the trained encoder


def test_resume_drops_curve_rows_logged_after_the_checkpoint(tmp_path):
    from sambridge_server.engine.training.curves import append_row, read_rows, truncate_rows

    path = tmp_path / "curves.csv"
    for step in range(1, 6):
        append_row(path, {"step": step, "loss": 0.5})
    with open(path, "a") as handle:
        handle.write("6,0.")  # torn by a kill
    truncate_rows(path, 3)
    assert [row["step"] for row in read_rows(path)] == ["1", "2", "3"]


def test_correction_points_follow_micro_sams_rules():
    """Positive points fall on missed object pixels, negative ones on false positives, else on
    the object's box periphery; the sampled pixels are spread over the whole region."""
    from sambridge_server.engine.training.objective import _correction_points

    target = torch.zeros(2, 40, 50, dtype=torch.bool)
    target[0, 5:15, 5:25] = True
    target[1, 20:30, 30:40] = True
    pred = target.clone()
    pred[0, 5:15, 15:25] = False  # object 0: right half missed, no false positive
    pred[1, 0:3, 0:3] = True  # object 1: nothing missed, a false-positive corner
    rng = np.random.default_rng(0)
    seen_x = set()
    for _ in range(50):
        coords, labels = _correction_points(pred, target, rng)
        assert labels.tolist() == [[1.0, 0.0], [1.0, 0.0]]
        (py, px), (ny, nx) = coords[0].tolist()
        assert target[0, py, px] and not pred[0, py, px]  # a false negative
        assert 2 <= ny < 18 and 2 <= nx < 28 and not target[0, ny, nx]  # periphery (margin 3)
        (py, px), (ny, nx) = coords[1].tolist()
        assert target[1, py, px] and pred[1, py, px]  # no false negative: a correct pixel
        assert ny < 3 and nx < 3  # the false positive
        seen_x.add(coords[0, 0, 1].item())
    assert len(seen_x) >= 8  # uniform over the 10 missed columns, not a fixed pixel


def test_patches_are_drawn_where_the_objects_are():
    """Like micro_sam's MinInstanceSampler: an image whose objects sit in one corner still
    yields patches holding objects."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512]
    labels = np.zeros((512, 512), dtype=np.uint32)
    for index, (cy, cx) in enumerate([(20, 20), (20, 60), (60, 40)], start=1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 < 100] = index  # three nuclei in the top-left corner
    image = np.where(labels > 0, 200.0, 10.0) + rng.normal(0, 1, labels.shape)
    sample = to_sam_space(image, labels)
    patches = [random_patch(sample, 256, rng) for _ in range(20)]
    holding = sum(np.unique(p.labels[p.labels > 0]).size >= 1 for p in patches)
    assert holding >= 18  # uniform offsets: about 1 in 20 (the objects span ~8 of 49 offsets per axis)


def test_whole_image_patches_encode_as_served():
    """A patch covering the whole SAM-space image (joint training at full size) gets the serving
    path's embeddings: padding is zeroed after normalising and stays bottom/right under flips."""
    from sambridge_server.engine.embeddings import compute_embeddings

    sam, _ = _model()
    image, labels = synthetic_nuclei((40, 64), 4, np.random.default_rng(1), radius=(6.0, 10.0))
    sample = to_sam_space(image, labels)
    size = sample.rgb.shape[0]
    height, width = sample.input_size
    assert height < size  # the image has padding
    flips_seen = set()
    for seed in range(6):  # covers flipped and unflipped draws
        patch = random_patch(sample, size, np.random.default_rng(seed))
        assert patch.offset == (0, 0) and patch.valid == (height, width)
        assert not patch.labels[height:].any() and not patch.rgb[height:].any()
        flip = next(f for f in itertools.product((False, True), repeat=2)
                    if np.array_equal(patch.rgb, flip_valid(sample.rgb, sample.input_size, f)))
        flips_seen.add(flip)
        original = image[::-1] if flip[0] else image
        original = original[:, ::-1] if flip[1] else original
        served = compute_embeddings(sam, np.ascontiguousarray(original), precision="fp32")
        with torch.no_grad():
            ours = encode_patch(sam, patch.rgb, patch.offset, patch.valid)
        np.testing.assert_allclose(ours.numpy(), np.asarray(served.features, dtype=np.float32), atol=1e-4, rtol=1e-4)
    assert len(flips_seen) >= 3



def test_tiles_train_on_the_embeddings_that_tiled_serving_computes(hela_crop, hela_seg):
    """A model with a native tiling trains on each served tile: its frozen-encoder embeddings
    equal the tiled serving path's tile by tile; tiles without objects are left out."""
    from sambridge_server.engine.embeddings import compute_embeddings
    from sambridge_server.engine.tiling import NativeTiling
    from sambridge_server.engine.training.frozen import encode_image

    from ..conftest import CROP

    sam, _ = _model()
    labels = np.zeros(hela_crop.shape, dtype=np.int32)
    labels[:, 200:] = hela_seg[0][CROP][:, 200:]  # the left tiles hold no object
    tiles = to_sam_tiles(hela_crop, labels, NativeTiling((128, 128), (32, 32)), name="crop")
    served = compute_embeddings(sam, hela_crop, (128, 128), (32, 32), precision="fp32")
    indices = [int(t.name.rsplit("_tile", 1)[1]) for t in tiles]
    kept = [tile.index for tile in served.grid.tiles if labels[tile.outer_slices()].any()]
    assert indices == kept and 0 < len(kept) < served.n_tiles
    for index, sample in zip(indices, tiles):
        assert sample.input_size == served.input_sizes[index]
        np.testing.assert_allclose(encode_image(sam, sample).numpy(), served.tile_features(index), atol=1e-4, rtol=1e-4)
    assert len(to_sam_tiles(hela_crop, labels, None)) == 1
