"""The project's headless Chromium harness for browser tests: Debian's ``chromium`` and
``chromium-driver`` driven by ``selenium`` (scripts/install-browser-test-deps.sh installs them).
:func:`chromium_driver` skips the calling test with the reason when one is missing. (No tests in
this module.)"""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1920,1080",
    "--force-device-scale-factor=1",
]


def chromium_driver(user_data_dir: str):
    """A headless Chromium WebDriver with its own profile folder; skips when it cannot start one."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("needs selenium (pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}"]:
        options.add_argument(flag)
    # A given driver path keeps Selenium Manager from trying to download anything.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
