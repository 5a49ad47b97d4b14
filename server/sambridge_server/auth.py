"""Bearer-token authentication as a gRPC server interceptor."""

from __future__ import annotations

import hmac

import grpc

from sambridge_server.servicers.admission import refusing_handler

# Health checks stay open so that load balancers and probes work without the token.
_OPEN_METHODS = ("/grpc.health.v1.Health/",)


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls whose ``authorization`` metadata is not ``Bearer <token>`` (or the admin token)."""

    def __init__(self, token: str, admin_token: str | None = None) -> None:
        self._accepted = [f"Bearer {t}".encode() for t in (token, admin_token) if t]

    def intercept_service(self, continuation, handler_call_details):
        """Let the call through only with the right token (constant-time compare)."""
        if handler_call_details.method.startswith(_OPEN_METHODS):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = metadata.get("authorization", "")
        if not given:
            return refusing_handler(continuation(handler_call_details), grpc.StatusCode.UNAUTHENTICATED,
                                    "missing token: send metadata 'authorization: Bearer <token>'")
        # Every accepted token is compared, so the time taken does not say which one was close.
        if not sum(hmac.compare_digest(given.encode(), accepted) for accepted in self._accepted):
            return refusing_handler(continuation(handler_call_details), grpc.StatusCode.UNAUTHENTICATED,
                                    "invalid token")
        return continuation(handler_call_details)
