"""The render cache alone: what it keeps, and what it lets go when full."""

from __future__ import annotations

from dockyard.ecs.render_cache import RenderCache


def test_a_key_seen_before_is_answered_without_rendering() -> None:
    cache = RenderCache(4)
    renders: list[str] = []

    def render(value: str) -> str:
        renders.append(value)
        return value.upper()

    assert cache.get(("acct", "a"), lambda: render("a")) == "A"
    assert cache.get(("acct", "a"), lambda: render("again")) == "A"
    assert renders == ["a"]


def test_a_changed_key_is_rendered_again() -> None:
    cache = RenderCache(4)
    assert cache.get(("acct", 1, '{"v": 1}'), lambda: 1) == 1
    assert cache.get(("acct", 1, '{"v": 2}'), lambda: 2) == 2
    assert cache.get(("other", 1, '{"v": 1}'), lambda: 3) == 3


def test_a_full_cache_lets_its_oldest_entry_go() -> None:
    cache = RenderCache(3)
    for key in "abcd":
        cache.get(key, lambda key=key: key)
    assert len(cache) == 3
    assert cache.get("a", lambda: "rendered again") == "rendered again"
    assert cache.get("d", lambda: "not kept") == "d"
