"""Batching one model's image-encoder forwards across concurrent callers.

Every caller of a model's encoder submits its preprocessed input (one image or tile, or a few)
to that model's ``EncoderBatcher``. A worker thread runs one forward at a time; waiting inputs
of the same precision and shape are concatenated into one forward of at most ``max_batch``
items, and each caller gets exactly its own rows back. The encoder is row-independent (no batch
statistics), so a batched forward gives each image what it would get alone, up to
floating-point summation order in the matmul kernels.

Before a forward the worker waits, at most ``window_s`` after the oldest input arrived, for the
next input of every other embedding in progress (threads inside ``caller()``) that has not
submitted yet: a burst of users starting together shares one forward, while a lone user (even
one with many tiles) never waits. Inputs that queued behind a running forward go into the next
one anyway.

With ``max_batch`` 1 the batcher is the per-model encoder lock it replaced: one forward at a
time, in arrival order, with no waiting window. Cancellation: a caller whose ``cancelled()``
turns True stops waiting at once (``Cancelled``); the forward it was part of goes on for the
others, and stops between encoder blocks (``interrupt.stops_when``) once every caller in it
has cancelled. A batch whose callers all cancelled before it started is never run.

SAM2 models are not batched (their encoder returns several feature levels and runs through
its own predictor): they take ``lock`` for the whole embedding, which serialises them with
any forward of the same batcher.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from .callbacks import CancelledFn
from .errors import Cancelled
from .interrupt import stops_when

Forward = Callable[[torch.Tensor, str], np.ndarray]
"""``(batch (B, ...), precision) -> features (B, ...)``: one encoder forward."""

# Covers the spread of users' preprocessing in a burst; only waited for embeddings in progress.
DEFAULT_WINDOW_S = 0.02
MAX_AUTO_BATCH = 16  # beyond this a GPU gains little and the latency of one forward grows
AUTO_MEMORY_FRACTION = 0.5  # of the free device memory at load time; the rest is for decoding and other models
_POLL_S = 0.1  # how often a waiting caller looks at its cancellation check (as acquire_unless_cancelled)


def activation_bytes_per_image(encoder: torch.nn.Module, input_side: int = 1024) -> int:
    """Peak working memory one image adds to an fp32 encoder forward (an upper estimate).

    For a ViT encoder with global attention, the largest live tensors are that block's
    relative-position bias, heads x tokens^2 floats (built, summed and cast: counted 3 times),
    and a block's MLP hidden layer, tokens x 4 dim floats (counted twice). Other encoders
    (TinyViT) are windowed: 1 GiB covers them.
    """
    blocks = getattr(encoder, "blocks", None)
    attn = getattr(blocks[0], "attn", None) if blocks is not None and len(blocks) else None
    patch = getattr(getattr(getattr(encoder, "patch_embed", None), "proj", None), "kernel_size", None)
    if attn is None or patch is None:
        return 1 << 30
    tokens = (input_side // patch[0]) ** 2
    dim = int(attn.qkv.in_features)
    return 4 * (3 * attn.num_heads * tokens**2 + 2 * tokens * 4 * dim)


def auto_max_batch(encoder: torch.nn.Module, device: torch.device) -> int:
    """The ``max_batch`` of ``--encoder-batch auto``: 1 (serial) on a CPU, else from free memory.

    On a CPU, batching measured no gain (bench/bench_encoder_batching.py): the cores are busy
    with one image already. On CUDA: half the free memory over the per-image estimate, capped
    at ``MAX_AUTO_BATCH``.
    """
    if device.type != "cuda":
        return 1
    free, _ = torch.cuda.mem_get_info(device)
    fits = int(free * AUTO_MEMORY_FRACTION) // activation_bytes_per_image(encoder)
    return max(1, min(MAX_AUTO_BATCH, fits))


def parse_encoder_batch(setting: str | int) -> int | None:
    """``--encoder-batch`` value -> a fixed max batch, or None for ``auto`` (ValueError otherwise)."""
    if str(setting) == "auto":
        return None
    value = int(setting)
    if value < 1:
        raise ValueError(f"encoder batch must be 'auto' or a positive integer, got {setting!r}")
    return value


@dataclass(eq=False)
class _Request:
    """One caller's submitted rows and, once its forward ran, their features (or the error)."""

    rows: torch.Tensor
    precision: str
    cancelled: CancelledFn
    submitted: float = field(default_factory=time.monotonic)
    thread: int = field(default_factory=threading.get_ident)
    abandoned: bool = False  # the caller stopped waiting
    features: np.ndarray | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple:
        """Requests with equal keys can share a forward."""
        return self.precision, tuple(self.rows.shape[1:]), self.rows.dtype, self.rows.device

    @property
    def size(self) -> int:
        """Rows (images or tiles) in this request."""
        return int(self.rows.shape[0])

    def given_up(self) -> bool:
        """True once nobody wants this request's result any more."""
        return self.abandoned or bool(self.cancelled())

    def finish(self, features: np.ndarray | None = None, error: BaseException | None = None) -> None:
        """Hand the result to the waiting caller."""
        self.features, self.error = features, error
        self.done.set()


