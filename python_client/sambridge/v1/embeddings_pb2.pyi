from sambridge.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmbedRequest(_message.Message):
    __slots__ = ("key", "indices")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.EmbeddingKey
    indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, key: _Optional[_Union[_common_pb2.EmbeddingKey, _Mapping]] = ..., indices: _Optional[_Iterable[int]] = ...) -> None: ...

class EmbedResult(_message.Message):
    __slots__ = ("n_tiles", "n_slices", "n_cached", "seconds")
    N_TILES_FIELD_NUMBER: _ClassVar[int]
    N_SLICES_FIELD_NUMBER: _ClassVar[int]
    N_CACHED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    n_tiles: int
    n_slices: int
    n_cached: int
    seconds: float
    def __init__(self, n_tiles: _Optional[int] = ..., n_slices: _Optional[int] = ..., n_cached: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class EmbedEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: EmbedResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[EmbedResult, _Mapping]] = ...) -> None: ...
