"""TrainingService (not yet implemented)."""

from __future__ import annotations

from sambridge.v1 import training_pb2_grpc
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.rpc import unimplemented


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    """Answers UNIMPLEMENTED until finetuning jobs land."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    StartTraining = unimplemented("finetuning jobs")
    WatchJob = unimplemented("finetuning jobs")
    CancelJob = unimplemented("finetuning jobs")
    GetJob = unimplemented("finetuning jobs")
    ListJobs = unimplemented("finetuning jobs")
