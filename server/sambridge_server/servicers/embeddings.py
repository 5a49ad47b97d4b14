"""EmbeddingService: compute or fetch embeddings with streamed progress."""

from __future__ import annotations

from sambridge.v1 import embeddings_pb2, embeddings_pb2_grpc
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.convert import embedding_request
from sambridge_server.servicers.rpc import stream


class EmbeddingServicer(embeddings_pb2_grpc.EmbeddingServiceServicer):
    """Precomputation of embeddings (otherwise computed lazily by other calls)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def Embed(self, request, context):
        """Stream progress while embedding every requested slice, then a summary."""

        def work(control):
            return self.workspace.embed(
                embedding_request(request.key), list(request.indices),
                progress=lambda done, total: control.progress(done, total, "embedding"),
                cancelled=control.cancelled,
            )

        return stream(
            context, work,
            lambda p: embeddings_pb2.EmbedEvent(progress=p),
            lambda s: embeddings_pb2.EmbedEvent(result=embeddings_pb2.EmbedResult(
                n_tiles=s.n_tiles, n_slices=s.n_slices, n_cached=s.n_cached, seconds=s.seconds)),
        )
