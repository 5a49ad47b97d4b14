"""Object handles of a SAM2 model through the real client path: a box then corrective clicks through
one object_id equal one call with every prompt so far plus the previous logits; undo restores the
previous masks exactly and a click after undo continues from the restored state; reset starts over."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sambridge import Client, SamBridgeError
from sambridge_server.config import ModelSource, ServerConfig
from sambridge_server.engine.prompts.corrections import corrective_clicks
from sambridge_server.engine.requests import EmbeddingRequest

pytest.importorskip("sam2", reason="the sam2 package is not installed")

CROP = (slice(180, 436), slice(300, 620))  # 256 x 320 of HeLa frame 0, as the SAM2 engine tests


@pytest.fixture(scope="module")
def scene(hela_frame, hela_seg) -> tuple[np.ndarray, np.ndarray]:
    """The HeLa crop and the largest ground-truth nucleus in it."""
    image = np.ascontiguousarray(hela_frame[CROP])
    labels = hela_seg[0][CROP]
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return image, labels == ids[np.argmax(counts)]


@pytest.fixture(scope="module")
def hiera_checkpoint(tmp_path_factory, scene) -> str:
    """Random hiera-tiny with non-degenerate masks (``make_nontrivial``), in Meta's format."""
    from sambridge_server.engine.sam2_models import build_sam2_model, save_sam2_checkpoint
    from sambridge_server.engine.sam2_models.testing import make_nontrivial

    model = make_nontrivial(build_sam2_model("sam2.1_hiera_t", seed=0), scene[0])
    return str(save_sam2_checkpoint(model, tmp_path_factory.mktemp("sam2") / "sam2.1_hiera_tiny.pt"))


def _box(mask: np.ndarray, margin: int = 5) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min() - margin, ys.min() - margin, xs.max() + 1 + margin, ys.max() + 1 + margin], float)


def test_sam2_handle_equals_all_prompts_plus_previous_logits_and_undoes(start_server, hiera_checkpoint, scene):
    from sambridge_server.engine.sam2_models import Sam2Prompt, decode_prompts

    image, target = scene
    config = ServerConfig(port=0, precision="fp32", models=[ModelSource(path=hiera_checkpoint, name="hiera")])
    _, workspace, address = start_server(config)
    with Client(address, timeout=600) as client:
        features = workspace.embeddings_for(EmbeddingRequest(client.upload(image), "hiera"))[0]
        model = workspace.models.get("hiera")

        def one_call(points, labels, box, logits):
            """The object decoded in one call with all its prompts and the previous logits."""
            has = len(points) > 0
            return decode_prompts(model, features, [Sam2Prompt(points if has else None, labels if has else None,
                                                               box, logits)])

        rng = np.random.default_rng(0)
        box = _box(target)
        points, labels, logits = np.zeros((0, 2)), np.zeros(0, np.int64), None
        new_points = new_labels = None
        masks, states = [], []
        for step in range(4):
            got = client.segment_result(image, points=new_points, point_labels=new_labels,
                                        box=box if step == 0 else None, model="hiera", object_id="cell")
            want = one_call(points, labels, box, logits)
            assert got.tile_index == 0 and got.window == (0, 0, image.shape[1], image.shape[0])
            np.testing.assert_array_equal(got.masks[0], want.masks[0, 0])
            np.testing.assert_allclose(got.scores[0], want.scores[0, 0], atol=1e-6)
            assert 0 < got.masks[0].sum() < image.size
            masks.append(got.masks[0])
            states.append((points, labels, want.low_res_logits[0, 0]))
            logits = want.low_res_logits[0, 0]
            new_points, new_labels = corrective_clicks(got.masks[0], target, rng)
            points, labels = np.concatenate([points, new_points]), np.concatenate([labels, new_labels])
        # The clicks changed the mask, and the handle did not just ignore the previous logits.
        assert any(not np.array_equal(a, b) for a, b in zip(masks, masks[1:]))
        without_logits = one_call(*states[-1][:2], box, None).masks[0, 0]
        assert not np.array_equal(without_logits, masks[-1])

        # Undo walks back through exactly the masks answered before, then to the empty state.
        for previous in reversed(masks[:-1]):
            np.testing.assert_array_equal(client.undo(image, "cell", model="hiera"), previous)
        assert not client.undo(image, "cell", model="hiera").any()
        with pytest.raises(SamBridgeError) as err:
            client.undo(image, "cell", model="hiera")
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION

        # A click after undo continues from the restored state: box, its logits, no later clicks.
        client.segment(image, box=box, model="hiera", object_id="u")
        client.segment(image, points=states[2][0][:2], point_labels=[1, 0], model="hiera", object_id="u")
        np.testing.assert_array_equal(client.undo(image, "u", model="hiera"), masks[0])
        click = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
        got = client.segment(image, points=click, point_labels=[1], model="hiera", object_id="u")
        np.testing.assert_array_equal(got, one_call(click, np.array([1]), box, states[0][2]).masks[0, 0])

        # Reset forgets prompts and logits (undoably).
        client.reset_object(image, "u", model="hiera")
        fresh = client.segment(image, points=click, point_labels=[1], model="hiera", object_id="u")
        np.testing.assert_array_equal(fresh, one_call(click, np.array([1]), None, None).masks[0, 0])
        assert not client.undo(image, "u", model="hiera").any()
        np.testing.assert_array_equal(client.undo(image, "u", model="hiera"), got)
