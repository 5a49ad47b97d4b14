from sambridge.v1 import common_pb2 as _common_pb2
from sambridge.v1 import automatic_pb2 as _automatic_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProjectionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECTION_UNSPECIFIED: _ClassVar[ProjectionMode]
    SINGLE_POINT: _ClassVar[ProjectionMode]
    POINTS: _ClassVar[ProjectionMode]
    BOX: _ClassVar[ProjectionMode]
    MASK: _ClassVar[ProjectionMode]
    POINTS_AND_MASK: _ClassVar[ProjectionMode]
PROJECTION_UNSPECIFIED: ProjectionMode
SINGLE_POINT: ProjectionMode
POINTS: ProjectionMode
BOX: ProjectionMode
MASK: ProjectionMode
POINTS_AND_MASK: ProjectionMode

class SliceAnnotation(_message.Message):
    __slots__ = ("z", "mask", "points", "box")
    Z_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    z: int
    mask: _common_pb2.Mask
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    box: _common_pb2.Box
    def __init__(self, z: _Optional[int] = ..., mask: _Optional[_Union[_common_pb2.Mask, _Mapping]] = ..., points: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ...) -> None: ...

class PropagationOptions(_message.Message):
    __slots__ = ("mode", "iou_threshold", "box_extension", "stop_slices", "all_planes", "projection", "method")
    MODE_FIELD_NUMBER: _ClassVar[int]
    IOU_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BOX_EXTENSION_FIELD_NUMBER: _ClassVar[int]
    STOP_SLICES_FIELD_NUMBER: _ClassVar[int]
    ALL_PLANES_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    mode: ProjectionMode
    iou_threshold: float
    box_extension: float
    stop_slices: _containers.RepeatedScalarFieldContainer[int]
    all_planes: bool
    projection: ProjectionMode
    method: str
    def __init__(self, mode: _Optional[_Union[ProjectionMode, str]] = ..., iou_threshold: _Optional[float] = ..., box_extension: _Optional[float] = ..., stop_slices: _Optional[_Iterable[int]] = ..., all_planes: _Optional[bool] = ..., projection: _Optional[_Union[ProjectionMode, str]] = ..., method: _Optional[str] = ...) -> None: ...

class PropagateRequest(_message.Message):
    __slots__ = ("key", "annotations", "options")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    annotations: _containers.RepeatedCompositeFieldContainer[SliceAnnotation]
    options: PropagationOptions
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[SliceAnnotation, _Mapping]]] = ..., options: _Optional[_Union[PropagationOptions, _Mapping]] = ...) -> None: ...

class PropagateObjectsRequest(_message.Message):
    __slots__ = ("key", "z", "labels", "options")
    KEY_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    z: int
    labels: _common_pb2.NDArray
    options: PropagationOptions
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., z: _Optional[int] = ..., labels: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., options: _Optional[_Union[PropagationOptions, _Mapping]] = ...) -> None: ...

class AutoSegment3DRequest(_message.Message):
    __slots__ = ("key", "method", "ais", "amg", "min_overlap", "gap_closing", "min_z_extent", "all_planes")
    KEY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    AIS_FIELD_NUMBER: _ClassVar[int]
    AMG_FIELD_NUMBER: _ClassVar[int]
    MIN_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    GAP_CLOSING_FIELD_NUMBER: _ClassVar[int]
    MIN_Z_EXTENT_FIELD_NUMBER: _ClassVar[int]
    ALL_PLANES_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    method: _automatic_pb2.AutoMethod
    ais: _automatic_pb2.AISParams
    amg: _automatic_pb2.AMGParams
    min_overlap: float
    gap_closing: int
    min_z_extent: int
    all_planes: bool
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., method: _Optional[_Union[_automatic_pb2.AutoMethod, str]] = ..., ais: _Optional[_Union[_automatic_pb2.AISParams, _Mapping]] = ..., amg: _Optional[_Union[_automatic_pb2.AMGParams, _Mapping]] = ..., min_overlap: _Optional[float] = ..., gap_closing: _Optional[int] = ..., min_z_extent: _Optional[int] = ..., all_planes: _Optional[bool] = ...) -> None: ...

class VolumeResult(_message.Message):
    __slots__ = ("labels", "objects", "z_begin", "z_end")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    Z_BEGIN_FIELD_NUMBER: _ClassVar[int]
    Z_END_FIELD_NUMBER: _ClassVar[int]
    labels: _common_pb2.NDArray
    objects: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectInfo]
    z_begin: int
    z_end: int
    def __init__(self, labels: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., objects: _Optional[_Iterable[_Union[_common_pb2.ObjectInfo, _Mapping]]] = ..., z_begin: _Optional[int] = ..., z_end: _Optional[int] = ...) -> None: ...

class VolumeEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: VolumeResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[VolumeResult, _Mapping]] = ...) -> None: ...
