"""The browser the viewer's tests drive (VIEW-013): Debian's Chromium through its
chromedriver and Selenium, one browser for the whole session; screenshots under
``artifacts/viewer/`` (git-ignored) or ``$SESSIONSPEC_ARTIFACTS/viewer``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionspec.viewer.browser import CHROMEDRIVER, CHROMIUM, browser_missing_reason

#: Flags that work as root in a container: no sandbox, no GPU, nothing reached on the network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    root = os.environ.get("SESSIONSPEC_ARTIFACTS")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "artifacts"
    folder = base / "viewer"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = browser_missing_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="sessionspec-chromium-") as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()
