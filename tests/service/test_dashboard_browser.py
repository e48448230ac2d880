"""The dashboard in a real browser: headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium) opens the page of a running server, sees a tick arrive and the at-risk
table change, and on an options book the options panel (portfolio accounts by health with
their worst scenario, running auctions, each expiry's vol) follow vol ticks and an auction;
the screenshots are saved (``$MARGINENGINE_ARTIFACTS`` or the test's folder).

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
    # Read in one script, as _table: the page redraws the table on every refresh, and a
    # row found by find_elements can be replaced before its .text is read (a stale
    # element, seen under load).
    return _texts(driver, "#at-risk tbody tr")


def _texts(driver: Any, selector: str) -> list[str]:
    """The rendered text of every element ``selector`` matches, read in one script."""
    texts: list[str] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText);",
        selector)
    return texts


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
        alerts = _texts(driver, "#alerts li")
        assert alerts and "#1" in alerts[0]
        assert after[0].split()[0] == server.get("/at-risk?limit=1")[0]["account"]
        # A lending book: no options panel.
        assert not driver.find_element(By.ID, "options").is_displayed()
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


def _table(driver: Any, table: str) -> list[list[str]]:
    # Read in one script: the page redraws its tables on every refresh.
    rows: list[list[str]] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map("
        "(r) => [...r.cells].map((c) => c.textContent));", f"#{table} tbody tr")
    return rows


def _shown(x: float, digits: int) -> str:
    """``x`` as the page prints it (en-US, at most ``digits`` decimals)."""
    text = f"{round(x, digits):,.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def test_dashboard_when_options_book_then_panel_follows_vols_and_auctions(
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    # examples/serve_options.toml: three put sellers (s1, s2, s3) and a buyer (mm) under
    # PMRM_2; WETH at 2,000 USD, one 30-day expiry at 60% ATM vol, skew -10%.
    server = Server(["examples/serve_options.toml"])
    driver = None
    try:
        driver = _driver(profile)
        driver.get(f"{server.url}/")
        status = driver.find_element(By.ID, "status")
        _wait(lambda: status.text == "live")
        panel = driver.find_element(By.ID, "options")
        _wait(lambda: panel.is_displayed() and _table(driver, "opt-table"))
        assert driver.find_element(By.ID, "opt-rule").text == "(PMRM_2)"
        assert driver.find_element(By.ID, "opt-accounts").text == "4"
        assert _table(driver, "opt-vols") == [["WETH", "30d", "60%", "-10%"]]
        # Lowest health first, each with the engine's exact health and worst scenario.
        rows = _table(driver, "opt-table")
        assert [r[0] for r in rows] == ["s3", "s2", "s1", "mm"]
        s3 = server.get("/accounts/s3")
        scenario = s3["worst"]["scenario"]
        assert rows[0][1] == _shown(s3["health"], 4)
        assert rows[0][2] == "0"
        assert rows[0][3].startswith(f"#{scenario['index']} spot ×")
        assert rows[0][3].endswith(f"vol {scenario['vol_shock']}")
        assert rows[0][4] == _shown(scenario["pnl"], 2)
        assert _table(driver, "opt-auctions") == []
        # A vol tick to 150%: s3 liquidatable (level 3), s2 below 1.25 (level 1).
        r = server.post("/ticks", {"vols": {"WETH": 1.5}})
        assert r.json()["alert"]["liquidatable"]["new"] == ["s3"]
        _wait(lambda: _table(driver, "opt-vols") == [["WETH", "30d", "150%", "-10%"]])
        _wait(lambda: (rows := _table(driver, "opt-table"))[0][:3] == [
            "s3", _shown(server.get("/accounts/s3")["health"], 4), "3"]
            and rows[1][2] == "1")
        liq = driver.execute_script("return [...document.querySelectorAll("
                                    "'#opt-table tbody tr.liq')].map((r) => r.dataset.account);")
        assert liq == ["s3"]
        assert driver.find_element(By.ID, "opt-liq").text == "1"
        alerts = _texts(driver, "#alerts li")
        assert "#1 s3 liquidatable: portfolio auction (StartPortfolioAuction)" in alerts
        # A keeper starts s3's auction: the panel lists it.
        start = {"type": "StartPortfolioAuction", "keeper": "keeper", "account": "s3"}
        r = server.post("/events", {"events": [start]})
        assert r.json()["outcomes"][0]["accepted"]
        server.post("/ticks", {"advance_seconds": 60})  # a tick: the page refreshes
        _wait(lambda: _table(driver, "opt-auctions") == [["#1", "s3", "solvent", "t=0"]])
        _wait(lambda: _table(driver, "opt-table")[0][5] == "running")
        assert driver.find_element(By.ID, "opt-auction-count").text == "1"
        # The heatmap offers the options' underlying and counts the sellers there.
        assert driver.find_element(By.ID, "heat-asset").get_attribute("value") == "WETH"
        out = Path(os.environ.get("MARGINENGINE_ARTIFACTS", tmp_path))
        out.mkdir(parents=True, exist_ok=True)
        shot = out / "dashboard_options.png"
        assert driver.save_screenshot(str(shot))
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)


def test_dashboard_when_snapshot_book_then_internal_account_not_shown(
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    # examples/serve_snapshot.toml: writer, spread and seller hold options against _book
    # (the tool's own account), lp and borrower lend. Before: the page counted 6 accounts
    # and listed _book among the portfolio accounts and in the at-risk table.
    server = Server(["examples/serve_snapshot.toml"])
    driver = None
    try:
        driver = _driver(profile)
        driver.get(f"{server.url}/")
        _wait(lambda: driver.find_element(By.ID, "status").text == "live")
        panel = driver.find_element(By.ID, "options")
        _wait(lambda: panel.is_displayed() and _table(driver, "opt-table"))
        assert driver.find_element(By.ID, "k-accounts").text == "5"
        assert driver.find_element(By.ID, "opt-accounts").text == "3"
        assert [r[0] for r in _table(driver, "opt-table")] == ["seller", "spread", "writer"]
        assert [r[0] for r in _table(driver, "at-risk")] == ["borrower", "seller", "spread",
                                                            "writer"]
        assert "_book" not in driver.find_element(By.TAG_NAME, "body").text
        # The heatmap opens on the options' underlying, not the USDC the lp lends (the
        # most value supplied: its fall moves nothing), its levels 2,000 down to 1,000.
        assert driver.find_element(By.ID, "heat-asset").get_attribute("value") == "WETH"
        labels = driver.execute_script("return [...document.querySelectorAll("
                                       "'#heatmap text')].map((t) => t.textContent);")
        assert labels[0] == "2,000" and "1,000" in labels
        out = Path(os.environ.get("MARGINENGINE_ARTIFACTS", tmp_path))
        out.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(out / "dashboard_snapshot.png"))
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
