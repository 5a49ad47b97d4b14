"""Object handles through the real client path: accumulated prompts, undo, reset, windows."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sambridge import SamBridgeError
from sambridge_server.engine.prompts.corrections import corrective_clicks
from sambridge_server.engine.embeddings import compute_embeddings
from sambridge_server.engine.prompts.decoding import decode
from sambridge_server.engine.requests import EmbeddingRequest
from sambridge_server.engine.prompts.windows import window_size

TILE, HALO = (256, 256), (64, 64)


@pytest.fixture(scope="module")
def scene(hela_crop, hela_seg):
    """The 512 x 512 HeLa crop and its ground-truth labels."""
    return hela_crop, np.ascontiguousarray(hela_seg[0][100:612, 200:712])


def _object(labels: np.ndarray, inside: tuple[int, int, int, int]) -> np.ndarray:
    """The largest ground-truth object whose bounding box lies in (y0, x0, y1, x1)."""
    from skimage.measure import regionprops

    y0, x0, y1, x1 = inside
    props = [p for p in regionprops(labels) if p.bbox[0] >= y0 and p.bbox[1] >= x0 and p.bbox[2] <= y1
             and p.bbox[3] <= x1]
    return labels == max(props, key=lambda p: p.area).label


def _box(mask: np.ndarray, margin: int = 5) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min() - margin, ys.min() - margin, xs.max() + 1 + margin, ys.max() + 1 + margin], float)


def _served_embeddings(live, client, image):
    workspace, _ = live
    image_id = client.upload(image)
    request = EmbeddingRequest(image_id, "tiny", TILE, HALO, precision="fp32")
    return workspace.embeddings_for(request)[0], workspace.models.get("tiny")


def test_box_then_clicks_equal_all_prompts_plus_previous_logits(live, client, scene):
    image, labels = scene
    target = _object(labels, (0, 0, 200, 200))
    embeddings, model = _served_embeddings(live, client, image)
    rng = np.random.default_rng(0)
    box = _box(target)
    points, point_labels, logits = np.zeros((0, 2)), np.zeros(0, np.int64), None
    new_points, new_labels = None, None
    masks = []
    for step in range(5):
        got = client.segment_result(image, points=new_points, point_labels=new_labels, box=box if step == 0 else None,
                                    object_id="cell", tile_shape=TILE, halo=HALO)
        want = decode(model, embeddings, points=points if len(points) else None,
                      point_labels=point_labels if len(points) else None, box=box, mask_logits=logits,
                      tile_index=got.tile_index)
        assert got.tile_index >= 0
        np.testing.assert_array_equal(got.masks[0], want.masks[0])
        np.testing.assert_allclose(got.scores[0], want.scores[0], atol=1e-6)
        masks.append(got.masks[0])
        logits = want.logits[0]
        new_points, new_labels = corrective_clicks(got.masks[0], target, rng)
        points, point_labels = np.concatenate([points, new_points]), np.concatenate([point_labels, new_labels])
    # Undo walks back through exactly the masks answered before, then to the empty state.
    for previous in reversed(masks[:-1]):
        np.testing.assert_array_equal(client.undo(image, "cell", tile_shape=TILE, halo=HALO), previous)
    assert not client.undo(image, "cell", tile_shape=TILE, halo=HALO).any()
    with pytest.raises(SamBridgeError) as err:
        client.undo(image, "cell", tile_shape=TILE, halo=HALO)
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_a_click_after_undo_continues_from_the_restored_state(live, client, scene):
    image, labels = scene
    target = _object(labels, (0, 256, 200, 512))
    embeddings, model = _served_embeddings(live, client, image)
    box = _box(target)
    first = client.segment_result(image, box=box, object_id="u", tile_shape=TILE, halo=HALO)
    client.segment(image, points=[(box[0] + 2, box[1] + 2)], point_labels=[0], object_id="u",
                   tile_shape=TILE, halo=HALO)
    np.testing.assert_array_equal(client.undo(image, "u", tile_shape=TILE, halo=HALO), first.masks[0])
    click = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
    got = client.segment(image, points=click, point_labels=[1], object_id="u", tile_shape=TILE, halo=HALO)
    base = decode(model, embeddings, box=box, tile_index=first.tile_index)
    want = decode(model, embeddings, points=click, point_labels=[1], box=box, mask_logits=base.logits[0],
                  tile_index=first.tile_index)
    np.testing.assert_array_equal(got, want.masks[0])


def test_reset_forgets_prompts_and_can_be_undone(live, client, scene):
    image, labels = scene
    target = _object(labels, (256, 0, 512, 256))
    embeddings, model = _served_embeddings(live, client, image)
    box = _box(target)
    first = client.segment(image, box=box, object_id="r", tile_shape=TILE, halo=HALO)
    client.reset_object(image, "r", tile_shape=TILE, halo=HALO)
    point = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
    fresh = client.segment(image, points=point, object_id="r", tile_shape=TILE, halo=HALO)
    np.testing.assert_array_equal(fresh, decode(model, embeddings, points=point).masks[0])
    assert not client.undo(image, "r", tile_shape=TILE, halo=HALO).any()  # back to the reset state
    np.testing.assert_array_equal(client.undo(image, "r", tile_shape=TILE, halo=HALO), first)


def test_prompts_no_tile_holds_go_to_a_centred_window(live, client, scene):
    image, _ = scene
    workspace, _ = live
    model = workspace.models.get("tiny")
    # Tiles of 128 with a 32 halo: outer blocks of 192 px, x in [128k - 32, 128k + 160). Clicks at
    # x = 90 and 250 fit no tile (micro_sam's rule would drop one) but fit a centred 192-px window.
    tile, halo = (128, 128), (32, 32)
    points = np.array([[90.0, 200.0], [250.0, 210.0]])
    got = client.segment_result(image, points=points, point_labels=[1, 0], tile_shape=tile, halo=halo)
    assert got.tile_index == -1
    x0, y0, x1, y1 = got.window
    assert (x1 - x0, y1 - y0) == (192, 192)
    assert x0 <= points[:, 0].min() and points[:, 0].max() < x1 and y0 <= points[:, 1].min() and points[:, 1].max() < y1
    window = compute_embeddings(model, image[y0:y1, x0:x1], precision="fp32")
    want = decode(model, window, points=points - [x0, y0], point_labels=[1, 0])
    np.testing.assert_array_equal(got.masks[0][y0:y1, x0:x1], want.masks[0])
    assert not got.masks[0][:y0].any() and not got.masks[0][:, :x0].any()
    # A second call reuses the cached window embedding: same answer.
    again = client.segment_result(image, points=points, point_labels=[1, 0], tile_shape=tile, halo=halo)
    np.testing.assert_array_equal(again.masks[0], got.masks[0])


def test_prompts_no_window_can_hold_are_refused_by_name(client, scene):
    image, _ = scene
    with pytest.raises(SamBridgeError) as err:
        client.segment(image, points=[(10, 10), (400, 400)], point_labels=[1, 0], tile_shape=(128, 128),
                       halo=(32, 32))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "negative point (x=400, y=400)" in err.value.details and "192 x 192" in err.value.details
    assert client.segment(image, points=[(10, 10)], tile_shape=(128, 128), halo=(32, 32)).shape == image.shape


def test_handle_misuse_gets_clear_statuses(client, scene, hela_frame):
    image, _ = scene
    with pytest.raises(SamBridgeError) as err:
        client.undo(image, "never-used")
    assert err.value.code == grpc.StatusCode.NOT_FOUND and "never-used" in err.value.details
    with pytest.raises(SamBridgeError) as err:
        client.undo(image, "")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    client.segment(image, box=(10, 10, 60, 60), object_id="moved")
    other = np.ascontiguousarray(hela_frame[:256, :256])
    for call in (lambda: client.segment(other, points=[(5, 5)], object_id="moved"),
                 lambda: client.undo(other, "moved")):
        with pytest.raises(SamBridgeError) as err:
            call()
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "another image" in err.value.details
    assert client.undo(image, "moved").shape == image.shape  # the handle and the server are fine


def test_window_size_is_a_tile_with_its_halo():
    from sambridge_server.engine.tiling import make_grid

    assert window_size(make_grid((700, 1100), (256, 256), (64, 64))) == (384, 384)
    assert window_size(make_grid((300, 1100), (256, 256), (64, 64))) == (300, 384)
    assert window_size(make_grid((300, 400))) == (300, 400)