class EncoderBatcher:
    """One model's encoder forwards: batched across concurrent callers, one forward at a time."""

    def __init__(self, forward: Forward, max_batch: int = 1, window_s: float = DEFAULT_WINDOW_S) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.forward = forward
        self.max_batch = max_batch
        self.window_s = window_s if max_batch > 1 else 0.0
        # Held around every forward; SAM2 embeddings hold it for the whole call instead.
        self.lock = threading.Lock()
        # Rows of the latest forwards, oldest first (tests and benches read it).
        self.batch_sizes: deque[int] = deque(maxlen=1024)
        self._queue: deque[_Request] = deque()
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None
        self._callers: Counter[int] = Counter()  # threads inside caller() blocks

    @contextmanager
    def caller(self) -> Iterator[None]:
        """Within the block this thread counts as an embedding in progress: forwards wait for its inputs.

        Wrap a whole embedding (all its tiles) in it; a forward waits at most ``window_s``.
        """
        thread = threading.get_ident()
        with self._changed:
            self._callers[thread] += 1
        try:
            yield
        finally:
            with self._changed:
                self._callers[thread] -= 1
                if not self._callers[thread]:
                    del self._callers[thread]
                self._changed.notify_all()  # a forward waiting for this caller need not wait any more

    def encode(self, rows: torch.Tensor, precision: str = "fp32", cancelled: CancelledFn | None = None) -> np.ndarray:
        """Features of ``rows`` (B, ...) from a forward, possibly shared with other callers' rows.

        Raises ``Cancelled`` as soon as ``cancelled()`` turns True, and the forward's own
        error when it failed.
        """
        request = _Request(rows, precision, cancelled or (lambda: False))
        with self._changed:
            self._queue.append(request)
            self._changed.notify_all()
            if self._worker is None:
                # A worker lives while there is work: no thread outlives the model's last call.
                self._worker = threading.Thread(target=self._run, name="encoder-batcher", daemon=True)
                self._worker.start()
        while not request.done.wait(_POLL_S):
            if request.cancelled():
                request.abandoned = True  # the running forward stops once all of its callers did this
                raise Cancelled("embedding computation was cancelled")
        if request.error is not None:
            raise request.error
        assert request.features is not None
        return request.features

    def _run(self) -> None:
        """Worker: take batches off the queue and run them until it is empty."""
        try:
            while (batch := self._next_batch()) is not None:
                self._forward(batch)
        except BaseException as error:  # a bug here must not leave callers waiting for ever
            with self._changed:
                self._worker = None
                while self._queue:
                    self._queue.popleft().finish(error=error)
            raise

    def _next_batch(self) -> list[_Request] | None:
        """The oldest waiting request with the same-key requests after it, or None when there are none."""
        with self._changed:
            while True:
                self._drop_given_up()
                if not self._queue:
                    self._worker = None
                    return None
                first = self._queue[0]
                wait = first.submitted + self.window_s - time.monotonic()
                if wait <= 0 or self._rows_like(first) >= self.max_batch or not self._expected():
                    break
                self._changed.wait(wait)  # woken early by every new request and every caller leaving
            batch, rows = [], 0
            for request in list(self._queue):
                if request.key == first.key and (not batch or rows + request.size <= self.max_batch):
                    batch.append(request)
                    rows += request.size
                    self._queue.remove(request)
            return batch

    def _expected(self) -> bool:
        """True while an embedding in progress has no input waiting (it will submit one soon)."""
        return bool(self._callers.keys() - {request.thread for request in self._queue})

    def _rows_like(self, first: _Request) -> int:
        """Rows waiting that could join a forward with ``first``."""
        return sum(request.size for request in self._queue if request.key == first.key)

    def _drop_given_up(self) -> None:
        """Finish (as cancelled) waiting requests nobody wants any more, so no forward runs for them."""
        for request in [r for r in self._queue if r.given_up()]:
            self._queue.remove(request)
            request.finish(error=Cancelled("embedding computation was cancelled"))

    def _forward(self, batch: list[_Request]) -> None:
        """Run one forward for ``batch`` and hand every request its rows (or the error)."""
        try:
            rows = batch[0].rows if len(batch) == 1 else torch.cat([request.rows for request in batch])
            # Interruptible encoders stop between blocks once every caller of this forward gave up.
            with self.lock, stops_when(lambda: all(request.given_up() for request in batch)):
                features = self.forward(rows, batch[0].precision)
            self.batch_sizes.append(int(rows.shape[0]))
        except Exception as error:  # every caller of the forward gets its error
            for request in batch:
                request.finish(error=error)
            return
        start = 0
        for request in batch:
            request.finish(features[start : start + request.size])
            start += request.size
