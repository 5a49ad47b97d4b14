"""TrackingService (not yet implemented)."""

from __future__ import annotations

from sambridge.v1 import tracking_pb2_grpc
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.rpc import unimplemented


class TrackingServicer(tracking_pb2_grpc.TrackingServiceServicer):
    """Answers UNIMPLEMENTED until the tracking engine is wired."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    Track = unimplemented("tracking")
