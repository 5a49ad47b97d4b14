"""VolumeService: propagation through z and automatic 3D (not yet implemented)."""

from __future__ import annotations

from sambridge.v1 import volume_pb2_grpc
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.rpc import unimplemented


class VolumeServicer(volume_pb2_grpc.VolumeServiceServicer):
    """Answers UNIMPLEMENTED until the volume engine lands."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    Propagate = unimplemented("volume propagation")
    PropagateObjects = unimplemented("many-object volume propagation")
    AutoSegment3D = unimplemented("automatic 3D segmentation")
