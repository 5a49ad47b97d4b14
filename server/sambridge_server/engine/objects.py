"""Server-side object handles: the last low-resolution logits of an object.

A client correcting the same object sends its handle; the previous logits are
then reused as the mask prompt, as in SAM's interactive loop. Handles are private to
their ``owner`` (the calling client): two clients may both use the id "cell-1".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .errors import InvalidInput


@dataclass(frozen=True)
class ObjectState:
    """Where an object lives (embedding key, slice) and its last (256, 256) logits with their tile."""

    context: tuple
    logits: np.ndarray
    tile_index: int


class ObjectStore:
    """Thread-safe bounded LRU of object handles."""

    # Each handle holds 256 x 256 float32 logits (256 KiB): 1000 handles bound the store at 256 MiB.
    def __init__(self, capacity: int = 1_000) -> None:
        self._capacity = capacity
        self._states: OrderedDict[tuple[str, str], ObjectState] = OrderedDict()
        self._lock = threading.Lock()

    def previous_logits(self, object_id: str, context: tuple, owner: str = "") -> tuple[np.ndarray, int] | None:
        """The object's last (logits, tile index), None if it is new; InvalidInput if it belongs elsewhere."""
        with self._lock:
            state = self._states.get((owner, object_id))
            if state is None:
                return None
            if state.context != context:
                raise InvalidInput(
                    f"object {object_id!r} belongs to another image, slice, model or tiling; release it or use a new id"
                )
            self._states.move_to_end((owner, object_id))
            return state.logits, state.tile_index

    def update(self, object_id: str, context: tuple, logits_and_tile: tuple[np.ndarray, int], owner: str = "") -> None:
        """Remember the latest (logits, tile index) of an object (evicting the oldest beyond capacity)."""
        if len(object_id) > 256:
            raise InvalidInput("object_id is longer than 256 characters")
        with self._lock:
            logits, tile_index = logits_and_tile
            key = (owner, object_id)
            self._states[key] = ObjectState(context, np.asarray(logits, dtype=np.float32), int(tile_index))
            self._states.move_to_end(key)
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)

    def release(self, object_id: str, owner: str = "") -> bool:
        """Forget an object of ``owner``; True if it existed."""
        with self._lock:
            return self._states.pop((owner, object_id), None) is not None
