from sambridge.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SegmentRequest(_message.Message):
    __slots__ = ("key", "index", "points", "box", "mask", "multimask", "object_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    MULTIMASK_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    index: int
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    box: _common_pb2.Box
    mask: _common_pb2.Mask
    multimask: bool
    object_id: str
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., index: _Optional[int] = ..., points: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., mask: _Optional[_Union[_common_pb2.Mask, _Mapping]] = ..., multimask: _Optional[bool] = ..., object_id: _Optional[str] = ...) -> None: ...

class SegmentResponse(_message.Message):
    __slots__ = ("masks", "scores", "object_id", "window", "tile_index")
    MASKS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    TILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    masks: _containers.RepeatedCompositeFieldContainer[_common_pb2.Mask]
    scores: _containers.RepeatedScalarFieldContainer[float]
    object_id: str
    window: _common_pb2.Box
    tile_index: int
    def __init__(self, masks: _Optional[_Iterable[_Union[_common_pb2.Mask, _Mapping]]] = ..., scores: _Optional[_Iterable[float]] = ..., object_id: _Optional[str] = ..., window: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., tile_index: _Optional[int] = ...) -> None: ...

class ObjectRequest(_message.Message):
    __slots__ = ("key", "index", "object_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    index: int
    object_id: str
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., index: _Optional[int] = ..., object_id: _Optional[str] = ...) -> None: ...

class ResetObjectResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SegmentObjectsRequest(_message.Message):
    __slots__ = ("key", "index", "points", "boxes", "negative_points")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_POINTS_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    index: int
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    boxes: _containers.RepeatedCompositeFieldContainer[_common_pb2.Box]
    negative_points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., index: _Optional[int] = ..., points: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., boxes: _Optional[_Iterable[_Union[_common_pb2.Box, _Mapping]]] = ..., negative_points: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ...) -> None: ...

class SegmentObjectsResponse(_message.Message):
    __slots__ = ("labels", "objects", "objects_without_negatives")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_WITHOUT_NEGATIVES_FIELD_NUMBER: _ClassVar[int]
    labels: _common_pb2.NDArray
    objects: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectInfo]
    objects_without_negatives: int
    def __init__(self, labels: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., objects: _Optional[_Iterable[_Union[_common_pb2.ObjectInfo, _Mapping]]] = ..., objects_without_negatives: _Optional[int] = ...) -> None: ...

class ObjectRef(_message.Message):
    __slots__ = ("object_id",)
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    def __init__(self, object_id: _Optional[str] = ...) -> None: ...

class ReleaseObjectResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...
