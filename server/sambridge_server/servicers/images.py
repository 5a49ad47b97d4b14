"""ImageService: chunked upload of arrays addressed by content id."""

from __future__ import annotations

import itertools

import grpc
import numpy as np

from sambridge import wire
from sambridge.v1 import images_pb2, images_pb2_grpc
from sambridge_server.engine.errors import InvalidInput, ResourceExhausted
from sambridge_server.engine.images import StoredImage, validate_image
from sambridge_server.servicers.admission import ByteBudget
from sambridge_server.servicers.rpc import caller_key, idle_limited, unary
from sambridge_server.engine.workspace import Workspace


def _info(image: StoredImage, already_present: bool = False) -> images_pb2.ImageInfo:
    return images_pb2.ImageInfo(
        image_id=image.image_id, dtype=wire.wire_dtype(image.array.dtype), shape=list(image.array.shape),
        axes=image.axes, already_present=already_present,
    )


def _read_upload(chunks, max_bytes: int, budget: ByteBudget, idle_s: float
                 ) -> tuple[np.ndarray, str, images_pb2.UploadHeader]:
    """Assemble the uploaded chunks into (array, axes, header), validating the header.

    The data goes straight into one buffer of the announced size, reserved in the server's budget
    for uploads in progress; a client that stops sending for ``idle_s`` is cut off."""
    iterator = idle_limited(iter(chunks), idle_s)
    first = next(iterator, None)
    if first is None or not first.HasField("header"):
        raise InvalidInput("the first upload chunk must carry a header (dtype, shape, axes)")
    header = first.header
    dtype = wire.numpy_dtype(header.dtype)
    shape = tuple(int(s) for s in header.shape)
    if not shape or any(s <= 0 for s in shape):
        raise InvalidInput(f"invalid shape {shape}: every dimension must be positive")
    wire.check_axes(header.axes, len(shape), wire.UPLOAD_AXES, shape)
    expected = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if expected > max_bytes:
        raise ResourceExhausted(f"image of shape {shape} ({expected} bytes) is over the server limit of {max_bytes} bytes")
    with budget.reserve(expected, f"an upload of shape {shape}"):
        buffer = np.empty(expected, dtype=np.uint8)
        filled = 0
        for chunk in itertools.chain([first], iterator):
            if chunk is not first and chunk.HasField("header"):
                raise InvalidInput("only the first upload chunk may carry a header")
            if filled + len(chunk.data) > expected:
                raise InvalidInput(f"upload has more data than shape {shape} of {dtype.name} holds ({expected} bytes)")
            buffer[filled:filled + len(chunk.data)] = np.frombuffer(chunk.data, dtype=np.uint8)
            filled += len(chunk.data)
        if filled != expected:
            raise InvalidInput(f"upload is truncated: got {filled} of {expected} bytes for shape {shape}")
    array = buffer.view(dtype).reshape(shape)
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array, header.axes, header


class ImageServicer(images_pb2_grpc.ImageServiceServicer):
    """Uploads, lookups and deletions of images.

    Each caller (``caller_key``) holds its own reference to the images it uploaded or looked up:
    its DeleteImage drops only that reference, and the data goes with the last one.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.uploads = ByteBudget(workspace.config.upload_mb * 2**20)

    @unary
    def Upload(self, request_iterator, context: grpc.ServicerContext) -> images_pb2.ImageInfo:
        """Receive a chunked upload; free if the content id is already known."""
        limit = self.workspace.config.max_image_pixels * 8
        array, axes, header = _read_upload(request_iterator, limit, self.uploads, self.workspace.config.idle_timeout_s)
        timepoint = header.timepoint if header.HasField("timepoint") else None
        array, axes = wire.normalize(array, axes, list(header.channels), timepoint)
        image_id, expected_id = wire.image_id(array, axes), header.expected_image_id
        if expected_id and expected_id != image_id:
            raise InvalidInput(f"content id mismatch: client computed {expected_id}, data hashes to {image_id}")
        owner = caller_key(context)
        if self.workspace.images.add_reference(image_id, owner):
            return _info(self.workspace.images.get(image_id), already_present=True)
        validate_image(array, axes, self.workspace.config.max_image_pixels)
        return _info(self.workspace.images.put(image_id, array, axes, owner))

    @unary
    def GetImage(self, request, context) -> images_pb2.ImageInfo:
        """Metadata of a known image, which the caller now references (a client that skips the
        upload of an image the server has holds it like one that uploaded it); NOT_FOUND otherwise."""
        if not self.workspace.images.add_reference(request.image_id, caller_key(context)):
            self.workspace.images.get(request.image_id)  # raises the NOT_FOUND
        return _info(self.workspace.images.get(request.image_id), already_present=True)

    @unary
    def DeleteImage(self, request, context) -> images_pb2.ImageInfo:
        """Drop the caller's reference; with the last one, forget the image and its in-memory embeddings."""
        image, removed = self.workspace.images.delete(request.image_id, caller_key(context))
        if removed:
            self.workspace.forget_image(request.image_id)
        return _info(image)
