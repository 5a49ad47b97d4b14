from sambridge.v1 import common_pb2 as _common_pb2
from sambridge.v1 import automatic_pb2 as _automatic_pb2
from sambridge.v1 import volume_pb2 as _volume_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrackMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACK_METHOD_UNSPECIFIED: _ClassVar[TrackMethod]
    AUTO: _ClassVar[TrackMethod]
    INTERACTIVE: _ClassVar[TrackMethod]
TRACK_METHOD_UNSPECIFIED: TrackMethod
AUTO: TrackMethod
INTERACTIVE: TrackMethod

class TrackingCosts(_message.Message):
    __slots__ = ("max_distance", "edge_distance_weight", "edge_iou_weight", "appear_cost", "split_cost", "selection_reward", "time_limit_s", "disappear_cost", "edge_constant")
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    EDGE_DISTANCE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    EDGE_IOU_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    APPEAR_COST_FIELD_NUMBER: _ClassVar[int]
    SPLIT_COST_FIELD_NUMBER: _ClassVar[int]
    SELECTION_REWARD_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    DISAPPEAR_COST_FIELD_NUMBER: _ClassVar[int]
    EDGE_CONSTANT_FIELD_NUMBER: _ClassVar[int]
    max_distance: float
    edge_distance_weight: float
    edge_iou_weight: float
    appear_cost: float
    split_cost: float
    selection_reward: float
    time_limit_s: float
    disappear_cost: float
    edge_constant: float
    def __init__(self, max_distance: _Optional[float] = ..., edge_distance_weight: _Optional[float] = ..., edge_iou_weight: _Optional[float] = ..., appear_cost: _Optional[float] = ..., split_cost: _Optional[float] = ..., selection_reward: _Optional[float] = ..., time_limit_s: _Optional[float] = ..., disappear_cost: _Optional[float] = ..., edge_constant: _Optional[float] = ...) -> None: ...

class Division(_message.Message):
    __slots__ = ("t", "daughter_a", "daughter_b")
    T_FIELD_NUMBER: _ClassVar[int]
    DAUGHTER_A_FIELD_NUMBER: _ClassVar[int]
    DAUGHTER_B_FIELD_NUMBER: _ClassVar[int]
    t: int
    daughter_a: FrameAnnotation
    daughter_b: FrameAnnotation
    def __init__(self, t: _Optional[int] = ..., daughter_a: _Optional[_Union[FrameAnnotation, _Mapping]] = ..., daughter_b: _Optional[_Union[FrameAnnotation, _Mapping]] = ...) -> None: ...

class FrameAnnotation(_message.Message):
    __slots__ = ("t", "mask", "points", "box")
    T_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    t: int
    mask: _common_pb2.Mask
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    box: _common_pb2.Box
    def __init__(self, t: _Optional[int] = ..., mask: _Optional[_Union[_common_pb2.Mask, _Mapping]] = ..., points: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ...) -> None: ...

class TrackRequest(_message.Message):
    __slots__ = ("key", "method", "labels_image_id", "segmentation_method", "ais", "costs", "start", "divisions", "iou_threshold", "backward", "projection", "box_extension", "motion_smoothing", "amg", "follow_method")
    KEY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LABELS_IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_METHOD_FIELD_NUMBER: _ClassVar[int]
    AIS_FIELD_NUMBER: _ClassVar[int]
    COSTS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    DIVISIONS_FIELD_NUMBER: _ClassVar[int]
    IOU_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BACKWARD_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    BOX_EXTENSION_FIELD_NUMBER: _ClassVar[int]
    MOTION_SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    AMG_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_METHOD_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    method: TrackMethod
    labels_image_id: str
    segmentation_method: _automatic_pb2.AutoMethod
    ais: _automatic_pb2.AISParams
    costs: TrackingCosts
    start: FrameAnnotation
    divisions: _containers.RepeatedCompositeFieldContainer[Division]
    iou_threshold: float
    backward: bool
    projection: _volume_pb2.ProjectionMode
    box_extension: float
    motion_smoothing: float
    amg: _automatic_pb2.AMGParams
    follow_method: str
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., method: _Optional[_Union[TrackMethod, str]] = ..., labels_image_id: _Optional[str] = ..., segmentation_method: _Optional[_Union[_automatic_pb2.AutoMethod, str]] = ..., ais: _Optional[_Union[_automatic_pb2.AISParams, _Mapping]] = ..., costs: _Optional[_Union[TrackingCosts, _Mapping]] = ..., start: _Optional[_Union[FrameAnnotation, _Mapping]] = ..., divisions: _Optional[_Iterable[_Union[Division, _Mapping]]] = ..., iou_threshold: _Optional[float] = ..., backward: _Optional[bool] = ..., projection: _Optional[_Union[_volume_pb2.ProjectionMode, str]] = ..., box_extension: _Optional[float] = ..., motion_smoothing: _Optional[float] = ..., amg: _Optional[_Union[_automatic_pb2.AMGParams, _Mapping]] = ..., follow_method: _Optional[str] = ...) -> None: ...

class Track(_message.Message):
    __slots__ = ("id", "begin", "end", "parent")
    ID_FIELD_NUMBER: _ClassVar[int]
    BEGIN_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    id: int
    begin: int
    end: int
    parent: int
    def __init__(self, id: _Optional[int] = ..., begin: _Optional[int] = ..., end: _Optional[int] = ..., parent: _Optional[int] = ...) -> None: ...

class TrackResult(_message.Message):
    __slots__ = ("labels", "tracks", "optimal", "solver_status", "n_divisions", "stop_reasons")
    class StopReasonsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: str
        def __init__(self, key: _Optional[int] = ..., value: _Optional[str] = ...) -> None: ...
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TRACKS_FIELD_NUMBER: _ClassVar[int]
    OPTIMAL_FIELD_NUMBER: _ClassVar[int]
    SOLVER_STATUS_FIELD_NUMBER: _ClassVar[int]
    N_DIVISIONS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASONS_FIELD_NUMBER: _ClassVar[int]
    labels: _common_pb2.NDArray
    tracks: _containers.RepeatedCompositeFieldContainer[Track]
    optimal: bool
    solver_status: str
    n_divisions: int
    stop_reasons: _containers.ScalarMap[int, str]
    def __init__(self, labels: _Optional[_Union[_common_pb2.NDArray, _Mapping]] = ..., tracks: _Optional[_Iterable[_Union[Track, _Mapping]]] = ..., optimal: _Optional[bool] = ..., solver_status: _Optional[str] = ..., n_divisions: _Optional[int] = ..., stop_reasons: _Optional[_Mapping[int, str]] = ...) -> None: ...

class TrackEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: TrackResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[TrackResult, _Mapping]] = ...) -> None: ...
