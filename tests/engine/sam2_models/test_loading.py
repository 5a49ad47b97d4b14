"""Loading Meta's SAM2.1 checkpoints: both loaders agree, the type is inferred, bad files get clear errors."""

from __future__ import annotations

import pytest
import torch

from sambridge_server.engine.errors import InvalidInput, NotFound
from sambridge_server.engine.sam2_models import MODEL_TYPES, infer_model_type, load_sam2_checkpoint
from sambridge_server.engine.sam2_models.architectures import ARCHITECTURES, PATCH_EMBED_KEY
from sambridge_server.engine.sam2_models.loading import load_state_into


def test_our_loader_and_sam2s_agree(ours, reference_model):
    assert ours.model_type == "sam2.1_hiera_t" and ours.family == "sam2"
    assert ours.model_hash.startswith("xxh128:")
    mine, theirs = ours.model.state_dict(), reference_model.state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[key], theirs[key]) for key in mine)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_type_inferred_from_trunk(model_type):
    arch = ARCHITECTURES[model_type]
    state = {PATCH_EMBED_KEY: torch.zeros(arch.embed_dim, 3, 7, 7)}
    state.update({f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(arch.n_blocks)})
    assert infer_model_type(state) == model_type


def test_given_type_must_match_the_weights(checkpoint):
    with pytest.raises(InvalidInput, match="does not match.*sam2.1_hiera_t"):
        load_sam2_checkpoint(checkpoint, model_type="sam2.1_hiera_s")
    with pytest.raises(InvalidInput, match="unknown SAM2 model_type"):
        load_sam2_checkpoint(checkpoint, model_type="vit_b")
    assert load_sam2_checkpoint(checkpoint, model_type="sam2.1_hiera_t", name="tiny").name == "tiny"


def test_weights_that_do_not_fit_are_refused(ours):
    state = dict(ours.model.state_dict())
    key = "memory_encoder.fuser.layers.0.dwconv.weight"
    weight = state.pop(key)
    with pytest.raises(InvalidInput, match=f"does not fit a sam2.1_hiera_t: 1 missing keys.*{key}"):
        load_state_into(ours.model, state, "sam2.1_hiera_t", "checkpoint 'x'")
    state[key] = torch.zeros(3)
    with pytest.raises(InvalidInput, match="other shapes"):
        load_state_into(ours.model, state, "sam2.1_hiera_t", "checkpoint 'x'")
    state[key] = weight
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(InvalidInput, match="unexpected keys.*extra.weight"):
        load_state_into(ours.model, state, "sam2.1_hiera_t", "checkpoint 'x'")


def test_a_damaged_file_names_what_is_missing(checkpoint, tmp_path):
    state = torch.load(checkpoint, weights_only=True)["model"]
    del state["sam_mask_decoder.conv_s0.weight"]
    damaged = tmp_path / "damaged.pt"
    torch.save({"model": state}, damaged)
    with pytest.raises(InvalidInput, match="damaged.pt.*missing keys.*conv_s0"):
        load_sam2_checkpoint(damaged)


def test_other_files_are_refused(tmp_path):
    sam1 = tmp_path / "sam1.pt"
    torch.save({"image_encoder.patch_embed.proj.weight": torch.zeros(8, 3, 16, 16)}, sam1)
    with pytest.raises(InvalidInput, match="not a SAM2 checkpoint"):
        load_sam2_checkpoint(sam1)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidInput, match="not a readable PyTorch"):
        load_sam2_checkpoint(garbage)
    with pytest.raises(NotFound):
        load_sam2_checkpoint(tmp_path / "absent.pt")
