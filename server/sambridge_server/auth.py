"""Bearer-token authentication as a gRPC server interceptor."""

from __future__ import annotations

import hmac

import grpc

# Health checks stay open so that load balancers and probes work without the token.
_OPEN_METHODS = ("/grpc.health.v1.Health/",)


def _deny(message: str) -> grpc.RpcMethodHandler:
    def abort(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    return grpc.unary_unary_rpc_method_handler(abort)


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls whose ``authorization`` metadata is not ``Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, handler_call_details):
        """Let the call through only with the right token (constant-time compare)."""
        if handler_call_details.method.startswith(_OPEN_METHODS):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = metadata.get("authorization", "")
        if not given:
            return _deny("missing token: send metadata 'authorization: Bearer <token>'")
        if not hmac.compare_digest(given.encode(), self._expected):
            return _deny("invalid token")
        return continuation(handler_call_details)
