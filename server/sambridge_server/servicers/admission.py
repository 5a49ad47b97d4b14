"""Admission of calls: a bound on calls in flight that never applies to health probes.

gRPC's own ``maximum_concurrent_rpcs`` counts every call, so a server saturated by long or
stalled calls also refuses its health checks. Here the bound covers the service calls only;
the thread pool has a few threads more than the bound, so a probe always finds one at once.
"""

from __future__ import annotations

import threading
from typing import Callable

import grpc

from sambridge_server.engine.errors import ResourceExhausted

PROBE_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")
PROBE_THREADS = 4  # pool threads beyond the in-flight bound, kept for probes


def refusing_handler(handler: grpc.RpcMethodHandler | None, code: grpc.StatusCode,
                     message: str) -> grpc.RpcMethodHandler | None:
    """A handler of the same kind as ``handler`` that answers ``code`` at once.

    For a streaming request it never reads the stream: a refused caller cannot make the server
    wait for (or buffer) its first message.
    """
    if handler is None:
        return None

    def refuse(request_or_iterator, context):
        context.abort(code, message)

    kind = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return kind(refuse)


class AdmissionInterceptor(grpc.ServerInterceptor):
    """Refuses service calls beyond ``limit`` in flight with RESOURCE_EXHAUSTED; probes always pass."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        """Service calls currently admitted."""
        with self._lock:
            return self._in_flight

    def intercept_service(self, continuation, handler_call_details):
        """Admit the call (counting it until it ends) or refuse it at once."""
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(PROBE_METHODS):
            return handler
        with self._lock:
            if self._in_flight >= self.limit:
                return refusing_handler(handler, grpc.StatusCode.RESOURCE_EXHAUSTED,
                                        f"the server is busy: {self.limit} calls are in flight; retry with back-off")
            self._in_flight += 1
        for field in ("unary_unary", "stream_unary"):
            if getattr(handler, field):
                return handler._replace(**{field: self._counted(getattr(handler, field))})
        for field in ("unary_stream", "stream_stream"):
            if getattr(handler, field):
                return handler._replace(**{field: self._counted_stream(getattr(handler, field))})
        self._release()
        return handler

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _counted(self, behavior: Callable) -> Callable:
        def wrapper(request, context):
            try:
                return behavior(request, context)
            finally:
                self._release()

        return wrapper

    def _counted_stream(self, behavior: Callable) -> Callable:
        def wrapper(request, context):
            # A stream the server never starts iterating would keep its slot: count it down
            # when the call ends, whichever way it ends.
            once = threading.Lock()  # the callback and the generator's end may race: release once

            def release() -> None:
                if once.acquire(blocking=False):
                    self._release()

            context.add_callback(release)
            try:
                yield from behavior(request, context)
            finally:
                release()

        return wrapper


class ByteBudget:
    """A server-wide budget of bytes held by calls in progress (uploads being received)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes reserved now."""
        with self._lock:
            return self._used

    def reserve(self, nbytes: int, what: str) -> "_Reservation":
        """Reserve ``nbytes`` (ResourceExhausted when the budget cannot hold them); use as a context."""
        with self._lock:
            if self._used + nbytes > self.limit:
                raise ResourceExhausted(
                    f"{what} needs {nbytes / 2**20:.0f} MiB but {self._used / 2**20:.0f} of the server's "
                    f"{self.limit / 2**20:.0f} MiB for uploads in progress are taken; retry with back-off"
                )
            self._used += nbytes
        return _Reservation(self, nbytes)

    def _release(self, nbytes: int) -> None:
        with self._lock:
            self._used -= nbytes


class _Reservation:
    def __init__(self, budget: ByteBudget, nbytes: int) -> None:
        self._budget, self._nbytes = budget, nbytes

    def __enter__(self) -> "_Reservation":
        return self

    def __exit__(self, *exc) -> None:
        self._budget._release(self._nbytes)
