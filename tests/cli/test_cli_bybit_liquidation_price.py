"""A perp market's ``liquidation_price`` option: Bybit's isolated liquidation price beside
Binance's in ``marginengine health`` (issue 16).

Source: Bybit Help Center, "Liquidation Price (USDT Contract)", isolated margin mode,
Example 1: a long of 1 BTC at 20,000 USDT, 50x (IM 2%), MMR 0.5%: IM 400, MM 100,
LP = 20,000 - (400 - 100) / 1 = 19,700. Binance's isolated formula on the same position
(one bracket, MMR 0.5%, wallet balance 400): LP = (400 - 20,000) / (0.005 - 1) =
19,698.49246232 (tests/liquidation/test_bybit.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run

USD = 10**8


def _snapshot(tmp_path: Path, formula: str | None, tiers: str, size: int, quote: int,
              accounts: tuple[str, ...] = ("trader/btc",)) -> Path:
    option = "" if formula is None else f'liquidation_price = "{formula}"\n'
    rows = "".join(f'[[accounts]]\nid = "{a}"\nquote = {quote}\n'
                   f"positions = {{ BTC-PERP = {{ size = {size}, entry = 20000 }} }}\n\n"
                   for a in accounts)
    path = tmp_path / "snapshot.toml"
    path.write_text(f"""
[protocol]
preset = "aave-v3"
[protocol.markets.USDC]
[protocol.perps.BTC-PERP]
base_decimals = 8
tiers = {tiers}
{option}
[prices]
USDC = 1
BTC-PERP = 20000

{rows}""")
    return path


EXAMPLE_1_TIERS = "[{ notional_floor = 0, mmf = 0.005, imf = 0.02 }]"


def _prices(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int | None]:
    code, out, err = run(["health", str(path), "--json"], capsys)
    assert code == 0, err
    return {r["account"]: r["positions"]["BTC-PERP"]["liquidation_price"]
            for r in json.loads(out)["accounts"]}


@pytest.mark.parametrize(("formula", "expected"), [
    ("bybit", 19_700 * USD),                         # Bybit's Example 1
    ("binance", -(-(19_600 * USD * 1000) // 995)),   # 19,698.49246232, rounded up (a long)
    (None, -(-(19_600 * USD * 1000) // 995)),        # the default is Binance's
])
def test_health_when_isolated_bucket_then_the_markets_formula_reports_the_price(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], formula: str | None,
        expected: int):
    # The isolated bucket holds 400 USDC behind 1 BTC long from 20,000: Bybit's IM 400.
    prices = _prices(_snapshot(tmp_path, formula, EXAMPLE_1_TIERS, 1, 400), capsys)
    assert prices["trader/btc"] == expected


def test_health_when_bybit_market_then_a_cross_bucket_keeps_binances_cross_price(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # Bybit's formula is isolated margin's: the same position in a cross bucket ("cross",
    # no owner/label) is still Binance's 19,698.49.
    path = _snapshot(tmp_path, "bybit", EXAMPLE_1_TIERS, 1, 400,
                     accounts=("trader/btc", "cross"))
    prices = _prices(path, capsys)
    assert prices["trader/btc"] == 19_700 * USD
    assert prices["cross"] == -(-(19_600 * USD * 1000) // 995)


def test_health_when_bybit_and_the_entry_value_is_in_a_higher_tier_then_its_mmr_and_deduction(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # 3 BTC at 20,000 = 60,000 USDC, in the second tier (MMR 1%, deduction
    # 50,000 x (1% - 0.5%) = 250): MM = 600 - 250 = 350; margin 3,000 (IM 2% = 1,200 plus
    # 1,800 extra): LP = 20,000 - (3,000 - 350) / 3 = 19,116.666... rounded up (a long).
    # The first tier's MMR with no deduction would give 20,000 - 2,700 / 3 = 19,100.
    tiers = ("[{ notional_floor = 0, mmf = 0.005, imf = 0.01 }, "
             "{ notional_floor = 50000, mmf = 0.01, imf = 0.02 }]")
    prices = _prices(_snapshot(tmp_path, "bybit", tiers, 3, 3_000), capsys)
    assert prices["trader/btc"] == 1_911_666_666_667
    # The short mirrors it: 20,000 + 2,650 / 3 = 20,883.333... rounded down.
    prices = _prices(_snapshot(tmp_path, "bybit", tiers, -3, 3_000), capsys)
    assert prices["trader/btc"] == 2_088_333_333_333


def test_health_when_liquidation_price_is_unknown_then_one_line_error_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _snapshot(tmp_path, "bybt", EXAMPLE_1_TIERS, 1, 400)
    code, out, err = run(["health", str(path), "--json"], capsys)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert "protocol.perps.BTC-PERP.liquidation_price: must be 'binance' or " \
           "'bybit'" in err
    assert "Traceback" not in err
