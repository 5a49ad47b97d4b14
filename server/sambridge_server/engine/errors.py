"""Engine exception types.

The engine never imports grpc; the gRPC layer maps these types to status codes:
InvalidInput -> INVALID_ARGUMENT, NotFound -> NOT_FOUND, Cancelled -> CANCELLED,
ResourceExhausted -> RESOURCE_EXHAUSTED, FailedPrecondition -> FAILED_PRECONDITION.
"""

from __future__ import annotations


class InvalidInput(ValueError):
    """The caller sent data the engine cannot accept (bad image, prompt or checkpoint)."""


class NotFound(KeyError):
    """A named thing (model, session, file) does not exist."""

    def __str__(self) -> str:
        # KeyError.__str__ wraps the message in quotes; we want the plain sentence.
        return str(self.args[0]) if self.args else ""


class Cancelled(Exception):
    """The caller cancelled a long-running computation."""


class ResourceExhausted(Exception):
    """A memory, size or queue limit would be exceeded."""


class FailedPrecondition(Exception):
    """The request is valid but the engine is not in a state to serve it."""
