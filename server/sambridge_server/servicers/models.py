"""ModelService: list, load and describe models; server information."""

from __future__ import annotations

import grpc

from sambridge.v1 import common_pb2, models_pb2, models_pb2_grpc
from sambridge_server import __version__
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.model_families import capabilities_of, family_of
from sambridge_server.engine.models import LoadedModel
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.rpc import stream, unary


def model_info(model: LoadedModel, workspace: Workspace) -> models_pb2.ModelInfo:
    """The wire description of a loaded model."""
    return models_pb2.ModelInfo(
        name=model.name, model_type=model.model_type, model_hash=model.model_hash,
        has_decoder=model.decoder_state is not None, device=str(model.device),
        precision=workspace.precision, is_default=model.name == workspace.models.default_name,
        encoder_embed_dim=model.config.embed_dim, encoder_depth=model.config.depth,
        native_tiling=None if model.native_tiling is None else common_pb2.Tiling(
            tile_shape=list(model.native_tiling.tile_shape), halo=list(model.native_tiling.halo)),
        capabilities=list(capabilities_of(model)), family=family_of(model),
    )


class ModelServicer(models_pb2_grpc.ModelServiceServicer):
    """Models served by this server."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @unary
    def ListModels(self, request, context) -> models_pb2.ListModelsResponse:
        """All loaded models."""
        return models_pb2.ListModelsResponse(models=[model_info(m, self.workspace) for m in self.workspace.models.list()])

    @unary
    def DescribeModel(self, request, context) -> models_pb2.ModelInfo:
        """One model by name (empty = default)."""
        return model_info(self.workspace.models.get(request.name), self.workspace)

    @unary
    def UnloadModel(self, request, context) -> models_pb2.UnloadModelResponse:
        """Stop serving a model (not the default)."""
        self.workspace.unload_model(request.name)
        return models_pb2.UnloadModelResponse()

    @unary
    def LoadModel(self, request, context) -> models_pb2.ModelInfo:
        """Load a checkpoint from inside a configured model root, or a registry model by name."""
        if not request.name:
            raise InvalidInput("a model name is required")
        if not request.checkpoint_path:
            return model_info(self.workspace.pull_model(request.name), self.workspace)
        model = self.workspace.load_model_from_roots(request.checkpoint_path, request.model_type or None, request.name)
        return model_info(model, self.workspace)

    def PullModel(self, request, context):
        """Stream the download/verify/load progress of a registry model, then its ModelInfo."""
        if not request.name or request.checkpoint_path:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "PullModel takes the name of a registry model and no checkpoint_path")
        return stream(
            context, lambda control: self.workspace.pull_model(request.name, progress=control.progress),
            lambda p: models_pb2.PullModelEvent(progress=p),
            lambda m: models_pb2.PullModelEvent(model=model_info(m, self.workspace)),
        )

    @unary
    def ListAvailableModels(self, request, context) -> models_pb2.ListAvailableModelsResponse:
        """The registry's models, with whether each is downloaded and loaded."""
        zoo, loaded = self.workspace.zoo, {m.name for m in self.workspace.models.list()}
        return models_pb2.ListAvailableModelsResponse(models=[
            models_pb2.AvailableModel(
                name=e.name, model_type=e.model_type, has_decoder=e.decoder is not None,
                downloaded=zoo.is_downloaded(e.name), loaded=e.name in loaded, description=e.description,
                url=e.checkpoint.url)
            for e in sorted(zoo.registry.values(), key=lambda e: e.name)
        ])

    @unary
    def GetServerInfo(self, request, context) -> models_pb2.ServerInfo:
        """Version, device, limits and capabilities."""
        config = self.workspace.config
        return models_pb2.ServerInfo(
            version=__version__, device=self.workspace.device, max_message_bytes=config.max_message_bytes,
            max_image_pixels=config.max_image_pixels, default_model=self.workspace.models.default_name or "",
            default_precision=self.workspace.precision, capabilities=self.workspace.capabilities(),
        )
