"""Outputs that do not mislead (issue 9, items 13-15): borrower loss, the per-step series
and their Parquet metadata, Monte Carlo estimates with confidence intervals."""

import json
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.sim import apply_overrides
from marginengine.sim.cascade import run_cascade
from marginengine.sim.metrics import PERP_SERIES_COLUMNS, SERIES_COLUMNS, borrower_loss

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def one_vault(protocol: dict[str, Any], debt_asset: str, debt: int,
              path: list[float]) -> dict[str, Any]:
    """A vault of 10 WETH owing ``debt`` of ``debt_asset``, beside one tiny, very safe book
    account; the price follows ``path``; one flash-loan keeper that bids at the market
    (margin 0) with next to no gas; the venue is left untouched (sales at the external
    price) and the oracle is the external price."""
    return {
        "kind": "cascade", "name": "one_vault", "seed": 3, "steps": 4, "step_seconds": 600,
        "protocol": protocol,
        "prices": {debt_asset: 1},
        "price": {"asset": "WETH", "process": "path", "path": path},
        "venue": {"kind": "amm", "base_reserve": 100_000, "feedback": False},
        "oracle": {"kind": "direct"},
        "gas": {"kind": "constant", "gwei": "0.000001"},
        "book": {"accounts": 1, "total_debt": 100, "whales": 0, "whale_share": 0,
                 "collateralization_median": 50, "collateralization_sigma": 0,
                 "min_collateralization": 40, "debt_asset": debt_asset,
                 "collateral_asset": "WETH"},
        "liquidity": {debt_asset: 100_000},
        "accounts": [{"id": "vault", "deposit": {"WETH": 10}, "borrow": {debt_asset: debt}}],
        "keepers": [{"id": "keeper", "flash_loan": True, "margin": 0, "min_profit": 0}],
    }


MAKER = {
    "preset": "aave-v3",
    "markets": {
        "WETH": {"ltv": 0.66, "liquidation_threshold": 0.6666, "liquidation_bonus": 0,
                 "borrowable": False},
        "DAI": {"collateral": False, "interest_rate": {  # no interest: exact figures
            "base": 0, "slope1": 0, "slope2": 0, "optimal_utilization": 0.8}},
    },
    "auction": {"kind": "clip", "chop": 1.13, "dust": 20, "buf": 1.2, "curve": "stairstep",
                "step": 600, "cut": 0.75, "chip": 0, "tip": 0, "tail": 100_000,
                "cusp": 0.4},
}


def test_borrower_loss_when_clip_auction_then_penalty_plus_sale_below_oracle():
    # By hand. 10 WETH against 12,000 DAI; WETH 2,000 -> 1,500: health 15,000 x 0.6666 /
    # 12,000 = 0.83, so the keeper barks at step 1: debt 12,000 DAI retired, tab = 12,000 x
    # chop 1.13 = 13,560 DAI, the auction starts at top = 1,500 x buf 1.2 = 1,800 DAI. At
    # step 1 (price 1,800 > market 1,500) nobody buys; at step 2 the stairstep has cut once:
    # 1,800 x 0.75 = 1,350, so the keeper takes the whole lot: 10 x 1,350 = 13,500 DAI
    # raised (< tab, so nothing goes back). The borrower gave up 10 WETH worth 15,000 at the
    # oracle price of the settlement for 12,000 of debt: loss 3,000 = penalty collected
    # (13,500 - 12,000 = 1,500) + the sale below the oracle (15,000 - 13,500 = 1,500).
    result = run_cascade(one_vault(MAKER, "DAI", 12_000, [2000, 1500]), amplification=False)
    [auction] = result.auctions
    assert auction["account"] == "vault"
    assert auction["debt"] == 12_000 and auction["raised"] == 13_500
    assert auction["lot_sold"] == 10 and auction["settle_price"] == 1_350
    assert auction["oracle_price_at_settle"] == 1_500
    assert auction["borrower_loss"] == 3_000
    assert result.summary["borrower_loss"] == 3_000
    series = result.series
    assert series["borrower_loss_usd_cum"][:4] == [0, 0, 3_000, 3_000]


