"""Uploads: content ids, deduplication, chunking and validation."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sambridge import SamBridgeError, wire
from sambridge.v1 import common_pb2, images_pb2, images_pb2_grpc


def _stub(live):
    channel = grpc.insecure_channel(live[1])
    return images_pb2_grpc.ImageServiceStub(channel), channel


def test_upload_roundtrip_and_dedup(client, live):
    array = np.arange(300 * 400, dtype=np.uint16).reshape(300, 400)
    image_id = client.upload(array)
    assert image_id == wire.image_id(array, "yx")
    stored = live[0].images.get(image_id)
    assert np.array_equal(stored.array, array) and stored.axes == "yx"
    stub, channel = _stub(live)
    info = stub.Upload(wire.upload_chunks(array, "yx", chunk_bytes=10_000))
    assert info.already_present and info.image_id == image_id
    channel.close()


def test_large_stack_uploads_in_chunks(client, live):
    stack = np.random.default_rng(0).integers(0, 4000, size=(6, 700, 1100), dtype=np.uint16)  # 9 MB > 4 MiB
    image_id = client.upload(stack, "zyx")
    assert np.array_equal(live[0].images.get(image_id).array, stack)


def _upload(live, chunks):
    stub, channel = _stub(live)
    try:
        stub.Upload(iter(chunks))
    except grpc.RpcError as err:
        return err.code(), err.details()
    finally:
        channel.close()
    return grpc.StatusCode.OK, ""


def _header(dtype=common_pb2.UINT8, shape=(4, 4), axes="yx"):
    return images_pb2.UploadHeader(dtype=dtype, shape=list(shape), axes=axes)


@pytest.mark.parametrize("chunks, code, words", [
    ([images_pb2.UploadChunk(data=b"abc")], grpc.StatusCode.INVALID_ARGUMENT, "header"),
    ([images_pb2.UploadChunk(header=_header(), data=b"x" * 10)], grpc.StatusCode.INVALID_ARGUMENT, "truncated"),
    ([images_pb2.UploadChunk(header=_header(), data=b"x" * 17)], grpc.StatusCode.INVALID_ARGUMENT, "more data"),
    ([images_pb2.UploadChunk(header=_header(axes="xyz"), data=b"x" * 16)], grpc.StatusCode.INVALID_ARGUMENT, "axes"),
    ([images_pb2.UploadChunk(header=_header(shape=(4, -4)), data=b"")], grpc.StatusCode.INVALID_ARGUMENT, "shape"),
    ([images_pb2.UploadChunk(header=_header(dtype=common_pb2.BOOL), data=b"x" * 16)],
     grpc.StatusCode.INVALID_ARGUMENT, "dtype"),
    ([images_pb2.UploadChunk(header=_header(dtype=99), data=b"x" * 16)], grpc.StatusCode.INVALID_ARGUMENT, "dtype"),
    ([images_pb2.UploadChunk(header=_header(shape=(100000, 100000)), data=b"")],
     grpc.StatusCode.RESOURCE_EXHAUSTED, "limit"),
    ([images_pb2.UploadChunk(header=_header(), data=b"x" * 8), images_pb2.UploadChunk(header=_header(), data=b"x" * 8)],
     grpc.StatusCode.INVALID_ARGUMENT, "first upload chunk"),
])
def test_bad_uploads_get_clear_errors(live, chunks, code, words):
    got, details = _upload(live, chunks)
    assert got == code and words in details


def test_nan_image_rejected(client):
    image = np.zeros((64, 64), np.float32)
    image[3, 3] = np.nan
    with pytest.raises(SamBridgeError) as err:
        client.upload(image)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "NaN" in err.value.details


def test_float_range_beyond_scaling_rejected_and_ordinary_floats_accepted(client):
    image = np.zeros((64, 64), np.float64)
    image[0, 0], image[0, 1] = -3e38, 3e38  # finite, but max - min overflows float32
    with pytest.raises(SamBridgeError) as err:
        client.upload(image)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "rescale" in err.value.details
    assert client.upload(np.linspace(-1e6, 1e6, 64 * 64).reshape(64, 64))  # a wide but scalable range


def test_content_id_mismatch_rejected(live):
    array = np.ones((8, 8), np.uint8)
    chunks = list(wire.upload_chunks(array, "yx"))
    chunks[0].header.expected_image_id = "sha1:0000"
    code, details = _upload(live, chunks)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "mismatch" in details


def test_unknown_image_is_not_found(client):
    with pytest.raises(SamBridgeError) as err:
        client.segment("sha1:doesnotexist", box=(1, 1, 5, 5))
    assert err.value.code == grpc.StatusCode.NOT_FOUND and "upload" in err.value.details


def test_delete_drops_only_the_callers_reference(live):
    """Bob uploading (or looking up) Alice's image and deleting it must not break Alice's work."""
    from sambridge import Client

    image = np.random.default_rng(7).integers(0, 255, (64, 64), dtype=np.uint8)
    with Client(live[1], timeout=120) as alice, Client(live[1], timeout=120) as bob, \
            Client(live[1], timeout=120) as carol:
        image_id = alice.upload(image)
        before = alice.segment(image_id, box=(10, 10, 40, 40), model="tiny")
        assert bob.upload(image) == image_id  # the same content: Bob now holds a reference too
        ref = images_pb2.ImageRef(image_id=image_id)
        with pytest.raises(grpc.RpcError) as err:
            carol._images.DeleteImage(ref, metadata=carol._metadata)  # Carol holds none
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and "not referenced" in err.value.details()
        bob._images.DeleteImage(ref, metadata=bob._metadata)
        with pytest.raises(grpc.RpcError) as err:
            bob._images.DeleteImage(ref, metadata=bob._metadata)  # his one reference is gone
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert image_id in live[0].images
        assert np.array_equal(alice.segment(image_id, box=(10, 10, 40, 40), model="tiny"), before)
        alice._images.DeleteImage(ref, metadata=alice._metadata)  # the last reference: the data goes
        assert image_id not in live[0].images
        with pytest.raises(grpc.RpcError) as err:
            alice._images.GetImage(ref, metadata=alice._metadata)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
