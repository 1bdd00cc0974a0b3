"""The console's browser: one headless Chromium per test worker, a fresh profile per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.browser import Page, start_chromium
from tests.harness import DockyardServer


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    browser = start_chromium()
    yield browser
    browser.quit()


@pytest.fixture
def page(chromium: Any, server: DockyardServer) -> Page:
    """The browser with no cookies of an earlier test, pointed at the test's server."""
    chromium.delete_all_cookies()
    return Page(chromium, server.endpoint)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes the browser is a browser test (left out of the quick tier)."""
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
