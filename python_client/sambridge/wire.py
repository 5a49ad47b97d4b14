"""Conversion between numpy arrays and the v1 wire messages.

Used by both the client and the server so that the encoding is written once:
NDArray (dense, optionally zlib-compressed), Mask (bit-packed, MSB first) and
the content id of an uploaded image.
"""

from __future__ import annotations

import zlib
from typing import Iterator, Sequence

import numpy as np

from sambridge.v1 import common_pb2, images_pb2
from sambridge_common.content_id import image_id  # noqa: F401 - part of the wire API

DTYPE_TO_WIRE: dict[str, int] = {
    "uint8": common_pb2.UINT8,
    "uint16": common_pb2.UINT16,
    "uint32": common_pb2.UINT32,
    "uint64": common_pb2.UINT64,
    "int8": common_pb2.INT8,
    "int16": common_pb2.INT16,
    "int32": common_pb2.INT32,
    "int64": common_pb2.INT64,
    "float32": common_pb2.FLOAT32,
    "float64": common_pb2.FLOAT64,
    "bool": common_pb2.BOOL,
}
WIRE_TO_DTYPE: dict[int, str] = {v: k for k, v in DTYPE_TO_WIRE.items()}

# What the engine works on (channels last); every stored image has one of these.
VALID_AXES = ("yx", "yxc", "zyx", "zyxc", "tyx", "tyxc")
# Further orders an upload may use: the channels are selected (``channels``) and moved last,
# a time point of a (t, z, ...) series is selected (``timepoint``), see ``normalize``.
UPLOAD_AXES = VALID_AXES + ("czyx", "zcyx", "tzyx", "tczyx")
UPLOAD_CHUNK_BYTES = 2 * 1024 * 1024


class WireError(ValueError):
    """A wire message does not describe a valid array."""


def wire_dtype(dtype: np.dtype | str) -> int:
    """The wire enum of a numpy dtype; WireError if it cannot travel."""
    name = np.dtype(dtype).name
    if name not in DTYPE_TO_WIRE:
        raise WireError(f"dtype {name} is not supported (use one of {sorted(DTYPE_TO_WIRE)})")
    return DTYPE_TO_WIRE[name]


def numpy_dtype(wire: int) -> np.dtype:
    """The numpy dtype of a wire enum value."""
    if wire not in WIRE_TO_DTYPE:
        raise WireError(f"unknown dtype enum value {wire}")
    return np.dtype(WIRE_TO_DTYPE[wire]).newbyteorder("<")


def check_axes(axes: str, ndim: int, allowed: tuple[str, ...] = VALID_AXES,
               shape: tuple[int, ...] | None = None) -> str:
    """Validate an axes string against an array rank (``shape`` only sharpens the message)."""
    what = f"shape {tuple(shape)}" if shape is not None else f"{ndim} dimensions"
    if axes not in allowed:
        raise WireError(f"axes {axes!r} not supported for an array of {what}; use one of {', '.join(allowed)}")
    if len(axes) != ndim:
        raise WireError(f"axes {axes!r} has {len(axes)} letters but the array has {what}")
    return axes


MAX_CHANNELS = 16


def default_axes(ndim: int) -> str:
    """The axes assumed for an array of rank ``ndim`` when none is given."""
    return {2: "yx", 3: "zyx", 4: "zyxc"}.get(ndim, "")


def guess_axes(shape: tuple[int, ...]) -> str:
    """The axes of an array given without any: ``default_axes``, or WireError naming the shape and axes tried.

    A 4D array is taken as (z, y, x, c) only with at most 16 channels; anything else (a (z, c, y, x)
    or (t, z, y, x) stack, 5D data) must say its axes.
    """
    shape = tuple(int(s) for s in shape)
    axes = default_axes(len(shape))
    if axes and not ("c" in axes and shape[-1] > MAX_CHANNELS):
        return axes
    tried = f"tried {axes!r}: {shape[-1]} channels is more than {MAX_CHANNELS}" if axes else "no default for this rank"
    options = [a for a in UPLOAD_AXES if len(a) == len(shape)] or list(UPLOAD_AXES)
    raise WireError(f"cannot tell the axes of an array of shape {shape} ({tried}); "
                    f"give axes=, one of {', '.join(options)}")


