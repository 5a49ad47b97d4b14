"""Shared plumbing of the servicers: error mapping and progress streaming."""

from __future__ import annotations

import functools
import hashlib
import itertools
import hmac
import logging
import queue
import threading
import time
from typing import Any, Callable, Iterator

import grpc

from sambridge.wire import WireError
from sambridge_server.engine.errors import (
    Cancelled,
    FailedPrecondition,
    InvalidInput,
    NotFound,
    ResourceExhausted,
)
from sambridge.v1 import common_pb2

log = logging.getLogger("sambridge.server")

class StreamIdle(Exception):
    """A client stream sent nothing for longer than the server's idle limit."""


# Engine exception -> gRPC status. Order matters: NotFound is a KeyError and
# InvalidInput a ValueError, so the specific types come before the generic ones.
_STATUS = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (WireError, grpc.StatusCode.INVALID_ARGUMENT),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (MemoryError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),
    (StreamIdle, grpc.StatusCode.DEADLINE_EXCEEDED),
)


def status_of(exc: BaseException) -> grpc.StatusCode:
    """The gRPC status code for an exception raised by the engine."""
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def abort_call(context: grpc.ServicerContext, exc: BaseException) -> None:
    """End the call with the gRPC status of ``exc`` (engine errors map to their codes; others are INTERNAL)."""
    code = status_of(exc)
    message = str(exc) or type(exc).__name__
    if code == grpc.StatusCode.INTERNAL:
        log.exception("internal error")
        message = f"internal error: {type(exc).__name__}: {message}"
    context.abort(code, message)


def unary(method: Callable) -> Callable:
    """Decorate a unary RPC so engine exceptions become clear gRPC statuses."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except grpc.RpcError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure must become a status
            if context.code() is not None:  # already aborted by the method itself
                raise
            abort_call(context, exc)

    return wrapper


# Health checks and reflection are probes, not work: they are not logged.
_UNLOGGED = ("/grpc.",)


def _request_image(message: Any) -> str:
    """The image id a request or response names (``image_id`` or ``key.image_id``), else ""."""
    fields = getattr(getattr(message, "DESCRIPTOR", None), "fields_by_name", {})
    if "image_id" in fields:
        return message.image_id
    if "key" in fields and message.HasField("key"):
        return message.key.image_id
    return ""


def _log_call(method: str, image: str, start: float, context: grpc.ServicerContext, finished: bool = False) -> None:
    """One INFO line per call: method, image id, milliseconds, status (never metadata or tokens).

    ``finished``: the handler ran to its end (a client may hang up after the last message)."""
    code = context.code()
    if code is None:
        code = grpc.StatusCode.OK if finished or context.is_active() else grpc.StatusCode.CANCELLED
    status = code.name if isinstance(code, grpc.StatusCode) else str(code)
    log.info("%s image=%s %.0f ms %s", method, image or "-", (time.monotonic() - start) * 1000, status)


def _logged_unary(behavior: Callable, method: str, streaming_request: bool) -> Callable:
    def wrapper(request, context):
        start, image = time.monotonic(), "" if streaming_request else _request_image(request)
        try:
            response = behavior(request, context)
            image = image or _request_image(response)
            return response
        finally:
            _log_call(method, image, start, context)

    return wrapper


def _logged_stream(behavior: Callable, method: str, streaming_request: bool) -> Callable:
    def wrapper(request, context):
        start, image = time.monotonic(), "" if streaming_request else _request_image(request)
        finished = False
        try:
            yield from behavior(request, context)
            finished = True
        finally:
            _log_call(method, image, start, context, finished)

    return wrapper


class CallLogInterceptor(grpc.ServerInterceptor):
    """Logs one line per finished call at INFO on ``sambridge.server``:
    ``<Service>/<Method> image=<id or -> <ms> ms <STATUS>``."""

    def intercept_service(self, continuation, handler_call_details):
        """Wrap the call's handler so that its end is logged."""
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_UNLOGGED):
            return handler
        method = handler_call_details.method.rsplit(".", 1)[-1]  # "PromptService/Segment"
        if handler.unary_unary:
            return handler._replace(unary_unary=_logged_unary(handler.unary_unary, method, False))
        if handler.stream_unary:
            return handler._replace(stream_unary=_logged_unary(handler.stream_unary, method, True))
        if handler.unary_stream:
            return handler._replace(unary_stream=_logged_stream(handler.unary_stream, method, False))
        if handler.stream_stream:
            return handler._replace(stream_stream=_logged_stream(handler.stream_stream, method, True))
        return handler


SESSION_METADATA = "sambridge-session"


def caller_id(context: grpc.ServicerContext) -> str:
    """Who is calling, for per-client state (object handles).

    The client's ``sambridge-session`` metadata if sent (the Python client sends a random
    one per Client), else the peer address of the connection ("ipv4:127.0.0.1:54321").
    """
    for key, value in context.invocation_metadata() or ():
        if key == SESSION_METADATA and value:
            return f"session:{value[:128]}"
    return f"peer:{context.peer()}"


