from __future__ import annotations

import pytest

from modelyard.services.lru import LRU


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LRU[str, int] = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a use: "b" is now the oldest
    cache["c"] = 3
    assert list(cache) == ["a", "c"]
    assert cache.get("b") is None


def test_peek_and_pop_do_not_count_as_a_use() -> None:
    cache: LRU[str, int] = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.peek("a") == 1
    cache["c"] = 3
    assert "a" not in cache and len(cache) == 2
    assert cache.pop("b") == 2 and cache.pop("b") is None


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LRU(0)
