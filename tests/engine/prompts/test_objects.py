"""ObjectStore: per-caller quotas, expiry that tells the caller, undo depth, byte accounting."""

from __future__ import annotations

import numpy as np
import pytest

from sambridge_server.engine.errors import FailedPrecondition, InvalidInput, NotFound
from sambridge_server.engine.prompts.objects import UNDO_DEPTH, ObjectState, ObjectStore
from sambridge_server.engine.prompts.windows import ObjectPrompt

CONTEXT = ("image", 0)


def _state(value: float = 0.0, shape=(40, 40)) -> ObjectState:
    mask = np.zeros(shape, bool)
    mask[5:9, 5:12] = True
    prompt = ObjectPrompt(np.array([[6.0, 6.0]]), np.array([1]))
    return ObjectState.decoded(prompt, np.full((256, 256), value, np.float32), (0, 0) + shape, 0, mask, value)


def test_state_keeps_the_mask_exactly():
    mask = np.random.default_rng(0).random((50, 70)) > 0.5
    state = ObjectState.decoded(ObjectPrompt(np.zeros((0, 2)), np.zeros(0)), np.zeros((256, 256)), (10, 20, 40, 60),
                                -1, np.pad(mask[:30, :40], ((10, 10), (20, 10))), 0.5)
    full = state.mask((50, 70))
    np.testing.assert_array_equal(full[10:40, 20:60], mask[:30, :40])
    assert full.sum() == mask[:30, :40].sum()
    assert not ObjectState.empty().mask((5, 5)).any()


def test_one_callers_handles_never_evict_another_callers():
    store = ObjectStore(capacity=1000, per_owner=8)
    store.push("mine", CONTEXT, _state(1.0), owner="alice")
    for i in range(50):
        store.push(f"flood-{i}", CONTEXT, _state(), owner="mallory")
    assert store.current("mine", CONTEXT, owner="alice").score == 1.0
    # The flooder lost its own oldest handles, and is told so when it comes back to one.
    with pytest.raises(NotFound, match="expired"):
        store.current("flood-0", CONTEXT, owner="mallory")
    with pytest.raises(NotFound, match="expired"):
        store.undo("flood-1", CONTEXT, owner="mallory")
    assert store.current("flood-49", CONTEXT, owner="mallory") is not None
    assert store.release("flood-0", owner="mallory")  # releasing an expired id frees it for reuse
    assert store.current("flood-0", CONTEXT, owner="mallory") is None


def test_byte_quota_per_caller():
    per_state = _state().nbytes
    store = ObjectStore(per_owner=1000, per_owner_bytes=3 * per_state)
    for i in range(5):
        store.push(f"o{i}", CONTEXT, _state(), owner="a")
    with pytest.raises(NotFound, match="expired"):
        store.current("o0", CONTEXT, owner="a")
    assert store.current("o4", CONTEXT, owner="a") is not None


def test_undo_history_is_bounded_and_says_so():
    store = ObjectStore()
    for i in range(UNDO_DEPTH + 3):
        store.push("x", CONTEXT, _state(float(i)))
    for i in reversed(range(3, UNDO_DEPTH + 2)):
        assert store.undo("x", CONTEXT).score == float(i)
    with pytest.raises(FailedPrecondition, match=f"limited to {UNDO_DEPTH} steps"):
        store.undo("x", CONTEXT)


def test_undo_reset_and_context_errors():
    store = ObjectStore()
    with pytest.raises(NotFound, match="unknown object handle"):
        store.undo("nope", CONTEXT)
    store.push("x", CONTEXT, _state(2.0))
    store.reset("x", CONTEXT)
    assert store.current("x", CONTEXT).is_empty
    assert store.undo("x", CONTEXT).score == 2.0
    assert store.undo("x", CONTEXT).is_empty
    with pytest.raises(FailedPrecondition, match="nothing to undo"):
        store.undo("x", CONTEXT)
    with pytest.raises(InvalidInput, match="another image"):
        store.undo("x", ("other", 0))
    with pytest.raises(InvalidInput, match="longer than"):
        store.push("y" * 300, CONTEXT, _state())
