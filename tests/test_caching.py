"""The bounded cache alone: what it keeps, and what it lets go when full."""

from __future__ import annotations

from dockyard.caching import BoundedCache


def test_a_kept_value_is_found_under_its_key_only() -> None:
    cache = BoundedCache(4)
    cache.keep(("acct", 1, '{"v": 1}'), "one")
    assert cache.find(("acct", 1, '{"v": 1}')) == "one"
    assert cache.find(("acct", 1, '{"v": 2}')) is None
    assert cache.find(("other", 1, '{"v": 1}')) is None


def test_a_full_cache_lets_its_oldest_entry_go() -> None:
    cache = BoundedCache(3)
    for key in "abcd":
        cache.keep(key, key.upper())
    assert len(cache) == 3
    assert cache.find("a") is None
    assert [cache.find(key) for key in "bcd"] == ["B", "C", "D"]


def test_keeping_a_key_again_replaces_its_value_without_evicting() -> None:
    cache = BoundedCache(2)
    cache.keep("a", 1)
    cache.keep("b", 2)
    cache.keep("a", 3)
    assert (cache.find("a"), cache.find("b"), len(cache)) == (3, 2, 2)


def test_entries_go_oldest_first_until_a_heavy_one_fits() -> None:
    cache = BoundedCache(10, weight=100)
    for key in "abc":
        cache.keep(key, key, weight=40)
    assert [cache.find(key) for key in "abc"] == [None, "b", "c"]
    cache.keep("d", "d", weight=90)
    assert [cache.find(key) for key in "bcd"] == [None, None, "d"]


def test_a_value_heavier_than_the_whole_cache_is_not_kept() -> None:
    cache = BoundedCache(10, weight=100)
    cache.keep("a", "a", weight=10)
    cache.keep("huge", "huge", weight=101)
    assert (cache.find("huge"), cache.find("a")) == (None, "a")
