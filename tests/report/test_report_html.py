"""report.html (issue 11 item 8): the explanation of a real scenario run with counts that
the event log confirms, the page parses and holds the plotly charts, the Monte Carlo page
has the VaR/ES table, and the page works without plotly."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.engine import Engine
from marginengine.margin import underwater_value
from marginengine.persistence import open_log
from marginengine.report import write_monte_carlo_report, write_report
from marginengine.sim import apply_overrides
from marginengine.sim.cascade import run_cascade

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMALL = ["book.accounts=80", "book.total_debt=3000000", "steps=40"]


class Page(HTMLParser):
    """Tags, ids and the text of every ``<li>`` of the explanation; fails on a tag closed
    out of order."""

    VOID = frozenset({"meta", "img", "br", "hr", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.classes: list[str] = []
        self.why: list[str] = []
        self._in_why = False
        self._li: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if a.get("class"):
            self.classes.append(str(a["class"]))
        if tag == "ul" and a.get("id") == "why":
            self._in_why = True
        if tag == "li" and self._in_why:
            self._li = []
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()
        if tag == "li" and self._li is not None:
            self.why.append("".join(self._li))
            self._li = None
        if tag == "ul":
            self._in_why = False

    def handle_data(self, data: str) -> None:
        if self._li is not None:
            self._li.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    page.close()
    assert page.stack == []
    return page


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("quickstart")
    data = apply_overrides(read_toml(EXAMPLES / "quickstart.toml"), SMALL)
    result = run_cascade(data, log_path=folder / "events.sqlite", explain_run=True)
    return result, folder, data


def test_explanation_when_small_quickstart_then_counts_agree_with_the_event_log(
    small_run: tuple[Any, Path, dict[str, Any]],
):
    result, folder, _ = small_run
    e = result.explanation
    # From the log alone: accounts with debt written off by a liquidation, the
    # liquidations per keeper, and (replayed) who is under water or liquidatable now.
    written_off: set[str] = set()
    per_keeper: dict[str, int] = {}
    for record in open_log(folder / "events.sqlite").read():
        event = record.record["event"]
        if record.accepted and event["type"] == "Liquidate":
            per_keeper[event["liquidator"]] = per_keeper.get(event["liquidator"], 0) + 1
            if any(record.record["details"]["deficit"].values()):
                written_off.add(event["account"])
    engine, _ = Engine.replay(folder / "events.sqlite")
    accounts = [a for a in engine.ledger.accounts if a != "lender"]
    under = {a for a in accounts if underwater_value(engine.account_data(a)) > 0}
    liquidatable = [a for a in accounts if engine.is_liquidatable(a)]
    bad_accounts = written_off | under
    assert len(bad_accounts) > 10  # the crash leaves bad debt: the test is not vacuous
    assert {r["account"] for r in e["accounts"]} == bad_accounts
    assert sum(c["accounts"] for c in e["causes"].values()) == len(bad_accounts)
    assert sum(c["bad_debt_usd"] for c in e["causes"].values()) == pytest.approx(
        result.summary["bad_debt"], abs=0.01)
    assert e["still_liquidatable"]["accounts"] == len(liquidatable)
    assert {k["keeper"]: k["liquidations"] for k in e["keepers"] if k["liquidations"]} \
        == per_keeper
    assert sum(per_keeper.values()) == result.summary["liquidation_count"]
    # The sentences carry those counts.
    assert e["sentences"][0] == (f"Bad debt {result.summary['bad_debt']:,.0f} USD across "
                                 f"{len(bad_accounts)} accounts.")
    assert any(s.startswith(f"{len(liquidatable)} accounts still liquidatable at the end")
               for s in e["sentences"])
    # The 10-sigma crash at step 36 gaps most vaults through their bonus in one step.
    gapped = e["causes"]["gapped"]
    assert gapped["accounts"] == sum(1 for r in e["accounts"] if r["cause"] == "gapped"
                                     and r["collateral_at_first_usd"] < r["debt_at_first_usd"])
    assert all(r["first_liquidatable_step"] == 36 for r in e["accounts"]
               if r["cause"] == "gapped")
    assert f"from {gapped['accounts']} accounts already under water when first " \
           "liquidatable" in " ".join(e["sentences"])


def test_report_when_plotly_installed_then_page_parses_with_charts_and_explanation(
    small_run: tuple[Any, Path, dict[str, Any]],
):
    pytest.importorskip("plotly")
    result, folder, data = small_run
    page_path = write_report(folder, "quickstart", result.summary, result.series,
                             result.twin_series, result.auctions,
                             explanation=result.explanation, scenario=data)
    assert page_path is not None
    page = parse(page_path)
    assert page.why == result.explanation["sentences"]
    assert {"chart-liquidatable", "chart-bad_debt", "chart-prices", "chart-gas"} <= page.ids
    assert page.classes.count("plotly-graph-div") >= 5
    text = page_path.read_text()
    # plotly.js is inline, once: the page works offline.
    assert text.count("Plotly.newPlot") == page.classes.count("plotly-graph-div")
    assert len(re.findall(r"<script type=\"text/javascript\">/\*\*", text)) <= 1
    assert "cdn.plot.ly" not in text.split("</head>")[1]
    assert 3_000_000 < len(text) < 8_000_000
    for heading in ("Why the bad debt arose", "Keepers", "Largest losses",
                    "Scenario parameters"):
        assert f"<h2>{heading}</h2>" in text
    worst = result.explanation["accounts"][0]
    assert f"<td>{worst['account']}</td><td>{worst['cause']}</td>" in text
    assert "<td>price.crash_k_sigma</td>" in text  # the scenario's parameters
    assert 'alt="liquidations_bad_debt"' in text  # the PNGs are kept


def test_report_when_plotly_missing_then_pngs_and_a_note(
    small_run: tuple[Any, Path, dict[str, Any]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    from marginengine.report import interactive

    monkeypatch.setattr(interactive, "available", lambda: False)
    result, _, data = small_run
    page_path = write_report(tmp_path, "quickstart", result.summary, result.series,
                             explanation=result.explanation, scenario=data)
    assert page_path is not None
    page = parse(page_path)
    text = page_path.read_text()
    assert "plotly-graph-div" not in page.classes and "Plotly" not in text
    assert "plotly is not installed" in text
    assert "<img" in text and page.why == result.explanation["sentences"]
    assert len(text) < 1_000_000


def test_report_when_perp_waterfall_columns_then_charted(
    small_run: tuple[Any, Path, dict[str, Any]], tmp_path: Path,
):
    pytest.importorskip("plotly")
    result, _, _ = small_run
    series = dict(result.series)
    n = len(series["step"])
    series["insurance_fund_usd"] = [1000.0 - 10 * i for i in range(n)]
    series["socialized_loss_usd"] = [0.0] * n
    page_path = write_report(tmp_path, "perp", result.summary, series)
    assert page_path is not None
    assert {"chart-perp_waterfall", "perp"} <= parse(page_path).ids
    block = page_path.read_text().split('<div id="perp">')[1].split("</div>")[0]
    # The fund falls by 10 a step from 1,000 over the 41 steps 0..40: 600 at the end.
    assert ('<td>insurance_fund_usd</td><td class="n">1,000.00</td><td class="n">600.00'
            '</td><td class="n">1,000.00</td><td class="n">600.00</td>') in block
    assert "<td>socialized_loss_usd</td>" in block


def test_monte_carlo_report_when_runs_then_var_es_table_histograms_and_warning(
    tmp_path: Path,
):
    from marginengine.sim.montecarlo import statistics

    rows = [{"run": i, "seed": f"7/{i}", "bad_debt": float(i * i),
             "liquidation_count": i % 7, "liquidated_value": 10.0 * i, "min_price": 1.0}
            for i in range(40)]
    summary = {"scenario": "t", **statistics(rows, 7), "seed": 7}
    path = write_monte_carlo_report(tmp_path, "t: 40 runs", summary, rows,
                                    {"name": "t", "description": "forty runs"})
    page = parse(path)
    text = path.read_text()
    assert "estimates" in page.ids
    block = text.split('<div id="estimates">')[1].split("</div>")[0]
    for name in ("var95_bad_debt", "es99_bad_debt", "lar95", "p_bad_debt"):
        est = summary["estimates"][name]
        row = block.split(f"<td>{name}</td>")[1].split("</tr>")[0]
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        # value, interval low and high as the summary has them (VaR95 of i^2, i < 40,
        # is the 95th percentile: 37.05^2 by interpolation between 1,369 and 1,444).
        assert cells[0] == (f"{est['value']:,.4f}" if abs(est["value"]) < 100 else
                            f"{est['value']:,.2f}")
        assert len(cells) == 4
    assert summary["estimates"]["var95_bad_debt"]["value"] == pytest.approx(
        1369 + 0.05 * (1444 - 1369))
    # ES99 over 40 runs rests on 1 run: flagged in the table and in a warning.
    assert "1 (fewer than 10)" in block
    assert "warning: es99_bad_debt rests on 1 run(s)" in text
    assert (tmp_path / "bad_debt_hist.png").exists()
    assert (tmp_path / "liquidations_hist.png").exists()
    if "plotly-graph-div" in page.classes:
        assert {"chart-bad_debt_hist", "chart-liquidations_hist"} <= page.ids
    assert "forty runs" in text and json.dumps(7) in text


def test_report_when_auctions_then_auction_chart_and_cause(tmp_path: Path):
    pytest.importorskip("plotly")
    from tests.report.test_explain import MAKER, vault

    result = run_cascade(vault([2000, 1500, 600], protocol=MAKER, debt_asset="DAI", steps=6),
                         amplification=False, explain_run=True)
    assert result.auctions
    page_path = write_report(tmp_path, "clip", result.summary, result.series,
                             auctions=result.auctions, explanation=result.explanation)
    assert page_path is not None
    page = parse(page_path)
    assert "chart-auctions" in page.ids
    assert any("whose auctions raised less than the debt" in s for s in page.why)


def test_sweep_report_when_points_with_runs_then_table_and_error_bars(tmp_path: Path):
    from marginengine.report import write_sweep_report

    def point(i: int, bad: float, var: float) -> dict[str, Any]:
        return {"point": i, "mean_bad_debt": bad, "mean_borrower_loss": 10.0 * (i + 1),
                "mean_liquidation_count": 3.0, "mean_liquidated_value": 1000.0,
                "estimates": {"var95_bad_debt": {"value": var, "ci_low": var - 5,
                                                 "ci_high": var + 7}}}

    path = write_sweep_report(tmp_path, "sweep", ["bonus=0.05", "bonus=0.08"],
                              [point(0, 500.0, 900.0), point(1, 350.0, 600.0)], runs=2)
    page = parse(path)
    text = path.read_text()
    block = text.split('<div id="comparison">')[1].split("</div>")[0]
    # Bad debt, VaR95 with its interval, then the change against the first point: -150.
    assert ('<td>bonus=0.08</td><td class="n">350.00</td><td class="n">600.00</td>'
            '<td class="n">595.00</td><td class="n">607.00</td>'
            '<td class="n">-150.00</td>') in block
    if "plotly-graph-div" in page.classes:
        assert "chart-sweep" in page.ids
        # VaR95 per point with its interval as error bars: +7 above, -5 below.
        assert ('"error_y":{"array":[7.0,7.0],"arrayminus":[5.0,5.0]'
                in text.split("</head>")[1])


def test_sweep_report_when_one_run_per_point_then_liquidations_as_a_count(tmp_path: Path):
    from marginengine.report import write_sweep_report

    point = {"point": 0, "mean_bad_debt": 5.0, "mean_borrower_loss": 1.0,
             "mean_liquidation_count": 1122.0, "mean_liquidated_value": 1000.0}
    path = write_sweep_report(tmp_path, "sweep", ["bonus=0.05"], [point], runs=None)
    block = path.read_text().split('<div id="comparison">')[1].split("</div>")[0]
    # Before: 1,122.00 (a mean's format for the count of one run).
    assert '<td class="n">0</td><td class="n">1,122</td><td class="n">1,000.00</td>' in block


def test_report_when_several_protocols_then_per_protocol_causes_and_table(tmp_path: Path):
    # examples/shared_collateral.toml: an Aave-like market's sales move the shared WETH
    # pool a second protocol's oracle reads.
    source = EXAMPLES / "shared_collateral.toml"
    data = read_toml(source)
    result = run_cascade(data, source=str(source), amplification=False, explain_run=True)
    e = result.explanation
    names = list(result.summary["protocols"])
    assert len(names) == 2 and list(e["protocols"]) == names
    for name in names:
        own = e["protocols"][name]
        assert own["bad_debt_usd"] == pytest.approx(
            result.summary["protocols"][name]["bad_debt"], abs=0.01)
        assert all(r["protocol"] == name for r in e["accounts"]
                   if r["account"].startswith(f"{name}:"))
    for cause, c in e["causes"].items():
        assert c["accounts"] == sum(p["causes"].get(cause, {}).get("accounts", 0)
                                    for p in e["protocols"].values())
    assert e["bad_debt_usd"] == pytest.approx(result.summary["bad_debt"], abs=0.01)
    page_path = write_report(tmp_path, "shared", result.summary, result.series,
                             explanation=e, scenario=data)
    assert page_path is not None
    text = page_path.read_text()
    assert "<h2>Protocols</h2>" in text
    for name in names:
        assert f"<h3>{name}</h3>" in text and f"<td>{name}</td>" in text


def test_readme_quote_when_quickstart_explained_then_the_run_says_it():
    # The README quotes the quickstart's report: the quote must be the run's own.
    text = (EXAMPLES.parent / "README.md").read_text()
    quote = re.search(r'"(\d[\d,]* USD from \d[\d,]* accounts already under water when '
                      r'first liquidatable)"', text.replace("\n  ", " "))
    assert quote is not None
    result = run_cascade(read_toml(EXAMPLES / "quickstart.toml"), amplification=False,
                         explain_run=True)
    assert any(s.startswith(quote.group(1)) for s in result.explanation["sentences"])


def test_report_when_morpho_family_cascade_then_bulk_cause_and_family_chart(tmp_path: Path):
    # A Morpho Blue market (sim/family_cascade.py) keeps no lending risk book: its bad
    # debt is reported in bulk, equal to the summary's, and its own columns are charted.
    source = EXAMPLES / "morpho_cascade.toml"
    data = read_toml(source)
    result = run_cascade(data, source=str(source), amplification=False, explain_run=True)
    e = result.explanation
    assert result.summary["bad_debt"] > 0
    assert e["causes"] == {"unclassified": {
        "accounts": 0, "bad_debt_usd": pytest.approx(result.summary["bad_debt"])}}
    assert e["sentences"][0] == f"Bad debt {result.summary['bad_debt']:,.0f} USD."
    # Why 173 positions are still liquidatable at the end (every open one; 166 under
    # water): the keeper's own decision, asked again, pays for none even before gas. Its
    # sales hold the venue at the break-even of Morpho's incentive: the first WETH sold
    # fetches the mid less the 5 bps fee, 1,245.93 x 0.9995 = 1,245.30, and Morpho asks
    # 1,300 / LIF 1.043841 = 1,245.40 for it (LIF min(1.15, 1 / (1 - 0.3 x 0.14)),
    # morpho-blue@3085651a ConstantsLib / Morpho.sol liquidate). Not a keeper defect: the
    # CLI's run of the example without the venue's feedback (amplification) takes all 300.
    assert result.summary["family"]["positions_open"] == 173
    assert e["still_liquidatable"] == {"accounts": 173, "reasons": {"no_profit": 173},
                                       "underwater": 166}
    venue = result.series["venue_price_usd"][-1]
    oracle = result.series["oracle_price_usd"][-1]
    lif = result.summary["family"]["liquidation_incentive_factor"]
    assert venue == pytest.approx(1_245.93, abs=0.005) and oracle == 1_300
    assert venue * (1 - 0.0005) < oracle / lif
    assert any(s.startswith("173 accounts still liquidatable at the end: 173 with no keeper "
                            "able to profit after gas and slippage (173 not even before gas")
               and "166 of them under water" in s for s in e["sentences"])
    page_path = write_report(tmp_path, "morpho", result.summary, result.series,
                             explanation=e, scenario=data)
    assert page_path is not None
    page = parse(page_path)
    if "plotly-graph-div" in page.classes:
        assert "chart-family" in page.ids


def test_explanation_when_perp_cascade_then_waterfall_sentence_matches_the_summary(
    tmp_path: Path,
):
    # examples/perp_cascade.toml: no lending book; perp bankruptcies are paid by the
    # insurance fund, then ADL, then socialized loss. The sentence sums the per-step
    # columns; the summary counts the same waterfall its own way.
    source = EXAMPLES / "perp_cascade.toml"
    data = read_toml(source)
    result = run_cascade(data, source=str(source), amplification=False, explain_run=True)
    s, perp = result.summary, result.explanation["perp"]
    assert s["bankrupt_shortfall"] > 0
    assert perp["shortfall_usd"] == pytest.approx(s["bankrupt_shortfall"], abs=0.01)
    assert perp["insurance_usd"] == pytest.approx(s["insurance_fund_drawdown"], abs=0.01)
    assert perp["adl_usd"] == pytest.approx(s["adl_covered"], abs=0.01)
    assert perp["socialized_usd"] == pytest.approx(s["socialized_loss"], abs=0.01)
    assert perp["liquidations"] == s["perp_liquidation_count"]
    sentence = next(x for x in result.explanation["sentences"]
                    if x.startswith("Perp bankruptcies"))
    assert f"{s['bankrupt_shortfall']:,.0f} USD of shortfall" in sentence
    assert f"{s['perp_liquidation_count']:,} perp liquidations" in sentence
    page_path = write_report(tmp_path, "perp", s, result.series,
                             explanation=result.explanation, scenario=data)
    assert page_path is not None
    assert "perp" in parse(page_path).ids


def test_report_when_book_imported_then_opened_under_margin_counts_shown(
    small_run: tuple[Any, Path, dict[str, Any]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    # quickstart opens by borrows: the counts (0 by rule) stay out of the headline; the
    # same page for a book imported as it stands shows them.
    from marginengine.report import interactive

    monkeypatch.setattr(interactive, "available", lambda: False)
    result, _, data = small_run
    assert result.summary["book_open"] == "borrow"
    (tmp_path / "borrow").mkdir()
    (tmp_path / "import").mkdir()
    page = write_report(tmp_path / "borrow", "quickstart", result.summary, result.series,
                        scenario=data)
    assert page is not None
    headline = page.read_text().split("<h2>Summary</h2>")[1].split("<h2>")[0]
    assert "opened_above_borrowing_power" not in headline
    imported = {**result.summary, "book_open": "import",
                "opened_above_borrowing_power": 7, "opened_below_health_1": 4}
    page = write_report(tmp_path / "import", "quickstart", imported, result.series,
                        scenario=data)
    assert page is not None
    headline = page.read_text().split("<h2>Summary</h2>")[1].split("<h2>")[0]
    assert re.search(r"<td>opened_above_borrowing_power</td><td[^>]*>7</td>", headline)
    assert re.search(r"<td>opened_below_health_1</td><td[^>]*>4</td>", headline)
