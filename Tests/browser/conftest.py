"""Real-browser harness: Debian's chromium driven through /usr/bin/chromedriver by selenium, against the real
fibd binary started by the end-to-end harness (Tests/e2e/conftest.py, loaded here under another name).
Screenshots go to test-output/ (git-ignored)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

_HARNESS_PATH = Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("fibd_e2e_harness", _HARNESS_PATH)
harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = harness  # dataclasses look their module up by name
_spec.loader.exec_module(harness)

# The daemon fixtures and the hook that prints the daemon's log when a test fails.
fibd_factory = harness.fibd_factory
shared_fibd = harness.shared_fibd
pytest_runtest_makereport = harness.pytest_runtest_makereport

OUTPUT = Path(os.environ.get("FIBD_TEST_OUTPUT", harness.REPO_ROOT / "test-output"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMEDRIVER).exists() or not Path(CHROMIUM).exists():
        pytest.fail(f"need {CHROMIUM} and {CHROMEDRIVER} (make deps installs chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100",
                     "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
