from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    UINT8: _ClassVar[DType]
    UINT16: _ClassVar[DType]
    UINT32: _ClassVar[DType]
    INT8: _ClassVar[DType]
    INT16: _ClassVar[DType]
    INT32: _ClassVar[DType]
    FLOAT32: _ClassVar[DType]
    FLOAT64: _ClassVar[DType]
    BOOL: _ClassVar[DType]
    INT64: _ClassVar[DType]
    UINT64: _ClassVar[DType]

class Compression(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NONE: _ClassVar[Compression]
    ZLIB: _ClassVar[Compression]
DTYPE_UNSPECIFIED: DType
UINT8: DType
UINT16: DType
UINT32: DType
INT8: DType
INT16: DType
INT32: DType
FLOAT32: DType
FLOAT64: DType
BOOL: DType
INT64: DType
UINT64: DType
NONE: Compression
ZLIB: Compression

class NDArray(_message.Message):
    __slots__ = ("dtype", "shape", "axes", "compression", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    AXES_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: DType
    shape: _containers.RepeatedScalarFieldContainer[int]
    axes: str
    compression: Compression
    data: bytes
    def __init__(self, dtype: _Optional[_Union[DType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., axes: _Optional[str] = ..., compression: _Optional[_Union[Compression, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Mask(_message.Message):
    __slots__ = ("height", "width", "bits")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    BITS_FIELD_NUMBER: _ClassVar[int]
    height: int
    width: int
    bits: bytes
    def __init__(self, height: _Optional[int] = ..., width: _Optional[int] = ..., bits: _Optional[bytes] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y", "label")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    label: int
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., label: _Optional[int] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("x0", "y0", "x1", "y1")
    X0_FIELD_NUMBER: _ClassVar[int]
    Y0_FIELD_NUMBER: _ClassVar[int]
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    x0: float
    y0: float
    x1: float
    y1: float
    def __init__(self, x0: _Optional[float] = ..., y0: _Optional[float] = ..., x1: _Optional[float] = ..., y1: _Optional[float] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "done", "total", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    done: int
    total: int
    message: str
    def __init__(self, stage: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Tiling(_message.Message):
    __slots__ = ("tile_shape", "halo", "whole_image")
    TILE_SHAPE_FIELD_NUMBER: _ClassVar[int]
    HALO_FIELD_NUMBER: _ClassVar[int]
    WHOLE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    tile_shape: _containers.RepeatedScalarFieldContainer[int]
    halo: _containers.RepeatedScalarFieldContainer[int]
    whole_image: bool
    def __init__(self, tile_shape: _Optional[_Iterable[int]] = ..., halo: _Optional[_Iterable[int]] = ..., whole_image: _Optional[bool] = ...) -> None: ...

class EmbeddingKey(_message.Message):
    __slots__ = ("image_id", "model", "tiling", "precision")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TILING_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    model: str
    tiling: Tiling
    precision: str
    def __init__(self, image_id: _Optional[str] = ..., model: _Optional[str] = ..., tiling: _Optional[_Union[Tiling, _Mapping]] = ..., precision: _Optional[str] = ...) -> None: ...

class ObjectInfo(_message.Message):
    __slots__ = ("label", "score", "bbox", "area", "index")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    AREA_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    label: int
    score: float
    bbox: Box
    area: int
    index: int
    def __init__(self, label: _Optional[int] = ..., score: _Optional[float] = ..., bbox: _Optional[_Union[Box, _Mapping]] = ..., area: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...
