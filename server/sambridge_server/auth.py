"""Bearer-token authentication as a gRPC server interceptor."""

from __future__ import annotations

import hmac

import grpc

# Health checks stay open so that load balancers and probes work without the token.
_OPEN_METHODS = ("/grpc.health.v1.Health/",)


def _deny(handler: grpc.RpcMethodHandler | None, message: str) -> grpc.RpcMethodHandler | None:
    """A handler of the same kind as ``handler`` that refuses at once.

    For a streaming request it never reads the stream: a caller without the token cannot make the
    server wait for (or buffer) its first message.
    """
    if handler is None:
        return None

    def abort(request_or_iterator, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    kind = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return kind(abort)


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
            return _deny(continuation(handler_call_details),
                         "missing token: send metadata 'authorization: Bearer <token>'")
        if not hmac.compare_digest(given.encode(), self._expected):
            return _deny(continuation(handler_call_details), "invalid token")
        return continuation(handler_call_details)
