"""Model families: capabilities per model, FAILED_PRECONDITION naming the model, loading either family."""

from __future__ import annotations

import pytest

from sambridge_server.engine.errors import FailedPrecondition, InvalidInput
from sambridge_server.engine.model_families import (
    AIS, MEMORY_PROPAGATION, PROMPT_PROPAGATION, capabilities_of, checkpoint_family, load_any_checkpoint,
    require_capability)
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint

pytest.importorskip("sam2", reason="the sam2 package is not installed")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from sambridge_server.engine.sam2_models import build_sam2_model, save_sam2_checkpoint

    folder = tmp_path_factory.mktemp("families")
    sam1 = save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=0), folder / "tiny_sam.pt")
    sam2 = save_sam2_checkpoint(build_sam2_model("sam2.1_hiera_t", seed=0), folder / "sam2.1_hiera_tiny.pt")
    return sam1, sam2


def test_either_family_loads_and_reports_what_it_can_do(checkpoints):
    sam1_path, sam2_path = checkpoints
    assert checkpoint_family(sam1_path) == "sam" and checkpoint_family(sam2_path) == "sam2"
    sam1 = load_any_checkpoint(sam1_path, name="tiny")
    sam2 = load_any_checkpoint(sam2_path)
    assert sam1.model_type == "vit_tiny" and sam2.model_type == "sam2.1_hiera_t"
    assert capabilities_of(sam1) == ("prompts", "amg", PROMPT_PROPAGATION)
    assert capabilities_of(sam2) == ("prompts", "amg", MEMORY_PROPAGATION)
    with pytest.raises(FailedPrecondition, match=r"model 'tiny' \(vit_tiny\).*memory propagation.*SAM2"):
        require_capability(sam1, MEMORY_PROPAGATION)
    with pytest.raises(FailedPrecondition, match=r"model 'sam2.1_hiera_tiny' \(sam2.1_hiera_t\).*AIS"):
        require_capability(sam2, AIS)
    require_capability(sam2, MEMORY_PROPAGATION)


def test_wrong_family_type_is_refused(checkpoints):
    sam1_path, sam2_path = checkpoints
    with pytest.raises(InvalidInput, match="not a SAM2 checkpoint"):
        load_any_checkpoint(sam1_path, model_type="sam2.1_hiera_t")
    with pytest.raises(InvalidInput, match="SAM2 models have no AIS decoder"):
        load_any_checkpoint(sam2_path, decoder_path=sam1_path)
