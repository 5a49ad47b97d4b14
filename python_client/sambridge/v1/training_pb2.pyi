from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    QUEUED: _ClassVar[JobState]
    RUNNING: _ClassVar[JobState]
    SUCCEEDED: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    CANCELLED: _ClassVar[JobState]
JOB_STATE_UNSPECIFIED: JobState
QUEUED: JobState
RUNNING: JobState
SUCCEEDED: JobState
FAILED: JobState
CANCELLED: JobState

class TrainingPair(_message.Message):
    __slots__ = ("image_id", "labels_id")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_ID_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    labels_id: str
    def __init__(self, image_id: _Optional[str] = ..., labels_id: _Optional[str] = ...) -> None: ...

class StartTrainingRequest(_message.Message):
    __slots__ = ("output_model", "base_model", "pairs", "data_dir", "preset", "epochs", "time_budget_s", "validation_fraction", "lora_rank", "train_decoder", "n_objects_per_batch", "lr", "steps_per_epoch", "patch_size", "freeze_encoder")
    OUTPUT_MODEL_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    TIME_BUDGET_S_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FRACTION_FIELD_NUMBER: _ClassVar[int]
    LORA_RANK_FIELD_NUMBER: _ClassVar[int]
    TRAIN_DECODER_FIELD_NUMBER: _ClassVar[int]
    N_OBJECTS_PER_BATCH_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    STEPS_PER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    PATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    FREEZE_ENCODER_FIELD_NUMBER: _ClassVar[int]
    output_model: str
    base_model: str
    pairs: _containers.RepeatedCompositeFieldContainer[TrainingPair]
    data_dir: str
    preset: str
    epochs: int
    time_budget_s: float
    validation_fraction: float
    lora_rank: int
    train_decoder: bool
    n_objects_per_batch: int
    lr: float
    steps_per_epoch: int
    patch_size: int
    freeze_encoder: bool
    def __init__(self, output_model: _Optional[str] = ..., base_model: _Optional[str] = ..., pairs: _Optional[_Iterable[_Union[TrainingPair, _Mapping]]] = ..., data_dir: _Optional[str] = ..., preset: _Optional[str] = ..., epochs: _Optional[int] = ..., time_budget_s: _Optional[float] = ..., validation_fraction: _Optional[float] = ..., lora_rank: _Optional[int] = ..., train_decoder: _Optional[bool] = ..., n_objects_per_batch: _Optional[int] = ..., lr: _Optional[float] = ..., steps_per_epoch: _Optional[int] = ..., patch_size: _Optional[int] = ..., freeze_encoder: _Optional[bool] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "state", "output_model", "message", "epoch", "step", "best_val_msa", "checkpoint_path")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_MODEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    BEST_VAL_MSA_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_PATH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: JobState
    output_model: str
    message: str
    epoch: int
    step: int
    best_val_msa: float
    checkpoint_path: str
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., output_model: _Optional[str] = ..., message: _Optional[str] = ..., epoch: _Optional[int] = ..., step: _Optional[int] = ..., best_val_msa: _Optional[float] = ..., checkpoint_path: _Optional[str] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class TrainingProgress(_message.Message):
    __slots__ = ("epoch", "step", "total_steps", "losses", "val_msa", "eta_s", "lr")
    class LossesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    VAL_MSA_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    step: int
    total_steps: int
    losses: _containers.ScalarMap[str, float]
    val_msa: float
    eta_s: float
    lr: float
    def __init__(self, epoch: _Optional[int] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ..., losses: _Optional[_Mapping[str, float]] = ..., val_msa: _Optional[float] = ..., eta_s: _Optional[float] = ..., lr: _Optional[float] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job", "progress")
    JOB_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    job: Job
    progress: TrainingProgress
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., progress: _Optional[_Union[TrainingProgress, _Mapping]] = ...) -> None: ...
