from sambridge.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AutoMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTO_METHOD_UNSPECIFIED: _ClassVar[AutoMethod]
    AIS: _ClassVar[AutoMethod]
    AMG: _ClassVar[AutoMethod]
AUTO_METHOD_UNSPECIFIED: AutoMethod
AIS: AutoMethod
AMG: AutoMethod

class AISParams(_message.Message):
    __slots__ = ("center_distance_threshold", "boundary_distance_threshold", "foreground_threshold", "foreground_smoothing", "distance_smoothing", "min_size")
    CENTER_DISTANCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BOUNDARY_DISTANCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FOREGROUND_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FOREGROUND_SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    center_distance_threshold: float
    boundary_distance_threshold: float
    foreground_threshold: float
    foreground_smoothing: float
    distance_smoothing: float
    min_size: int
    def __init__(self, center_distance_threshold: _Optional[float] = ..., boundary_distance_threshold: _Optional[float] = ..., foreground_threshold: _Optional[float] = ..., foreground_smoothing: _Optional[float] = ..., distance_smoothing: _Optional[float] = ..., min_size: _Optional[int] = ...) -> None: ...

class AMGParams(_message.Message):
    __slots__ = ("points_per_side", "points_per_batch", "pred_iou_thresh", "stability_score_thresh", "stability_score_offset", "box_nms_thresh", "min_mask_region_area")
    POINTS_PER_SIDE_FIELD_NUMBER: _ClassVar[int]
    POINTS_PER_BATCH_FIELD_NUMBER: _ClassVar[int]
    PRED_IOU_THRESH_FIELD_NUMBER: _ClassVar[int]
    STABILITY_SCORE_THRESH_FIELD_NUMBER: _ClassVar[int]
    STABILITY_SCORE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    BOX_NMS_THRESH_FIELD_NUMBER: _ClassVar[int]
    MIN_MASK_REGION_AREA_FIELD_NUMBER: _ClassVar[int]
    points_per_side: int
    points_per_batch: int
    pred_iou_thresh: float
    stability_score_thresh: float
    stability_score_offset: float
    box_nms_thresh: float
    min_mask_region_area: int
    def __init__(self, points_per_side: _Optional[int] = ..., points_per_batch: _Optional[int] = ..., pred_iou_thresh: _Optional[float] = ..., stability_score_thresh: _Optional[float] = ..., stability_score_offset: _Optional[float] = ..., box_nms_thresh: _Optional[float] = ..., min_mask_region_area: _Optional[int] = ...) -> None: ...

class AutoSegmentRequest(_message.Message):
    __slots__ = ("key", "method", "ais", "amg", "indices")
    KEY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    AIS_FIELD_NUMBER: _ClassVar[int]
    AMG_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    method: AutoMethod
    ais: AISParams
    amg: AMGParams
    indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., method: _Optional[_Union[AutoMethod, str]] = ..., ais: _Optional[_Union[AISParams, _Mapping]] = ..., amg: _Optional[_Union[AMGParams, _Mapping]] = ..., indices: _Optional[_Iterable[int]] = ...) -> None: ...

class AutoSegmentResult(_message.Message):
    __slots__ = ("labels", "objects", "method")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    labels: _common_pb2.NDArray
    objects: _containers.RepeatedCompositeFieldContainer[_common_pb2.ObjectInfo]
    method: str
    def __init__(self, labels: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., objects: _Optional[_Iterable[_Union[_common_pb2.ObjectInfo, _Mapping]]] = ..., method: _Optional[str] = ...) -> None: ...

class AutoSegmentEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: AutoSegmentResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[AutoSegmentResult, _Mapping]] = ...) -> None: ...
