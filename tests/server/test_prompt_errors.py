"""Bad prompt requests get clear statuses and the server keeps serving."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sambridge import SamBridgeError


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(3).integers(0, 255, size=(128, 160), dtype=np.uint8)


@pytest.mark.parametrize("kwargs, code, words", [
    (dict(points=[(500, 10)], point_labels=[1]), grpc.StatusCode.INVALID_ARGUMENT, "outside"),
    (dict(points=[(-3, 10)], point_labels=[1]), grpc.StatusCode.INVALID_ARGUMENT, "outside"),
    (dict(box=(10, 10, 5, 40)), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
    (dict(box=(10, 10, 50, np.nan)), grpc.StatusCode.INVALID_ARGUMENT, "finite"),
    (dict(points=[(5, 5)], point_labels=[7]), grpc.StatusCode.INVALID_ARGUMENT, "labels"),
    (dict(), grpc.StatusCode.INVALID_ARGUMENT, "no prompt"),
    (dict(mask=np.ones((10, 10), bool)), grpc.StatusCode.INVALID_ARGUMENT, "shape"),
    (dict(mask=np.zeros((128, 160), bool)), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
    (dict(box=(1, 1, 20, 20), model="nope"), grpc.StatusCode.NOT_FOUND, "unknown model"),
    (dict(box=(1, 1, 20, 20), index=3), grpc.StatusCode.INVALID_ARGUMENT, "index"),
    (dict(box=(1, 1, 20, 20), tile_shape=(64,), halo=(8, 8)), grpc.StatusCode.INVALID_ARGUMENT, "tile_shape"),
    (dict(box=(1, 1, 20, 20), tile_shape=(16, 16), halo=(200, 200)), grpc.StatusCode.INVALID_ARGUMENT,
     "larger than the tile"),
])
def test_bad_prompts(client, image, kwargs, code, words):
    kwargs.setdefault("model", "tiny")
    with pytest.raises(SamBridgeError) as err:
        client.segment(image, **kwargs)
    assert err.value.code == code, err.value
    assert words in err.value.details, err.value.details
    # ... and the server still answers.
    assert client.segment(image, box=(10, 10, 60, 60), model="tiny").shape == image.shape


def test_segment_objects_needs_objects(client, image):
    with pytest.raises(SamBridgeError) as err:
        client.segment_objects(image, negative_points=[(3, 3)], model="tiny")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "no objects" in err.value.details


def test_multimask_returns_three_sorted_candidates(client, image):
    masks, scores = client.segment(image, points=[(80, 64)], point_labels=[1], multimask=True, model="tiny")
    assert masks.shape == (3, 128, 160) and masks.dtype == bool and scores.shape == (3,)
    assert np.all(np.diff(scores) <= 0)  # best first, as the protocol says


def test_object_handle_reuses_previous_logits(client, live, image):
    from sambridge import wire
    from sambridge_server.engine.prompts.decoding import decode
    from sambridge_server.engine.requests import EmbeddingRequest

    first = client.segment(image, box=(20, 20, 90, 90), object_id="cell-1", model="tiny")
    # A correction with only a negative point: the handle adds it to the box and supplies the
    # previous best logits as the mask prompt.
    second = client.segment(image, points=[(30, 30)], point_labels=[0], object_id="cell-1", model="tiny")
    plain = client.segment(image, points=[(30, 30)], point_labels=[0], model="tiny")
    assert first.shape == second.shape == plain.shape
    assert not np.array_equal(second, plain)  # the handle changed the result

    # ... to exactly what the engine decodes from the accumulated prompts and the previous logits.
    embeddings, model, _ = live[0].embeddings_for(EmbeddingRequest(image_id=wire.image_id(image, "yx"), model="tiny"))
    box = np.array([20, 20, 90, 90])
    start = decode(model, embeddings, box=box)
    best = int(np.argmax(start.scores))
    assert np.array_equal(first, start.masks[best])
    expected = decode(model, embeddings, points=np.array([[30, 30]]), point_labels=np.array([0]), box=box,
                      mask_logits=start.logits[best])
    assert np.array_equal(second, expected.masks[int(np.argmax(expected.scores))])
    assert client.release_object("cell-1") is True
    assert client.release_object("cell-1") is False


def test_object_handle_on_other_image_is_refused(client, image):
    client.segment(image, box=(20, 20, 90, 90), object_id="cell-2", model="tiny")
    other = image[::-1].copy()
    with pytest.raises(SamBridgeError) as err:
        client.segment(other, box=(20, 20, 90, 90), object_id="cell-2", model="tiny")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "another image" in err.value.details


def test_embeddings_that_never_fit_the_cache_are_refused_with_the_numbers(client):
    # 32 x 8192 in 16-px tiles: 1024 tiles of 4 MiB, twice the server's 2048 MiB embedding budget.
    strip = np.random.default_rng(0).integers(0, 255, size=(32, 8192), dtype=np.uint8)
    with pytest.raises(SamBridgeError) as err:
        client.segment(strip, box=(1, 1, 20, 20), model="tiny", tile_shape=(16, 16), halo=(0, 0))
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "1024 tiles = 4096 MiB" in err.value.details and "2048 MiB" in err.value.details


def test_an_unknown_precision_names_the_ones_there_are(client, image):
    with pytest.raises(SamBridgeError) as err:
        client.embed(image, model="tiny", precision="int4")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert all(name in err.value.details for name in ("'fp32'", "'bf16'", "'int8'")), err.value.details
    assert client.segment(image, box=(10, 10, 60, 60), model="tiny").shape == image.shape
