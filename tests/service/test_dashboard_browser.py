"""The dashboard in a real browser: headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium) opens the page of a running server, sees a tick arrive and the at-risk
table change; the screenshot is saved (``$MARGINENGINE_ARTIFACTS`` or the test's folder).

Skips, saying why, where there is no Chromium or no Selenium; ``MARGINENGINE_REQUIRE_BROWSER=1``
(set by ``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.service.server import Server

CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--window-size=1400,1000")


def _unavailable(reason: str) -> None:
    if os.environ.get("MARGINENGINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser test is required (MARGINENGINE_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(reason)


def _driver(profile: Path) -> Any:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as ChromeService
    except ImportError:
        _unavailable("selenium is not installed (pip install 'marginengine[test]')")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _unavailable("no chromium/chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=ChromeService(driver_path), options=options)


def _rows(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#at-risk tbody tr")]


def _wait(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the dashboard did not update in time")


def test_dashboard_when_tick_arrives_then_table_changes(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    server = Server(["examples/serve.toml"])
    driver = None
    try:
        driver = _driver(profile)
        driver.get(f"{server.url}/")
        status = driver.find_element(By.ID, "status")
        _wait(lambda: status.text == "live")
        before = _wait(lambda: _rows(driver))
        # WETH falls 20%: many accounts cross their thresholds; the table is redrawn.
        r = server.post("/ticks", {"prices": {"WETH": "2400"}})
        assert r.status_code == 200
        crossed = r.json()["alert"]["crossed_count"]
        assert crossed > 0
        _wait(lambda: driver.find_element(By.ID, "k-ticks").text == "1")
        after = _wait(lambda: (rows := _rows(driver)) != before and rows)
        liquidatable = r.json()["alert"]["liquidatable"]["count"]
        _wait(lambda: driver.find_element(By.ID, "k-liq").text == f"{liquidatable:,}")
        alerts = driver.find_elements(By.CSS_SELECTOR, "#alerts li")
        assert alerts and "#1" in alerts[0].text
        assert after[0].split()[0] == server.get("/at-risk?limit=1")[0]["account"]
        out = Path(os.environ.get("MARGINENGINE_ARTIFACTS", tmp_path))
        out.mkdir(parents=True, exist_ok=True)
        shot = out / "dashboard.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
