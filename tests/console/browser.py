"""Headless Chromium (Debian's ``chromium`` and ``chromedriver``, scripts/chromium) driven by
Selenium, and the few moves the console's browser tests make with it. Every wait has a deadline."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Credentials

WAIT_SECONDS = 30
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"


def chromium_paths() -> tuple[str, str]:
    """The Chromium binary and its driver; a skip (a failure under CI) when they are missing."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        if os.environ.get("CI"):
            pytest.fail("no chromium / chromedriver: CI must run the browser tests (scripts/chromium)")
        pytest.skip("no headless Chromium (run scripts/chromium)")
    return binary, driver


def start_chromium() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    browser.set_page_load_timeout(WAIT_SECONDS)
    return browser


class Page:
    """One browser on one console: sign in, go, fill, click, wait, screenshot."""

    def __init__(self, browser: Any, endpoint: str) -> None:
        self.browser = browser
        self.endpoint = endpoint

    def go(self, path: str) -> None:
        self.browser.get(self.endpoint + path)

    def sign_in(self, credentials: Credentials) -> None:
        self.go("/console/signin")
        self.fill("accessKeyId", credentials.access_key_id)
        self.fill("secretAccessKey", credentials.secret_access_key)
        self.click("signin")
        self.wait(lambda: self.browser.current_url.endswith("/console/clusters"), "the clusters page")

    def element(self, element_id: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.ID, element_id)

    def text(self, element_id: str) -> str:
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

        try:
            return str(self.element(element_id).text)
        except (NoSuchElementException, StaleElementReferenceException):  # a live region was swapped
            return ""

    def fill(self, element_id: str, value: str) -> None:
        field = self.element(element_id)
        field.clear()
        field.send_keys(value)

    def click(self, element_id: str) -> None:
        self.element(element_id).click()

    def click_link(self, text: str) -> None:
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.LINK_TEXT, text).click()

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
        from selenium.webdriver.support.wait import WebDriverWait

        return WebDriverWait(self.browser, timeout, poll_frequency=0.2).until(
            lambda _driver: condition(), message=f"waited {timeout}s for {what} on {self.browser.current_url}"
        )

    def confirm(self) -> None:
        """Accept the confirmation dialog an action asks for."""
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait

        WebDriverWait(self.browser, WAIT_SECONDS).until(expected_conditions.alert_is_present()).accept()

    def mark(self) -> None:
        """Leave a mark in the page's JavaScript state; ``not_reloaded`` finds it while the page
        was only updated in place."""
        self.browser.execute_script("window.__consoleMark = true;")

    def not_reloaded(self) -> bool:
        return bool(self.browser.execute_script("return window.__consoleMark === true;"))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.browser.save_screenshot(str(path))
        return path