def caller_key(context: grpc.ServicerContext) -> str:
    """The caller as an opaque owner key for state the engine keeps (and may write to disk).

    A hash of ``caller_id``: a session id is a bearer secret, so it is never stored as it is.
    """
    return hashlib.sha256(caller_id(context).encode()).hexdigest()[:32]


def is_admin(context: grpc.ServicerContext, admin_token: str | None) -> bool:
    """True when the call carries ``authorization: Bearer <admin_token>`` (constant-time compare)."""
    if not admin_token:
        return False
    given = dict(context.invocation_metadata() or ()).get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {admin_token}".encode())


def call_cancelled(context: grpc.ServicerContext) -> Callable[[], bool]:
    """A ``cancelled()`` for engine work of a unary call: True once the client cancelled or its deadline passed."""
    return lambda: not context.is_active()


def unimplemented(feature: str) -> Callable:
    """A servicer method that answers UNIMPLEMENTED naming the feature."""

    def method(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{feature} is not implemented yet")

    return method


class CallControl:
    """Progress and cancellation handed to a long engine call."""

    def __init__(self, context: grpc.ServicerContext) -> None:
        self._events: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        context.add_callback(self._cancel.set)

    def cancelled(self) -> bool:
        """True once the client cancelled the call or its deadline passed."""
        return self._cancel.is_set()

    def progress(self, done: int, total: int, stage: str = "", message: str = "") -> None:
        """Queue a progress event; raise Cancelled if the client went away."""
        if self._cancel.is_set():
            raise Cancelled("the call was cancelled by the client")
        self._events.put(common_pb2.Progress(stage=stage, done=int(done), total=int(total), message=message))


def stream(
    context: grpc.ServicerContext,
    work: Callable[[CallControl], Any],
    progress_event: Callable[[common_pb2.Progress], Any],
    result_event: Callable[[Any], Any],
) -> Iterator[Any]:
    """Run ``work`` in a thread, yield its progress events, then its result event.

    Engine exceptions become gRPC statuses; a client cancel sets the control's
    flag so that the engine stops at its next progress check.
    """
    control = CallControl(context)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work(control)
        except BaseException as exc:  # noqa: BLE001 - handed to the RPC thread
            outcome["error"] = exc
        finally:
            control._events.put(None)

    thread = threading.Thread(target=run, name="sambridge-work", daemon=True)
    thread.start()
    while True:
        event = control._events.get()
        if event is None:
            break
        if context.is_active():
            yield progress_event(event)
    thread.join()
    if "error" in outcome:
        abort_call(context, outcome["error"])
    try:
        final = result_event(outcome["result"])
    except Exception as exc:  # noqa: BLE001 - a failing conversion must still end with a clear status
        abort_call(context, exc)
    yield final


def idle_limited(messages: Iterator[Any], idle_s: float) -> Iterator[Any]:
    """The messages of a client stream; StreamIdle when none arrives for ``idle_s`` seconds.

    A reader thread waits on the stream so that this thread can give up: a stalled client then
    gets DEADLINE_EXCEEDED and frees its worker, and the reader ends with the call.
    """
    arrived: queue.Queue = queue.Queue(maxsize=1)  # one message ahead: the client waits, not our memory
    done, abandoned = object(), threading.Event()

    def hand_over(item: Any) -> None:
        while not abandoned.is_set():
            try:
                arrived.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            for message in messages:
                hand_over(message)
                if abandoned.is_set():
                    return
            hand_over(done)
        except BaseException as exc:  # noqa: BLE001 - the call ended (cancelled, aborted)
            hand_over(exc)

    threading.Thread(target=read, name="sambridge-stream-reader", daemon=True).start()
    try:
        while True:
            try:
                item = arrived.get(timeout=idle_s)
            except queue.Empty:
                raise StreamIdle(f"the client sent nothing for {idle_s:g} s; the stream was ended") from None
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        abandoned.set()


def watch_job(context: grpc.ServicerContext, jobs, job_id: str, viewer: str | None,
              job_event: Callable, progress_event: Callable) -> Iterator:
    """Stream a background job's changes (``job_event(record)``) and progress (``progress_event(p)``)
    until it ends or the caller leaves; an unknown job ends the call with NOT_FOUND.

    A watcher waits on the job's changes, not in a loop; the moment its caller leaves it is woken
    and ends, handing back its thread. The job itself keeps running.
    """
    left = threading.Event()

    def leave() -> None:
        left.set()
        jobs.wake()

    context.add_callback(leave)
    try:
        events = jobs.watch(job_id, viewer, stopped=left.is_set)
        first = next(events, None)
    except Exception as exc:  # noqa: BLE001 - unknown job -> NOT_FOUND
        abort_call(context, exc)
        return
    if first is None:  # the caller left before the first event
        return
    for kind, value in itertools.chain([first], events):
        if not context.is_active():
            return
        yield job_event(value) if kind == "job" else progress_event(value)
