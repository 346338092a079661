"""The pages in a real headless browser: the app submits, shows progress, results and cancellation; every
status view draws data and updates; a view shows a lost daemon and recovers; no page logs a console error."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import harness

fib = harness.fib
VIEWS = None  # filled from /status/index.json


def base_url(daemon) -> str:
    return f"http://127.0.0.1:{daemon.tcp_port()}/"


def wait_for(driver, condition, what: str, within: float = 15.0):
    try:
        return WebDriverWait(driver, within, poll_frequency=0.05).until(lambda d: condition(d))
    except Exception as error:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from error


def console_errors(driver, ignore: tuple[str, ...] = ()) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and not any(text in entry["message"] for text in ignore)]


def items_and_updates(driver, name: str):
    return driver.execute_script(
        "const el = document.querySelector(`[data-view='${arguments[0]}']`);"
        "return el ? [Number(el.dataset.items || 0), Number(el.dataset.updates || 0)] : null;", name)


INK_SCRIPT = """
let ink = 0;
for (const canvas of document.querySelectorAll('canvas')) {
  if (!canvas.width || !canvas.height) continue;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
}
return ink;
"""


@pytest.fixture(scope="module")
def daemon(shared_fibd):
    return shared_fibd


def test_app_submits_three_tasks_and_shows_results(browser, daemon, output_dir):
    client = daemon.client
    n = harness.calibrated_recursive_n(client, 0.6)
    browser.get(base_url(daemon))
    wait_for(browser, lambda d: d.execute_script("return document.body.dataset.connection") == "connected",
             "the app to connect")
    Select(browser.find_element(By.ID, "algorithm")).select_by_value("recursive")
    field = browser.find_element(By.ID, "n")
    field.clear()
    field.send_keys(str(n))
    button = browser.find_element(By.CSS_SELECTOR, "#submit-form button[type=submit]")
    for _ in range(3):
        button.click()
    assert field.get_attribute("value") == str(n + 3), "n steps up by one after each submit"
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#in-progress li")) >= 2,
             "tasks shown in progress")
    progress_text = browser.find_element(By.ID, "in-progress").text
    assert "fibonacci(" in progress_text and ("running" in progress_text or "queued" in progress_text), progress_text
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results li")) == 3, "three result lines", 60)
    assert not browser.find_elements(By.CSS_SELECTOR, "#in-progress li")
    lines = [li.find_element(By.CSS_SELECTOR, ".value").text for li in browser.find_elements(By.CSS_SELECTOR, "#results li")]
    for k in range(n, n + 3):
        expected = f"fibonacci({k})={fib(k)} in "
        assert any(line.startswith(expected) and line.endswith(" s") for line in lines), (expected, lines)
    # A long value is shortened in the middle, with its digit count and a way to take the whole number.
    Select(browser.find_element(By.ID, "algorithm")).select_by_value("fast")
    field.clear()
    field.send_keys("5000")
    button.click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results li[data-digits]"), "a long result line")
    long_line = browser.find_element(By.CSS_SELECTOR, "#results li[data-digits]")
    digits = str(fib(5000))
    assert f"fibonacci(5000)={digits[:24]}…{digits[-24:]} ({len(digits)} digits)" in long_line.text, long_line.text
    assert long_line.find_element(By.LINK_TEXT, "Download").get_attribute("download") == "fibonacci-5000.txt"
    assert console_errors(browser) == []


def test_app_cancels_a_long_recursive_task(browser, daemon, output_dir):
    browser.get(base_url(daemon))
    wait_for(browser, lambda d: d.execute_script("return document.body.dataset.connection") == "connected",
             "the app to connect")
    Select(browser.find_element(By.ID, "algorithm")).select_by_value("recursive")
    field = browser.find_element(By.ID, "n")
    field.clear()
    field.send_keys("60")
    browser.find_element(By.CSS_SELECTOR, "#submit-form button[type=submit]").click()
    item = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#in-progress li[data-state=running]"),
                    "the long task running")[0]
    task_id = item.get_attribute("data-task")
    item.find_element(By.TAG_NAME, "button").click()
    line = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"#results li[data-task='{task_id}']"),
                    "the cancelled task's line")[0]
    assert line.get_attribute("data-state") == "cancelled"
    assert "fibonacci(60) cancelled" in line.text, line.text
    assert daemon.client.task(task_id)["state"] == "cancelled"
    browser.save_screenshot(str(output_dir / "app.png"))
    assert console_errors(browser) == []


def test_every_view_draws_data_and_updates(browser, daemon, output_dir):
    client = daemon.client
    views = [view["name"] for view in client.get("/status/index.json").json()["views"]]
    assert len(views) == 17
    n = harness.calibrated_recursive_n(client, 30)
    # Work that runs while the views are open, and a failure for the exceptions view.
    busy = [client.submit({"n": n + i, "algorithm": "recursive"}) for i in range(2)]
    client.submit({"n": 1, "algorithm": "fast", "timeout": 0.000001})
    try:
        for name in views:
            browser.get(base_url(daemon) + f"status/{name}")
            wait_for(browser, lambda d: (items_and_updates(d, name) or [0, 0])[0] > 0, f"{name} to draw data")
            _, updates = items_and_updates(browser, name)
            wait_for(browser, lambda d: items_and_updates(d, name)[1] > updates, f"{name} to update")
            canvases = browser.find_elements(By.TAG_NAME, "canvas")
            if canvases:
                assert browser.execute_script(INK_SCRIPT) > 200, f"{name} drew an empty canvas"
            else:
                assert browser.find_elements(By.CSS_SELECTOR, "tbody tr"), f"{name} drew no rows"
            assert console_errors(browser) == [], name
        browser.get(base_url(daemon) + "status")
        wait_for(browser, lambda d: d.execute_script(
            "return [...document.querySelectorAll('[data-view]')].every((el) => Number(el.dataset.items) > 0)"),
            "every view on /status to draw")
        browser.save_screenshot(str(output_dir / "status.png"))
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(height + 140, 4000))
        browser.save_screenshot(str(output_dir / "status-full.png"))
        browser.set_window_size(1280, 1100)
        assert console_errors(browser) == []
    finally:
        for task in busy:
            client.cancel(task["id"])


def test_view_shows_lost_daemon_and_recovers(browser, fibd_factory):
    first = fibd_factory("--workers", "1")
    port = first.tcp_port()
    browser.get(base_url(first) + "status/workers")
    connection = lambda d: d.execute_script("return document.body.dataset.connection")
    wait_for(browser, lambda d: connection(d) == "connected" and items_and_updates(d, "workers")[0] > 0,
             "the workers view to draw")
    first.stop()
    wait_for(browser, lambda d: connection(d) == "disconnected", "the view to show it lost fibd")
    assert "reconnecting" in browser.find_element(By.ID, "connection").text
    second = fibd_factory("--workers", "1", "--listen", f"127.0.0.1:{port}", listen_default=False)
    wait_for(browser, lambda d: connection(d) == "connected", "the view to reconnect", within=20)
    pid = second.client.workers()[0]["pid"]
    wait_for(browser, lambda d: str(pid) in d.find_element(By.TAG_NAME, "tbody").text,
             "the view to show the new daemon's worker")
    # While fibd was down the browser logged failed fetches; nothing else may be an error.
    assert console_errors(browser, ignore=("ERR_CONNECTION_REFUSED", "ERR_EMPTY_RESPONSE", "Failed to fetch",
                                           "ERR_CONNECTION_RESET")) == []
