"""Server-side object handles: an object's interactive state and its undo history.

A handle keeps everything SAM's interactive loop needs to continue an object: its box, every
point given so far with its label, the last low-resolution logits (the next call's mask prompt),
the window they were decoded in and the resulting mask. Each call through the handle pushes a
new state; ``undo`` pops it and hands back the one before, ``reset`` pushes an empty state (so
it can be undone too). Handles are private to their ``owner`` (the calling client): two
clients may both use the id "cell-1". The store is bounded by count and by bytes; the least
recently used handles go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..errors import FailedPrecondition, InvalidInput, NotFound
from ..tiling import Block
from .windows import ObjectPrompt

MAX_OBJECT_ID = 256
UNDO_DEPTH = 16


@dataclass(frozen=True)
class ObjectState:
    """One step of an object's history: prompts so far, the best mask's logits and mask.

    ``window`` is the (y0, x0, y1, x1) block the object was decoded in, ``tile_index`` its tile in
    the request's embeddings (-1: a window centred on the prompts). ``mask_bits`` is the best mask
    inside ``window``, bit-packed. The empty state (before the first call, or after a reset) has
    no prompts, logits or mask.
    """

    prompt: ObjectPrompt
    logits: np.ndarray | None = None
    window: Block | None = None
    tile_index: int = -1
    mask_bits: np.ndarray | None = None
    score: float = 0.0

    @classmethod
    def empty(cls) -> "ObjectState":
        """The state of an object with no prompts."""
        return cls(ObjectPrompt(np.zeros((0, 2)), np.zeros(0)))

    @classmethod
    def decoded(cls, prompt: ObjectPrompt, logits: np.ndarray, window: Block, tile_index: int,
                mask: np.ndarray, score: float) -> "ObjectState":
        """The state after a decode: ``mask`` is the best mask in full-image pixels."""
        y0, x0, y1, x1 = window
        bits = np.packbits(np.ascontiguousarray(mask[y0:y1, x0:x1], dtype=bool), axis=None)
        return cls(prompt, np.asarray(logits, dtype=np.float32), tuple(int(v) for v in window), int(tile_index),
                   bits, float(score))

    @property
    def is_empty(self) -> bool:
        """True before the first decode and after a reset."""
        return self.logits is None

    def mask(self, image_shape: tuple[int, int]) -> np.ndarray:
        """The best mask as a full-image bool array (all False for the empty state)."""
        full = np.zeros(tuple(image_shape), dtype=bool)
        if self.mask_bits is None or self.window is None:
            return full
        y0, x0, y1, x1 = self.window
        count = (y1 - y0) * (x1 - x0)
        full[y0:y1, x0:x1] = np.unpackbits(self.mask_bits, count=count).astype(bool).reshape(y1 - y0, x1 - x0)
        return full

    @property
    def nbytes(self) -> int:
        """Memory held by this state."""
        total = self.prompt.points.nbytes + self.prompt.labels.nbytes
        total += 0 if self.logits is None else self.logits.nbytes
        return total + (0 if self.mask_bits is None else self.mask_bits.nbytes)


@dataclass
class _Handle:
    context: tuple
    history: list[ObjectState] = field(default_factory=list)
    truncated: bool = False  # the oldest states were dropped beyond UNDO_DEPTH

    @property
    def current(self) -> ObjectState:
        return self.history[-1] if self.history else ObjectState.empty()

    @property
    def nbytes(self) -> int:
        return sum(state.nbytes for state in self.history)


class ObjectStore:
    """Thread-safe LRU of object handles, bounded per caller and in total, by count and by bytes.

    A caller's handles are evicted only by that caller's own new handles (its quota), except when
    the whole store is full. Using an evicted handle is answered with NotFound ("expired").
    """

    # A state holds (256, 256) float32 logits plus its window's mask bits: about 0.3 MiB.
    def __init__(self, capacity: int = 1_000, max_bytes: int = 512 * 1024 * 1024, per_owner: int = 256,
                 per_owner_bytes: int = 128 * 1024 * 1024) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._per_owner = per_owner
        self._per_owner_bytes = per_owner_bytes
        self._handles: OrderedDict[tuple[str, str], _Handle] = OrderedDict()
        self._bytes = 0
        self._owner_bytes: dict[str, int] = {}
        self._owner_count: dict[str, int] = {}
        self._expired: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def current(self, object_id: str, context: tuple, owner: str = "") -> ObjectState | None:
        """The object's current state, None if the handle is new; InvalidInput if it belongs elsewhere,
        NotFound if it expired."""
        with self._lock:
            handle = self._handles.get((owner, object_id))
            if handle is None:
                self._raise_if_expired(owner, object_id)
                return None
            _check_context(object_id, handle, context)
            self._handles.move_to_end((owner, object_id))
            return handle.current

    def push(self, object_id: str, context: tuple, state: ObjectState, owner: str = "") -> None:
        """Make ``state`` the object's current state (creating the handle if needed)."""
        if len(object_id) > MAX_OBJECT_ID:
            raise InvalidInput(f"object_id is longer than {MAX_OBJECT_ID} characters")
        with self._lock:
            key = (owner, object_id)
            handle = self._handles.get(key)
            if handle is None or handle.context != context:
                if handle is not None:
                    self._drop(key)
                handle = self._handles[key] = _Handle(context)
                self._owner_count[owner] = self._owner_count.get(owner, 0) + 1
                self._expired.pop(key, None)
            handle.history.append(state)
            self._account(owner, state.nbytes)
            while len(handle.history) > UNDO_DEPTH:
                self._account(owner, -handle.history.pop(0).nbytes)
                handle.truncated = True
            self._handles.move_to_end(key)
            self._evict(owner)

    def undo(self, object_id: str, context: tuple, owner: str = "") -> ObjectState:
        """Drop the object's last state and return the one before it (the empty state before the first)."""
        with self._lock:
            handle = self._handle(object_id, context, owner)
            if not handle.history:
                raise FailedPrecondition(f"object {object_id!r} has nothing to undo")
            if handle.truncated and len(handle.history) == 1:
                raise FailedPrecondition(f"object {object_id!r}: undo history is limited to {UNDO_DEPTH} steps")
            self._account(owner, -handle.history.pop().nbytes)
            return handle.current

    def reset(self, object_id: str, context: tuple, owner: str = "") -> None:
        """Clear the object's prompts and logits (an undoable step)."""
        with self._lock:
            handle = self._handle(object_id, context, owner)
        self.push(object_id, handle.context, ObjectState.empty(), owner)

    def release(self, object_id: str, owner: str = "") -> bool:
        """Forget an object of ``owner``; True if it existed."""
        with self._lock:
            key = (owner, object_id)
            was_expired = key in self._expired
            self._expired.pop(key, None)
            return self._drop(key) or was_expired

    def _handle(self, object_id: str, context: tuple, owner: str) -> _Handle:
        handle = self._handles.get((owner, object_id))
        if handle is None:
            self._raise_if_expired(owner, object_id)
            raise NotFound(f"unknown object handle {object_id!r} (never used or released)")
        _check_context(object_id, handle, context)
        self._handles.move_to_end((owner, object_id))
        return handle

    def _raise_if_expired(self, owner: str, object_id: str) -> None:
        if (owner, object_id) in self._expired:
            raise NotFound(
                f"object handle {object_id!r} expired: the server keeps at most {self._per_owner} handles "
                f"({self._per_owner_bytes // 2**20} MiB) per client, least recently used first; release it "
                "(ReleaseObject) to reuse the id, or use a new id"
            )

    def _account(self, owner: str, nbytes: int) -> None:
        self._bytes += nbytes
        self._owner_bytes[owner] = self._owner_bytes.get(owner, 0) + nbytes

    def _drop(self, key: tuple[str, str]) -> bool:
        handle = self._handles.pop(key, None)
        if handle is None:
            return False
        owner = key[0]
        self._account(owner, -handle.nbytes)
        self._owner_count[owner] -= 1
        if self._owner_count[owner] == 0:
            del self._owner_count[owner], self._owner_bytes[owner]
        return True

    def _expire(self, key: tuple[str, str]) -> None:
        self._drop(key)
        self._expired[key] = None
        while len(self._expired) > 4 * self._capacity:
            self._expired.popitem(last=False)

    def _evict(self, owner: str) -> None:
        """The caller's own least recently used handles beyond its quota, then any beyond the totals."""
        while self._owner_count.get(owner, 0) > 1 and (
            self._owner_count[owner] > self._per_owner or self._owner_bytes[owner] > self._per_owner_bytes
        ):
            self._expire(next(key for key in self._handles if key[0] == owner))
        while len(self._handles) > 1 and (len(self._handles) > self._capacity or self._bytes > self._max_bytes):
            self._expire(next(iter(self._handles)))


def _check_context(object_id: str, handle: _Handle, context: tuple) -> None:
    if handle.context != context:
        raise InvalidInput(
            f"object {object_id!r} belongs to another image, slice, model or tiling; release it or use a new id"
        )
