"""``[book] open``: a book opened through borrows the protocol decides ("borrow", the
default: every figure as before) or imported as it stands ("import": ``ImportAccount``,
accounts above their borrowing power and below health 1 open as they are, and the summary
counts them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.config import protocol_from_dict, read_toml
from marginengine.engine import Engine, SetPrice
from marginengine.errors import ConfigError
from marginengine.sim import apply_overrides
from marginengine.sim.books import Book, BookAccount, open_book, opened_under_margin
from marginengine.sim.cascade import CascadeRunner, run_cascade, scenario_spec
from tests.sim.test_joint_cascade import small

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PINNED = json.loads((Path(__file__).parent / "pinned_figures.json").read_text())
# At step-0 prices (WETH 2,000, wstETH 2,340; aave-v3's WETH LTV 80.5%, threshold 83%,
# lst_crash's wstETH 78.5% / 81%): alice's 10 WETH back 16,100 USDC (she owes 16,000,
# HF 16,600 / 16,000 = 1.0375); bob's 5 wstETH back 9,184.5 USD (he owes 4.5 WETH, 9,000;
# HF 9,477 / 9,000 = 1.053); carol's 1 WETH backs 1,610 and she owes 1,700: above her
# borrowing power, and HF 1,660 / 1,700 = 0.9765, below 1.
BOOK = ("account,asset,supplied,borrowed\n"
        "alice,WETH,10,\n"
        "alice,USDC,,16000\n"
        "bob,wstETH,5,\n"
        "bob,WETH,,4.5\n"
        "carol,WETH,1,\n"
        "carol,USDC,,1700\n")


def test_csv_book_under_margin_when_borrow_then_refused_by_line_when_import_then_runs(
        tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    book.write_text(BOOK)
    data = small()
    data["book"] = {"file": str(book)}          # open = "borrow", the default
    with pytest.raises(ConfigError) as info:
        run_cascade(data, amplification=False)
    assert info.value.problems == [
        f"{book}:7: account carol: health factor would fall to 0.9765, below 1; no new "
        "borrows (the protocol would not have allowed this position at the scenario's "
        "step-0 prices)"]
    data["book"]["open"] = "import"
    spec, protocol = scenario_spec(data)
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    s = runner.summary()
    assert s["book_open"] == "import" and s["setup_rejected"] == 0 and s["accounts"] == 3
    assert (s["opened_above_borrowing_power"], s["opened_below_health_1"]) == (1, 1)
    # carol is liquidatable from step 0 (the only one), and the keepers liquidate her.
    assert runner.series["liquidatable_accounts"][0] == 1
    assert "carol" in {row["account"] for row in runner.ltv_log}


def test_default_borrow_when_given_explicitly_then_pinned_figures() -> None:
    # crv_spiral's pinned state hash (tests/sim/pinned_figures.json) under "borrow"
    # written out; "import" of the same 40 accounts (all within margin) decides the same
    # liquidations with 40 fewer events (one ImportAccount for a Deposit and a Borrow).
    path = EXAMPLES / "crv_spiral.toml"
    pinned = PINNED["crv_spiral"]
    borrow = run_cascade(apply_overrides(read_toml(path), ["book.open=borrow"]),
                         source=str(path)).summary
    assert borrow["state_hash"] == pinned["state_hash"]
    assert borrow["events"] == pinned["events"] == 354
    imported = run_cascade(apply_overrides(read_toml(path), ["book.open=import"]),
                           source=str(path)).summary
    for key in ("liquidation_count", "liquidated_value", "bad_debt", "liquidator_profit"):
        assert imported[key] == pinned[key], key
    assert imported["events"] == 354 - 40


def test_book_when_opened_by_borrows_then_none_under_margin() -> None:
    # The summary reports 0 under "borrow" without reading the accounts again, because
    # initial margin admitted each borrow at the step-0 prices: read them, and it holds
    # (lst_crash's 300 accounts of several assets, some in WETH loops near their floor).
    spec, protocol = scenario_spec(small())
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    with runner.engine.batch():
        runner.setup()
    assert len(runner.borrowers) == 300
    assert opened_under_margin(runner.engine, runner.borrowers) == (0, 0)
    lowest = min(runner.engine.account_data(a).health_factor for a in runner.borrowers)
    assert 10**18 < lowest < 11 * 10**17   # the book's edge is within 10% of health 1
    assert runner.summary()["opened_above_borrowing_power"] == 0


def test_synthetic_book_when_import_then_refused_borrows_open_above_borrowing_power() -> None:
    # A looser crv_spiral book (collateralization around 1.5, floored at 1.1): under
    # "borrow" 34 of its 40 borrows are refused (CRV's LTV backs less); under "import"
    # those 34 open, each above its borrowing power, 30 of them below health 1.
    path = EXAMPLES / "crv_spiral.toml"
    looser = ["book.collateralization_median=1.5", "book.collateralization_sigma=0.2",
              "book.min_collateralization=1.1"]
    borrow = run_cascade(apply_overrides(read_toml(path), looser), source=str(path)).summary
    imported = run_cascade(apply_overrides(read_toml(path), [*looser, "book.open=import"]),
                           source=str(path)).summary
    assert borrow["setup_rejected"] == imported["opened_above_borrowing_power"] == 34
    assert imported["setup_rejected"] == 0 and imported["opened_below_health_1"] == 30
    assert imported["borrowed_value"] == pytest.approx(20_000_000, rel=1e-9)
    assert imported["liquidation_count"] > borrow["liquidation_count"]


def test_open_book_when_import_refused_then_reported_by_the_fields_line() -> None:
    # Comet's base balance is signed: supplying and owing USDC at once cannot be imported
    # (the book readers leave this to the protocol); reported at the USDC row's line.
    config = protocol_from_dict({"preset": "compound-v3",
                                 "markets": {"USDC": {}, "WETH": {}}})
    engine = Engine(config)
    engine.apply(SetPrice("USDC", 10**8))
    engine.apply(SetPrice("WETH", 2_000 * 10**8))
    book = Book([BookAccount("bob", {"WETH": 10**18, "USDC": 10**6}, {"USDC": 10**6},
                             where="book.csv:2",
                             lines={"WETH": "book.csv:2", "USDC": "book.csv:3"})])
    refused = open_book(engine.apply, book, config, how="import")
    assert refused == ["book.csv:3: account bob: borrowed.USDC: in compound-v3 the base "
                       "balance is signed: an account supplies USDC or borrows it, not both"]
    assert opened_under_margin(engine, ["bob"]) == (0, 0)


def test_import_when_family_keeps_its_own_state_then_book_open_refused() -> None:
    data = read_toml(EXAMPLES / "morpho_cascade.toml")
    with pytest.raises(ConfigError) as info:
        scenario_spec(apply_overrides(data, ["book.open=import"]))
    assert any(p.startswith("book.open: 'import' opens the book by ImportAccount, which "
                            "morpho-blue does not apply") for p in info.value.problems)
    with pytest.raises(ConfigError, match="book.open"):
        scenario_spec(apply_overrides(data, ["book.open=replay"]))


def test_emode_book_when_imported_then_same_liquidations_as_borrowed() -> None:
    # lst_crash_emode cut to 300 accounts and 40 steps: the loops in e-mode category 1.
    # Every borrow is admitted, so both ways open the same ledger (the category set by
    # SetUserEMode or by the import) and the crash liquidates the same 186 times; the
    # import takes 612 events against 1,018 (no SetUserEMode, one event per account).
    path = EXAMPLES / "lst_crash_emode.toml"
    cut = ["book.accounts=300", "book.total_debt=20000000", "book.whales=2", "steps=40"]
    borrow, imported = (
        run_cascade(apply_overrides(read_toml(path), [*cut, f"book.open={mode}"]),
                    source=str(path), amplification=False).summary
        for mode in ("borrow", "import"))
    for key in ("liquidation_count", "liquidated_value", "bad_debt", "borrowed_value"):
        assert imported[key] == borrow[key], key
    assert borrow["liquidation_count"] == 186
    assert (borrow["events"], imported["events"]) == (1_018, 612)
    assert (imported["opened_above_borrowing_power"], imported["opened_below_health_1"]) \
        == (0, 0)


def test_sweep_and_monte_carlo_when_book_import_then_opened_counts_per_run_and_mean() -> None:
    # The looser crv_spiral book above, swept over book.open: each run's row carries the
    # two counts (0 and 0 under "borrow", 34 and 30 under "import"), and a Monte Carlo
    # reports their mean as it does every other count.
    from marginengine.sim.montecarlo import statistics
    from marginengine.sim.run_fields import MEAN_FIELDS, RUN_FIELDS
    from marginengine.sim.sweep import SWEEP_FIELDS, parse_grid, run_sweep

    counts = ("opened_above_borrowing_power", "opened_below_health_1")
    assert set(counts) <= set(SWEEP_FIELDS) & set(RUN_FIELDS) & set(MEAN_FIELDS)
    path = EXAMPLES / "crv_spiral.toml"
    data = apply_overrides(read_toml(path), [
        "book.collateralization_median=1.5", "book.collateralization_sigma=0.2",
        "book.min_collateralization=1.1"])
    result = run_sweep(data, parse_grid(['book.open="borrow","import"']), source=str(path))
    assert [(r["book.open"], r["opened_above_borrowing_power"], r["opened_below_health_1"],
             r["setup_rejected"]) for r in result.rows] == [("borrow", 0, 0, 34),
                                                          ("import", 34, 30, 0)]
    assert [p["mean_opened_below_health_1"] for p in result.points] == [0, 30]
    stats = statistics([{"opened_above_borrowing_power": 34, "opened_below_health_1": 30},
                        {"opened_above_borrowing_power": 20, "opened_below_health_1": 11}])
    assert stats["mean_opened_above_borrowing_power"] == 27
    assert stats["mean_opened_below_health_1"] == 20.5


def test_further_protocol_when_its_book_open_import_then_only_its_book_imported() -> None:
    # gas_chains's two books (400 accounts each, drawn down to collateralization 1.2,
    # under 1 / WETH's LTV 80.5% = 1.242): 117 borrows of each refused under "borrow".
    # [book]'s book.open and protocols.0.book.open ([[protocols]] dear's) each open their
    # own book as it stands: the 117 then open above their borrowing power, 69 (cheap)
    # and 73 (dear: its book is its own draw) below health 1.
    path = EXAMPLES / "gas_chains.toml"

    def figures(sets: list[str]) -> dict[str, tuple[Any, ...]]:
        summary = run_cascade(apply_overrides(read_toml(path), sets), source=str(path)).summary
        return {name: (s["book_open"], s["setup_rejected"], s["opened_above_borrowing_power"],
                       s["opened_below_health_1"]) for name, s in summary["protocols"].items()}

    assert figures(["protocols.0.book.open=import"]) == {
        "cheap": ("borrow", 117, 0, 0), "dear": ("import", 0, 117, 73)}
    assert figures(["book.open=import", "protocols.0.book.open=import"]) == {
        "cheap": ("import", 0, 117, 69), "dear": ("import", 0, 117, 73)}
    # As [book] open is checked against its protocol, so is each entry's against its own.
    data = read_toml(EXAMPLES / "families_cascade.toml")
    with pytest.raises(ConfigError) as info:
        scenario_spec(apply_overrides(data, ["protocols.1.book.open=import"]))
    assert any(p.startswith("protocols.1.book.open: 'import' opens the book by "
                            "ImportAccount, which morpho-blue does not apply")
               for p in info.value.problems)