def test_borrower_loss_when_direct_liquidation_then_bonus_with_protocol_fee_at_oracle():
    # Aave v3 rules, WETH bonus 5%, protocol fee 10% of the bonus. 10 WETH against 12,000
    # USDC; WETH 2,000 -> 1,400: health 14,000 x 0.83 / 12,000 = 0.968 >= 0.95, so half
    # the debt may be repaid: 6,000 USDC for 6,000 x 1.05 / 1,400 = 4.5 WETH (4.47857 to
    # the keeper, 0.02143 to the treasury). Loss: 4.5 x 1,400 - 6,000 = 300 USDC (the bonus,
    # protocol fee included; the old figure, the keeper's share only, was 270).
    flat = {"base": 0, "slope1": 0, "slope2": 0, "optimal_utilization": 0.8}
    protocol = {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {"interest_rate": flat}}}
    result = run_cascade(one_vault(protocol, "USDC", 12_000, [2000, 1400]),
                         amplification=False)
    assert result.summary["liquidation_count"] == 1
    assert result.summary["liquidated_value"] == pytest.approx(6_000)
    assert result.summary["borrower_loss"] == pytest.approx(300, abs=1e-6)


def test_borrower_loss_when_collateral_worth_less_than_debt_then_zero():
    # 15,000 of collateral for 12,000 of debt: loss 3,000; 11,000 for 12,000: nothing
    # beyond the collateral (the 1,000 is bad debt, not a borrower loss).
    weth, usd = 10**18, 10**8
    assert borrower_loss(10 * weth, 1_500 * usd, weth, 12_000 * weth, usd, weth) == 3_000 * usd
    assert borrower_loss(10 * weth, 1_100 * usd, weth, 12_000 * weth, usd, weth) == 0


@pytest.fixture(scope="module")
def flip() -> Any:
    """Black Thursday under Flipper, an eighth of the book (OSM lag, gas-limited keepers,
    a 1-wei bidder)."""
    scenario = EXAMPLES / "black_thursday_flip.toml"
    data = apply_overrides(read_toml(scenario),
                           ["book.accounts=250", "book.total_debt=12500000", "book.whales=1"])
    return run_cascade(data, amplification=False, source=str(scenario))


def test_borrower_loss_when_black_thursday_flip_then_counted_for_near_zero_auctions(
    flip: Any,
):
    result = flip
    s = result.summary
    assert s["auctions_settled_near_zero"] > 0
    # Each settled auction's loss is its collateral sold at the settlement oracle price less
    # its debt, floored at zero; the total is their sum.
    assert s["borrower_loss"] > 0
    losses = [a["borrower_loss"] for a in result.auctions]
    assert s["borrower_loss"] == pytest.approx(sum(losses))
    for a in result.auctions:
        expected = max(0.0, a["lot_sold"] * a["oracle_price_at_settle"] - a["debt"])
        assert a["borrower_loss"] == pytest.approx(expected, rel=1e-9, abs=1e-6)


@pytest.fixture(scope="module")
def priced_out() -> Any:
    """The quickstart crash (step 36) on 300 borrowers, every keeper priced out by gas:
    accounts go under water at the crash and nobody liquidates them."""
    data = apply_overrides(read_toml(EXAMPLES / "quickstart.toml"),
                           ["book.accounts=300", "book.total_debt=4000000", "steps=60"])
    for keeper in data["keepers"]:
        keeper["max_gas_gwei"] = "0.0001"
    return run_cascade(data, amplification=False)


