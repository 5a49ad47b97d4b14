"""Uploads in czyx, zcyx, tzyx and tczyx order with a channel / time point selection land in the
engine's channels-last layout, values in the right planes and channels; shape errors say what was tried."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sambridge import SamBridgeError, wire
from sambridge.v1 import images_pb2_grpc


def _volume(shape: tuple[int, ...]) -> np.ndarray:
    """Every element distinct, so a misplaced plane or channel changes the values."""
    return np.arange(int(np.prod(shape)), dtype=np.uint16).reshape(shape)


# (axes, shape of the upload, channels, timepoint, expected stored axes, expected array from the upload `a`)
CASES = [
    ("czyx", (3, 4, 8, 10), None, None, "zyxc", lambda a: np.moveaxis(a, 0, -1)),
    ("czyx", (3, 4, 8, 10), [2, 0], None, "zyxc", lambda a: np.moveaxis(a[[2, 0]], 0, -1)),
    ("czyx", (3, 4, 8, 10), [1], None, "zyx", lambda a: a[1]),
    ("zcyx", (4, 2, 8, 10), None, None, "zyxc", lambda a: np.moveaxis(a, 1, -1)),
    ("zcyx", (4, 2, 8, 10), [1], None, "zyx", lambda a: a[:, 1]),
    ("tzyx", (3, 4, 8, 10), None, 2, "zyx", lambda a: a[2]),
    ("tczyx", (2, 3, 4, 8, 10), [0, 2], 1, "zyxc", lambda a: np.moveaxis(a[1][[0, 2]], 0, -1)),
    ("tczyx", (2, 3, 4, 8, 10), [2], 0, "zyx", lambda a: a[0, 2]),
]


@pytest.mark.parametrize("axes, shape, channels, timepoint, stored_axes, expected", CASES)
def test_upload_orders_land_channels_last(live, client, axes, shape, channels, timepoint, stored_axes, expected):
    workspace, address = live
    array = _volume(shape)
    want = expected(array)
    # The raw bytes in their own order with the selection in the header: what any client may send.
    with grpc.insecure_channel(address) as channel:
        info = images_pb2_grpc.ImageServiceStub(channel).Upload(
            wire.upload_chunks(array, axes, channels=channels, timepoint=timepoint))
    assert info.axes == stored_axes and tuple(info.shape) == want.shape
    stored = workspace.images.get(info.image_id)
    assert stored.axes == stored_axes
    np.testing.assert_array_equal(stored.array, want)
    # The Python client selects before uploading; same pixels and selection, same id.
    assert client.upload(array, axes=axes, channels=channels, timepoint=timepoint) == info.image_id
    assert info.image_id == wire.image_id(np.ascontiguousarray(want), stored_axes)


def test_stored_plane_is_the_selected_one(live, client):
    """A czyx volume is segmented plane by plane in z with the channels of that plane."""
    workspace, _ = live
    array = _volume((2, 3, 16, 16))
    stored = workspace.images.get(client.upload(array, axes="czyx"))
    np.testing.assert_array_equal(stored.plane(1)[..., 0], array[0, 1])
    np.testing.assert_array_equal(stored.plane(2)[..., 1], array[1, 2])


def test_4d_array_without_axes_names_shape_and_axes_tried(client):
    with pytest.raises(SamBridgeError) as err:
        client.upload(np.zeros((5, 2, 64, 64), np.uint8))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "(5, 2, 64, 64)" in err.value.details and "'zyxc'" in err.value.details
    assert "czyx" in err.value.details


def test_server_names_shape_for_too_many_channels(live):
    """A client that declares zyxc for a (z, c, y, x) stack hears the shape and the axes it sent."""
    array = np.zeros((5, 2, 64, 64), np.uint8)
    with grpc.insecure_channel(live[1]) as channel, pytest.raises(grpc.RpcError) as err:
        images_pb2_grpc.ImageServiceStub(channel).Upload(wire.upload_chunks(array, "zyxc"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "(5, 2, 64, 64)" in err.value.details() and "'zyxc'" in err.value.details()


@pytest.mark.parametrize("axes, channels, timepoint, words", [
    ("tzyx", None, None, ["timepoint", "(3, 4, 8, 10)"]),
    ("czyx", [3], None, ["[3]", "3 channels"]),
    ("tzyx", None, 5, ["timepoint 5", "3 time points"]),
    ("zyx", None, None, ["'zyx'", "(3, 4, 8, 10)"]),
])
def test_bad_selection_is_refused_with_shape(live, axes, channels, timepoint, words):
    array = _volume((3, 4, 8, 10))
    with grpc.insecure_channel(live[1]) as channel, pytest.raises(grpc.RpcError) as err:
        images_pb2_grpc.ImageServiceStub(channel).Upload(_chunks(array, axes, channels, timepoint))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for word in words:
        assert word in err.value.details()


def _chunks(array, axes, channels, timepoint):
    """One upload chunk without the client-side checks (and no expected id)."""
    from sambridge.v1 import images_pb2

    header = images_pb2.UploadHeader(dtype=wire.wire_dtype(array.dtype), shape=list(array.shape), axes=axes,
                                     channels=channels or [])
    if timepoint is not None:
        header.timepoint = timepoint
    yield images_pb2.UploadChunk(header=header, data=array.tobytes())
