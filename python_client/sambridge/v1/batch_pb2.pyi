from sambridge.v1 import common_pb2 as _common_pb2
from sambridge.v1 import training_pb2 as _training_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartBatchRequest(_message.Message):
    __slots__ = ("inputs", "image_ids", "output", "method", "model", "params", "level", "chunk_size", "overlap", "auto_3d", "tiling", "precision")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    AUTO_3D_FIELD_NUMBER: _ClassVar[int]
    TILING_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedScalarFieldContainer[str]
    image_ids: _containers.RepeatedScalarFieldContainer[str]
    output: str
    method: str
    model: str
    params: _containers.ScalarMap[str, float]
    level: int
    chunk_size: int
    overlap: int
    auto_3d: bool
    tiling: _common_pb2.Tiling
    precision: str
    def __init__(self, inputs: _Optional[_Iterable[str]] = ..., image_ids: _Optional[_Iterable[str]] = ..., output: _Optional[str] = ..., method: _Optional[str] = ..., model: _Optional[str] = ..., params: _Optional[_Mapping[str, float]] = ..., level: _Optional[int] = ..., chunk_size: _Optional[int] = ..., overlap: _Optional[int] = ..., auto_3d: _Optional[bool] = ..., tiling: _Optional[_Union[_common_pb2.Tiling, _Mapping]] = ..., precision: _Optional[str] = ...) -> None: ...

class BatchJob(_message.Message):
    __slots__ = ("job_id", "state", "message", "chunks_total", "chunks_done", "chunks_computed", "chunks_reused", "n_objects", "output", "tables")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_COMPUTED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_REUSED_FIELD_NUMBER: _ClassVar[int]
    N_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: _training_pb2.JobState
    message: str
    chunks_total: int
    chunks_done: int
    chunks_computed: int
    chunks_reused: int
    n_objects: int
    output: str
    tables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[_training_pb2.JobState, str]] = ..., message: _Optional[str] = ..., chunks_total: _Optional[int] = ..., chunks_done: _Optional[int] = ..., chunks_computed: _Optional[int] = ..., chunks_reused: _Optional[int] = ..., n_objects: _Optional[int] = ..., output: _Optional[str] = ..., tables: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchProgress(_message.Message):
    __slots__ = ("progress", "chunks_computed", "chunks_reused", "eta_s")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_COMPUTED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_REUSED_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    chunks_computed: int
    chunks_reused: int
    eta_s: float
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., chunks_computed: _Optional[int] = ..., chunks_reused: _Optional[int] = ..., eta_s: _Optional[float] = ...) -> None: ...

class BatchJobEvent(_message.Message):
    __slots__ = ("job", "progress")
    JOB_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    job: BatchJob
    progress: BatchProgress
    def __init__(self, job: _Optional[_Union[BatchJob, _Mapping]] = ..., progress: _Optional[_Union[BatchProgress, _Mapping]] = ...) -> None: ...

class ListBatchJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[BatchJob]
    def __init__(self, jobs: _Optional[_Iterable[_Union[BatchJob, _Mapping]]] = ...) -> None: ...