def test_series_when_run_then_step_zero_named_columns_and_headline_bad_debt(
    priced_out: Any,
):
    series, s = priced_out.series, priced_out.summary
    assert list(series) == [c.name for c in SERIES_COLUMNS]
    assert series["step"] == list(range(61))
    # Step 0 is the state before any step: the first price, nothing liquidated yet.
    assert series["external_price_usd"][0] == 2000 and series["time_s"][0] == 0
    assert series["liquidatable_accounts"][0] == 0 and series["bad_debt_usd"][0] == 0
    # Nothing is realized (no liquidation), yet from the crash on the headline bad debt is
    # the debt above collateral, and it ends as the summary's figure: the series the chart
    # plotted before (realized only) stayed at 0 while summary.json said otherwise.
    assert s["liquidation_count"] == 0
    assert set(series["bad_debt_realized_usd_cum"]) == {0}
    assert series["bad_debt_usd"][35] == 0
    assert series["bad_debt_usd"][36] > 10_000
    assert series["bad_debt_usd"][36] == series["underwater_usd"][36]
    assert series["liquidatable_accounts"][36] > 100
    assert series["bad_debt_usd"][-1] == pytest.approx(s["bad_debt"]) and s["bad_debt"] > 0


def test_series_when_liquidations_then_per_step_sums_to_cumulative_and_parts_to_total(
    flip: Any,
):
    series, s = flip.series, flip.summary
    last = {k: v[-1] for k, v in series.items()}
    assert last["bad_debt_usd"] == pytest.approx(s["bad_debt"]) and s["bad_debt"] > 0
    assert last["bad_debt_usd"] == pytest.approx(
        last["bad_debt_realized_usd_cum"] + last["bad_debt_in_auctions_usd"]
        + last["underwater_usd"])
    assert sum(series["liquidations_step"]) == last["liquidations_cum"] == \
        s["liquidation_count"]
    assert sum(series["liquidated_value_usd_step"]) == pytest.approx(
        last["liquidated_value_usd_cum"])
    assert last["borrower_loss_usd_cum"] == pytest.approx(s["borrower_loss"])
    bars = json.loads((EXAMPLES.parent / "data" / "black_thursday" /
                       "eth_usd_10min_2020-03-12_stablesims.json").read_text())
    assert series["external_price_usd"][0] == pytest.approx(bars[0]["price_close"])
    assert s["start_time_utc"] == "2020-03-12T00:00:00Z"