def normalize(array: np.ndarray, axes: str, channels: Sequence[int] | None = None,
              timepoint: int | None = None) -> tuple[np.ndarray, str]:
    """An uploaded array in the engine's layout (one of VALID_AXES): select, then move channels last.

    ``channels`` keeps these channels of a ``c`` axis (one channel drops the axis: a grayscale
    image); ``timepoint`` keeps one time point of a ``t`` axis (needed for ``tzyx``/``tczyx``,
    whose time series of volumes the engine cannot take whole). The content id of an upload is
    that of the normalized array, so the same pixels and selection give the same id in any order.
    WireError (naming the shape and axes) for a selection that does not fit.
    """
    shape = tuple(int(s) for s in array.shape)
    check_axes(axes, array.ndim, UPLOAD_AXES, shape)
    if channels is not None and len(channels) > 0:
        if "c" not in axes:
            raise WireError(f"channels {list(channels)} given for axes {axes!r} (shape {shape}), which have none")
        n = shape[axes.index("c")]
        bad = [c for c in channels if not 0 <= int(c) < n]
        if bad:
            raise WireError(f"channels {bad} out of range for {n} channels (axes {axes!r}, shape {shape})")
        picked = [int(c) for c in channels]
        array = np.take(array, picked[0] if len(picked) == 1 else picked, axis=axes.index("c"))
        axes = axes.replace("c", "") if len(picked) == 1 else axes
    if timepoint is not None:
        if "t" not in axes:
            raise WireError(f"timepoint {timepoint} given for axes {axes!r} (shape {shape}), which have no t")
        n = shape[axes.index("t")]  # t is always the first axis
        if not 0 <= int(timepoint) < n:
            raise WireError(f"timepoint {timepoint} out of range for {n} time points (axes {axes!r}, shape {shape})")
        array = array[int(timepoint)]
        axes = axes[1:]
    if "c" in axes and not axes.endswith("c"):
        array = np.moveaxis(array, axes.index("c"), -1)
        axes = axes.replace("c", "") + "c"
    if axes not in VALID_AXES:
        raise WireError(f"axes {axes!r} (shape {shape}) hold a time series of volumes: select a timepoint "
                        f"(the server takes (z, y, x) volumes and (t, y, x) series)")
    return np.ascontiguousarray(array), axes


def to_ndarray(array: np.ndarray, axes: str, compress: bool = True) -> common_pb2.NDArray:
    """Encode a numpy array as an NDArray message (zlib when ``compress``)."""
    array = np.ascontiguousarray(array)
    data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    compression = common_pb2.NONE
    if compress:
        data = zlib.compress(data, 1)
        compression = common_pb2.ZLIB
    return common_pb2.NDArray(
        dtype=wire_dtype(array.dtype), shape=list(array.shape), axes=axes,
        compression=compression, data=data,
    )


def from_ndarray(message: common_pb2.NDArray, max_bytes: int | None = None) -> tuple[np.ndarray, str]:
    """Decode an NDArray message into (array, axes); WireError if inconsistent."""
    dtype = numpy_dtype(message.dtype)
    shape = tuple(int(s) for s in message.shape)
    if any(s < 0 for s in shape):
        raise WireError(f"negative size in shape {shape}")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if max_bytes is not None and expected > max_bytes:
        raise WireError(f"array of shape {shape} needs {expected} bytes, over the limit of {max_bytes}")
    data = message.data
    if message.compression == common_pb2.ZLIB:
        try:
            data = zlib.decompressobj().decompress(data, expected + 1)
        except zlib.error as exc:
            raise WireError(f"corrupt zlib data: {exc}") from exc
    elif message.compression != common_pb2.NONE:
        raise WireError(f"unknown compression {message.compression}")
    if len(data) != expected:
        raise WireError(f"array data has {len(data)} bytes but shape {shape} of {dtype.name} needs {expected}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    axes = message.axes or default_axes(len(shape))
    return array, check_axes(axes, len(shape))


def to_mask(mask: np.ndarray) -> common_pb2.Mask:
    """Bit-pack a 2D boolean mask (MSB first, row-major)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise WireError(f"a mask must be 2D, got shape {mask.shape}")
    return common_pb2.Mask(height=mask.shape[0], width=mask.shape[1], bits=np.packbits(mask, axis=None).tobytes())


def from_mask(message: common_pb2.Mask) -> np.ndarray:
    """Unpack a Mask message into a 2D boolean array; WireError if inconsistent."""
    height, width = int(message.height), int(message.width)
    if height <= 0 or width <= 0:
        raise WireError(f"mask size {height}x{width} is empty or negative")
    n = height * width
    if len(message.bits) != (n + 7) // 8:
        raise WireError(f"mask of {height}x{width} needs {(n + 7) // 8} bytes, got {len(message.bits)}")
    bits = np.unpackbits(np.frombuffer(message.bits, dtype=np.uint8), count=n)
    return bits.reshape(height, width).astype(bool)


def upload_chunks(array: np.ndarray, axes: str, chunk_bytes: int = UPLOAD_CHUNK_BYTES,
                  channels: Sequence[int] | None = None,
                  timepoint: int | None = None) -> Iterator[images_pb2.UploadChunk]:
    """Split an array into UploadChunk messages (header on the first, with the selection and the
    expected id: that of the array as ``normalize`` makes it)."""
    array = np.ascontiguousarray(array)
    data = memoryview(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    header = images_pb2.UploadHeader(
        dtype=wire_dtype(array.dtype), shape=list(array.shape), axes=axes,
        expected_image_id=image_id(*normalize(array, axes, channels, timepoint)),
        channels=[int(c) for c in channels or ()],
    )
    if timepoint is not None:
        header.timepoint = int(timepoint)
    if len(data) == 0:
        yield images_pb2.UploadChunk(header=header)
        return
    for start in range(0, len(data), chunk_bytes):
        chunk = images_pb2.UploadChunk(data=bytes(data[start:start + chunk_bytes]))
        if start == 0:
            chunk.header.CopyFrom(header)
        yield chunk
