from sambridge.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class ModelRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnloadModelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LoadModelRequest(_message.Message):
    __slots__ = ("name", "checkpoint_path", "model_type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_PATH_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    checkpoint_path: str
    model_type: str
    def __init__(self, name: _Optional[str] = ..., checkpoint_path: _Optional[str] = ..., model_type: _Optional[str] = ...) -> None: ...

class PullModelEvent(_message.Message):
    __slots__ = ("progress", "model")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    model: ModelInfo
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class ListAvailableModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AvailableModel(_message.Message):
    __slots__ = ("name", "model_type", "has_decoder", "downloaded", "loaded", "description", "url")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    HAS_DECODER_FIELD_NUMBER: _ClassVar[int]
    DOWNLOADED_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_type: str
    has_decoder: bool
    downloaded: bool
    loaded: bool
    description: str
    url: str
    def __init__(self, name: _Optional[str] = ..., model_type: _Optional[str] = ..., has_decoder: _Optional[bool] = ..., downloaded: _Optional[bool] = ..., loaded: _Optional[bool] = ..., description: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class ListAvailableModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[AvailableModel]
    def __init__(self, models: _Optional[_Iterable[_Union[AvailableModel, _Mapping]]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "model_type", "model_hash", "has_decoder", "device", "precision", "is_default", "encoder_embed_dim", "encoder_depth", "native_tiling", "capabilities", "family")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    HAS_DECODER_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    ENCODER_EMBED_DIM_FIELD_NUMBER: _ClassVar[int]
    ENCODER_DEPTH_FIELD_NUMBER: _ClassVar[int]
    NATIVE_TILING_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_type: str
    model_hash: str
    has_decoder: bool
    device: str
    precision: str
    is_default: bool
    encoder_embed_dim: int
    encoder_depth: int
    native_tiling: _common_pb2.Tiling
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    family: str
    def __init__(self, name: _Optional[str] = ..., model_type: _Optional[str] = ..., model_hash: _Optional[str] = ..., has_decoder: _Optional[bool] = ..., device: _Optional[str] = ..., precision: _Optional[str] = ..., is_default: _Optional[bool] = ..., encoder_embed_dim: _Optional[int] = ..., encoder_depth: _Optional[int] = ..., native_tiling: _Optional[_Union[_common_pb2.Tiling, _Mapping]] = ..., capabilities: _Optional[_Iterable[str]] = ..., family: _Optional[str] = ...) -> None: ...

class ServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("version", "device", "max_message_bytes", "max_image_pixels", "default_model", "default_precision", "capabilities")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGE_PIXELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PRECISION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    version: str
    device: str
    max_message_bytes: int
    max_image_pixels: int
    default_model: str
    default_precision: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[str] = ..., device: _Optional[str] = ..., max_message_bytes: _Optional[int] = ..., max_image_pixels: _Optional[int] = ..., default_model: _Optional[str] = ..., default_precision: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ...) -> None: ...