def test_charts_when_drawn_then_headline_bad_debt_and_liquidatable_accounts_plotted(
    priced_out: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
):
    import matplotlib.axes

    drawn: list[tuple[str, list[float]]] = []
    plot = matplotlib.axes.Axes.plot

    def spy(self: Any, x: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        drawn.append((str(kwargs.get("label", "")), [float(v) for v in y]))
        return plot(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    from marginengine.report import write_report

    page = write_report(tmp_path, "t", priced_out.summary, priced_out.series)
    assert page is not None and 'alt="liquidations_bad_debt"' in page.read_text()
    series = priced_out.series
    lines = [y for _, y in drawn]
    assert series["bad_debt_usd"] in lines
    assert series["liquidatable_accounts"] in lines
    label = next(lbl for lbl, y in drawn if y == series["bad_debt_usd"])
    assert label.startswith("bad debt, USD")


def exponential_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """Runs whose bad debt is exponential with mean 1,000 and whose liquidated value is
    uniform on [0, 1): a distribution whose figures are known in closed form."""
    import numpy as np

    rng = np.random.default_rng(seed)
    bad = rng.exponential(1_000.0, n)
    liq = rng.uniform(0.0, 1.0, n)
    return [{"bad_debt": float(b), "liquidated_value": float(v)}
            for b, v in zip(bad, liq, strict=True)]


def test_statistics_when_known_distribution_then_intervals_cover_truth_with_right_width():
    import math

    from marginengine.sim.montecarlo import statistics

    stats = statistics(exponential_rows(2_000, 5), seed=7)
    e = stats["estimates"]
    # Exponential(mean 1,000): VaR95 = 1,000 ln 20, ES99 = 1,000 (1 + ln 100) (the tail
    # beyond a quantile is the quantile plus a fresh exponential); uniform: LaR95 = 0.95.
    truth = {"mean_bad_debt": 1_000.0, "var95_bad_debt": 1_000 * math.log(20),
             "es99_bad_debt": 1_000 * (1 + math.log(100)), "lar95": 0.95,
             "mean_liquidated_value": 0.5, "p_bad_debt": 1.0}
    for name, value in truth.items():
        assert e[name]["ci_low"] <= value <= e[name]["ci_high"], name
        assert e[name]["ci_low"] <= e[name]["value"] <= e[name]["ci_high"], name
        assert stats[name] == e[name]["value"]
    # The mean's 95% interval is about +-1.96 sigma / sqrt(n) = +-43.8 wide each side.
    half = (e["mean_bad_debt"]["ci_high"] - e["mean_bad_debt"]["ci_low"]) / 2
    assert half == pytest.approx(1.96 * 1_000 / math.sqrt(2_000), rel=0.15)
    # Tails: 5% of 2,000 = 100 runs beyond the 95th percentile, 20 beyond the 99th.
    assert e["var95_bad_debt"]["tail_observations"] == 100
    assert e["es99_bad_debt"]["tail_observations"] == 20
    assert e["mean_bad_debt"]["tail_observations"] is None
    assert e["mean_bad_debt"]["observations"] == 2_000
    assert stats["warnings"] == []
    assert stats["confidence"]["level"] == 0.95
    assert stats["confidence"]["method"] == "percentile bootstrap"


def test_statistics_when_few_runs_then_thin_tails_warned_and_intervals_wide():
    from marginengine.sim.montecarlo import statistics

    few = statistics(exponential_rows(40, 5), seed=7)
    e = few["estimates"]
    # 40 runs: 2 beyond the 95th percentile, 1 beyond the 99th (the 360k-vs-6.2k).
    assert e["var95_bad_debt"]["tail_observations"] == 2
    assert e["es99_bad_debt"]["tail_observations"] == 1
    assert e["lar95"]["tail_observations"] == 2
    warned = " ".join(few["warnings"])
    assert len(few["warnings"]) == 3
    assert "var95_bad_debt rests on 2 run(s)" in warned and "at least 200 runs" in warned
    assert "es99_bad_debt rests on 1 run(s)" in warned and "at least 1000 runs" in warned
    many = statistics(exponential_rows(2_000, 5), seed=7)["estimates"]
    width = e["var95_bad_debt"]["ci_high"] - e["var95_bad_debt"]["ci_low"]
    # (Ideally sqrt(2000 / 40) = 7 times as wide; the bootstrap of a thin tail cannot reach
    # beyond the largest run, one more reason for the warning.)
    assert width > 2 * (many["var95_bad_debt"]["ci_high"] - many["var95_bad_debt"]["ci_low"])
    # 200 runs: exactly 10 in the VaR tail (no warning for it), 2 in the ES99 tail.
    mid = statistics(exponential_rows(200, 5), seed=7)
    assert mid["estimates"]["var95_bad_debt"]["tail_observations"] == 10
    assert [w.split()[0] for w in mid["warnings"]] == ["es99_bad_debt"]


def test_statistics_when_same_seed_then_same_intervals():
    from marginengine.sim.montecarlo import statistics

    rows = exponential_rows(300, 1)
    one, two = statistics(rows, seed=3), statistics(rows, seed=3)
    other = statistics(rows, seed=4)
    assert one["estimates"] == two["estimates"]
    assert one["estimates"]["var95_bad_debt"]["ci_low"] != \
        other["estimates"]["var95_bad_debt"]["ci_low"]
    assert one["var95_bad_debt"] == other["var95_bad_debt"]  # the point estimate is not drawn


def test_formats_doc_when_read_then_lists_every_steps_column_with_unit_and_kind():
    doc = (EXAMPLES.parent / "docs" / "formats.md").read_text()
    for c in (*SERIES_COLUMNS, *PERP_SERIES_COLUMNS):
        assert f"| `{c.name}` | {c.unit} | {c.kind.replace('_', ' ')} |" in doc, c.name
