"""Admission of calls: a bound on calls in flight that never applies to health probes.

gRPC's own ``maximum_concurrent_rpcs`` counts every call, so a server saturated by long or
stalled calls also refuses its health checks. Here the bound covers the service calls only;
the thread pool has a few threads more than the bound, so a probe always finds one at once.

Watchers of a training job (WatchJob) are not service calls in that sense: they wait for as long
as a job runs. They have a bound of their own (server-wide and per caller) and threads of their
own in the pool, so open watchers never take a slot or a thread from Segment, uploads or probes;
a watcher beyond either bound is refused at once with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import threading
from typing import Callable

import grpc

from sambridge_server.engine.errors import ResourceExhausted
from sambridge_server.servicers.rpc import caller_id

PROBE_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")
PROBE_THREADS = 4  # pool threads beyond the in-flight bound, kept for probes
WATCH_METHODS = ("/sambridge.v1.TrainingService/WatchJob", "/sambridge.v1.BatchService/WatchJob")


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
    """Refuses service calls beyond ``limit`` in flight with RESOURCE_EXHAUSTED; probes always pass.

    Job watchers are counted apart: at most ``watch_limit`` in all and ``watch_per_caller`` per
    caller (``caller_id``). The server's pool needs ``limit + watch_limit + PROBE_THREADS`` threads.
    """

    def __init__(self, limit: int, watch_limit: int = 32, watch_per_caller: int = 4) -> None:
        self.limit = limit
        self.watch_limit, self.watch_per_caller = watch_limit, watch_per_caller
        self._in_flight = 0
        self._watchers: dict[str, int] = {}  # caller -> open watchers
        self._lock = threading.Lock()

    @property
    def watching(self) -> int:
        """Job watchers currently open."""
        with self._lock:
            return sum(self._watchers.values())

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
        if handler_call_details.method in WATCH_METHODS and handler.unary_stream:
            return handler._replace(unary_stream=self._watcher(handler.unary_stream))
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
            yield from _released_at_end(behavior, request, context, self._release)

        return wrapper


    def _admit_watcher(self, caller: str) -> str:
        """Count a new watcher of ``caller``; the refusal message ("" if admitted)."""
        with self._lock:
            if sum(self._watchers.values()) >= self.watch_limit:
                return (f"the server is busy: {self.watch_limit} job watchers are open (its limit); "
                        "poll GetJob or retry later")
            if self._watchers.get(caller, 0) >= self.watch_per_caller:
                return (f"this caller already watches {self.watch_per_caller} jobs (the limit per caller); "
                        "close one or poll GetJob")
            self._watchers[caller] = self._watchers.get(caller, 0) + 1
            return ""

    def _release_watcher(self, caller: str) -> None:
        with self._lock:
            self._watchers[caller] -= 1
            if not self._watchers[caller]:
                del self._watchers[caller]

    def _watcher(self, behavior: Callable) -> Callable:
        """``behavior`` (a WatchJob) counted as a watcher of its caller, or refused at once."""
        def wrapper(request, context):
            caller = caller_id(context)
            refusal = self._admit_watcher(caller)
            if refusal:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
            yield from _released_at_end(behavior, request, context, lambda: self._release_watcher(caller))

        return wrapper


def _released_at_end(behavior: Callable, request, context, release: Callable[[], None]):
    """Stream ``behavior``'s responses and call ``release`` exactly once when the call ends.

    A stream the server never starts iterating would keep what it holds: the call's end callback
    releases it too, and the callback and the generator's end may race, hence the once-lock.
    """
    once = threading.Lock()

    def release_once() -> None:
        if once.acquire(blocking=False):
            release()

    context.add_callback(release_once)
    try:
        yield from behavior(request, context)
    finally:
        release_once()


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
