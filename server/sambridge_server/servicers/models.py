"""ModelService: list, load and describe models; server information."""

from __future__ import annotations

from sambridge.v1 import common_pb2, models_pb2, models_pb2_grpc
from sambridge_server import __version__
from sambridge_server.engine.errors import InvalidInput
from sambridge_server.engine.models import LoadedModel
from sambridge_server.engine.workspace import Workspace
from sambridge_server.paths import confine
from sambridge_server.servicers.rpc import unary


def model_info(model: LoadedModel, workspace: Workspace) -> models_pb2.ModelInfo:
    """The wire description of a loaded model."""
    return models_pb2.ModelInfo(
        name=model.name, model_type=model.model_type, model_hash=model.model_hash,
        has_decoder=model.decoder_state is not None, device=str(model.device),
        precision=workspace.precision, is_default=model.name == workspace.models.default_name,
        encoder_embed_dim=model.config.embed_dim, encoder_depth=model.config.depth,
        native_tiling=None if model.native_tiling is None else common_pb2.Tiling(
            tile_shape=list(model.native_tiling.tile_shape), halo=list(model.native_tiling.halo)),
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
    def LoadModel(self, request, context) -> models_pb2.ModelInfo:
        """Load a checkpoint from inside a configured model root."""
        if not request.name:
            raise InvalidInput("a model name is required")
        path = confine(request.checkpoint_path, self.workspace.config.model_roots, "checkpoint path")
        model = self.workspace.load_model(path, request.model_type or None, request.name)
        return model_info(model, self.workspace)

    @unary
    def GetServerInfo(self, request, context) -> models_pb2.ServerInfo:
        """Version, device, limits and capabilities."""
        config = self.workspace.config
        return models_pb2.ServerInfo(
            version=__version__, device=self.workspace.device, max_message_bytes=config.max_message_bytes,
            max_image_pixels=config.max_image_pixels, default_model=self.workspace.models.default_name or "",
            default_precision=self.workspace.precision, capabilities=self.workspace.capabilities(),
        )
