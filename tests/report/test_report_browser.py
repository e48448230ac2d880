"""report.html in a real browser: headless Chromium (Selenium) opens the page from disk,
with the network off, and plotly draws every chart (an ``svg`` inside each plotly div);
the screenshot is saved (``$MARGINENGINE_ARTIFACTS`` or the test's folder).

Skips, saying why, where there is no Chromium, no Selenium or no plotly;
``MARGINENGINE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns a missing browser into a
failure, as for the dashboard's browser test (tests/service/test_dashboard_browser.py,
whose driver set-up this repeats).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.report import write_report
from marginengine.sim import apply_overrides
from marginengine.sim.cascade import run_cascade

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--window-size=1300,1000",
         # Offline: any request outside the file would fail, so the charts must draw from
         # the page's own inline plotly.js.
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def unavailable(reason: str) -> None:
    if os.environ.get("MARGINENGINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser test is required (MARGINENGINE_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(reason)


def driver(profile: Path) -> Any:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as ChromeService
    except ImportError:
        unavailable("selenium is not installed (pip install 'marginengine[test]')")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        unavailable("no chromium/chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=ChromeService(driver_path), options=options)


def test_report_when_opened_offline_in_chromium_then_every_plotly_chart_draws(tmp_path: Path):
    pytest.importorskip("plotly")
    from selenium.webdriver.common.by import By

    data = apply_overrides(read_toml(EXAMPLES / "quickstart.toml"),
                           ["book.accounts=60", "book.total_debt=2000000", "steps=40"])
    result = run_cascade(data, explain_run=True)
    page = write_report(tmp_path, "quickstart", result.summary, result.series,
                        result.twin_series, result.auctions,
                        explanation=result.explanation, scenario=data)
    assert page is not None
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    browser = None
    try:
        browser = driver(profile)
        browser.get(page.as_uri())
        deadline = time.monotonic() + 30
        drawn: list[int] = []
        while time.monotonic() < deadline:
            divs = browser.find_elements(By.CSS_SELECTOR, "div.plotly-graph-div")
            drawn = [len(d.find_elements(By.CSS_SELECTOR, "svg.main-svg")) for d in divs]
            if len(drawn) >= 5 and all(drawn):
                break
            time.sleep(0.2)
        assert len(drawn) >= 5 and all(drawn), drawn
        # The liquidatable-accounts chart plots the run's own series: its trace's points.
        points = browser.execute_script(
            "return document.getElementById('chart-liquidatable').data[0].y.length")
        assert points == len(result.series["step"])
        why = browser.find_elements(By.CSS_SELECTOR, "#why li")
        assert [li.text for li in why] == result.explanation["sentences"]
        out = Path(os.environ.get("MARGINENGINE_ARTIFACTS", tmp_path))
        out.mkdir(parents=True, exist_ok=True)
        shot = out / "report.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        if browser is not None:
            browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
