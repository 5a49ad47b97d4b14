"""AutomaticService: AIS and AMG over 2D images and stacks."""

from __future__ import annotations

from sambridge import wire
from sambridge.v1 import automatic_pb2, automatic_pb2_grpc
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.convert import embedding_request, method_name, object_info, set_params
from sambridge_server.servicers.rpc import stream

class AutomaticServicer(automatic_pb2_grpc.AutomaticServiceServicer):
    """Automatic instance segmentation with progress per slice."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def AutoSegment(self, request, context):
        """Stream progress, then the label image (and per-object summaries)."""

        def work(control):
            return self.workspace.auto_segment(
                embedding_request(request.key), method_name(request.method),
                ais_params=set_params(request.ais), amg_params=set_params(request.amg),
                indices=list(request.indices),
                progress=lambda done, total, stage="segmenting": control.progress(done, total, stage),
                cancelled=control.cancelled,
            )

        return stream(
            context, work,
            lambda p: automatic_pb2.AutoSegmentEvent(progress=p),
            lambda r: automatic_pb2.AutoSegmentEvent(result=automatic_pb2.AutoSegmentResult(
                labels=wire.to_ndarray(r.labels, r.axes), objects=[object_info(o) for o in r.objects],
                method=r.method)),
        )
