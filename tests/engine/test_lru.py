"""The engine's one LRU: eviction order, size budgets, the oversize rules."""

from sambridge_server.engine.lru import LRU


def test_evicts_least_recently_used_first_by_count():
    lru = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "a" is now the most recent
    assert lru.put("c", 3) == [("b", 2)]
    assert "a" in lru and "c" in lru and "b" not in lru and len(lru) == 2


def test_byte_budget_and_oversize_values():
    lru = LRU(10, size_of=len)
    lru.put("x", "aaaa")
    lru.put("y", "bbbbbb")
    assert lru.total == 10
    assert lru.put("z", "c" * 11) == [] and "z" not in lru  # larger than the budget: not kept
    assert lru.put("w", "dd") == [("x", "aaaa")] and lru.total == 8
    assert lru.pop("y") == "bbbbbb" and lru.total == 2 and lru.pop("y") is None


def test_keep_newest_keeps_an_oversize_value_alone():
    lru = LRU(10, size_of=len, keep_newest=True)
    lru.put("x", "aaaa")
    assert lru.put("big", "b" * 20) == [("x", "aaaa")]
    assert list(lru) == ["big"] and lru.total == 20
    lru.clear()
    assert len(lru) == 0 and lru.total == 0
