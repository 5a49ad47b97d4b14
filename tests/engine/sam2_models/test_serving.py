"""A SAM2 model served through the Workspace: loaded by path next to a SAM1 model, its features in
the shared cache, prompts, many objects and AMG on them, memory propagation through a stack, and
FAILED_PRECONDITION naming the model for what it cannot do (and for SAM1 models asked for memory)."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.errors import FailedPrecondition
from sambridge_server.engine.models import PRESETS, build_sam, save_checkpoint
from sambridge_server.engine.sam2_models import Sam2Prompt, SlicePrompt, decode_prompts
from sambridge_server.engine.volume.source import PropagationOptions
from sambridge_server.engine.requests import EmbeddingRequest
from sambridge_server.engine.workspace import Workspace


@pytest.fixture(scope="module")
def workspace(checkpoint, tmp_path_factory, hela_frames):
    sam1 = save_checkpoint(build_sam(PRESETS["vit_tiny"], seed=0), tmp_path_factory.mktemp("sam1") / "tiny.pt")
    config = ServerConfig(models=[ModelSource(path=str(sam1), name="tiny"),
                                  ModelSource(path=str(checkpoint), name="hiera")],
                          precision="fp32", device="cpu")
    workspace = Workspace(config)
    workspace.images.put("frame", hela_frames[0], "yx")
    workspace.images.put("movie", hela_frames[:2], "zyx")
    workspace.images.put("series", hela_frames[:2], "tyx")
    return workspace


def test_prompts_and_many_objects_equal_the_engine(workspace, ours, features, hela_frames, hela_nuclei):
    request = EmbeddingRequest("frame", model="hiera")
    boxes = np.array([box for _, box, _ in hela_nuclei[:3]])
    direct = decode_prompts(ours, features("hela0", hela_frames[0]), [Sam2Prompt(box=box) for box in boxes])
    one = workspace.segment(request, box=boxes[0])
    np.testing.assert_array_equal(one.masks, direct.masks[0])
    labels, objects, missed = workspace.segment_objects(request, boxes=boxes)
    assert labels.dtype == np.uint32 and missed == 0 and len(objects) == len(set(np.unique(labels)) - {0})
    handle = workspace.segment(request, box=boxes[0], object_id="obj-1")  # the first call of a handle: the box
    np.testing.assert_array_equal(handle.masks, direct.masks[0])


def test_amg_and_ais(workspace):
    request = EmbeddingRequest("frame", model="hiera")
    result = workspace.auto_segment(request, method="amg", amg_params={
        "points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0})
    assert result.method == "amg" and result.labels.max() >= 1
    with pytest.raises(FailedPrecondition, match="model 'hiera' \\(sam2.1_hiera_t\\) has no AIS decoder"):
        workspace.auto_segment(request, method="ais")


def test_memory_propagation_and_the_wrong_family(workspace, hela_nuclei):
    _, box, _ = hela_nuclei[1]
    labels = workspace.volume.propagate_memory(EmbeddingRequest("movie", model="hiera"), [SlicePrompt(0, 5, box=box)])
    assert labels.shape == (2, 256, 320) and set(np.unique(labels)) <= {0, 5} and (labels[1] == 5).any()
    with pytest.raises(FailedPrecondition, match="model 'tiny' \\(vit_tiny\\).*memory propagation"):
        workspace.volume.propagate_memory(EmbeddingRequest("movie", model="tiny"), [SlicePrompt(0, 5, box=box)])
    with pytest.raises(FailedPrecondition, match="model 'hiera'.*prompt propagation"):
        workspace.volume.propagate(EmbeddingRequest("movie", model="hiera"), [], PropagationOptions(method="prompts"))
    with pytest.raises(FailedPrecondition, match="model 'tiny'.*memory propagation"):
        workspace.volume.propagate(EmbeddingRequest("movie", model="tiny"), [], PropagationOptions(method="memory"))


def test_interactive_tracking_defaults_to_memory_for_sam2(workspace, hela_nuclei):
    from sambridge_server.engine.tracking.interactive import FollowOptions, ObjectAnnotation

    _, box, _ = hela_nuclei[1]
    start = ObjectAnnotation(t=0, box=box)
    outcome = workspace.tracking.follow(EmbeddingRequest("series", model="hiera"), start, [], FollowOptions())
    assert outcome.labels.shape == (2, 256, 320) and outcome.status == "interactive (SAM2 memory)"
    assert outcome.tracks[0].tolist()[:2] == [1, 0]
    with pytest.raises(FailedPrecondition, match="model 'tiny'.*memory propagation"):
        workspace.tracking.follow(EmbeddingRequest("series", model="tiny"), start, [], FollowOptions(method="memory"))


def test_volume_calls_default_to_memory_for_sam2(workspace, hela_nuclei):
    """PropagateObjects' engine entry: every object of slice 0's labels, tracked in one pass."""
    slice0 = np.zeros((256, 320), np.uint32)
    for label, (mask, _, _) in zip((3, 9), hela_nuclei[:2]):
        slice0[mask] = label
    outcome = workspace.volume.propagate_labels(EmbeddingRequest("movie", model="hiera"), 0, slice0, PropagationOptions())
    assert outcome.labels.shape == (2, 256, 320) and set(np.unique(outcome.labels)) <= {0, 3, 9}
    assert {o.label for o in outcome.objects} <= {3, 9} and (outcome.z_begin, outcome.z_end) == (0, 2)


def test_finetuning_a_sam2_model_is_refused(workspace):
    from sambridge_server.engine.training.jobs import JobSpec

    with pytest.raises(FailedPrecondition, match="model 'hiera'.*finetuning"):
        workspace.start_training(JobSpec(output_model="tuned", base_model="hiera"), data_dir="")
