"""The risk book on a book small enough to compute by hand, and its mirror of an engine."""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.engine import AdvanceTime, Borrow, Deposit, Repay, SetPrice, Withdraw
from marginengine.fixedpoint import RAY
from marginengine.scan import RiskBook, ScanError
from marginengine.scan.naive import naive_health, naive_weights
from tests.conftest import ETH, USD, USDC, funded_engine


def three_accounts():
    """alice: 10 WETH, 15,000 USDC debt; bob: 1 WETH + 2,000 USDC, 3,000 DAI debt;
    carol: 5 WETH, 8,000 USDC debt. WETH 2,000 USD, LT 82.5%; USDC and DAI LT 80%."""
    engine = funded_engine()
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    assert engine.apply(Borrow("alice", "USDC", 15_000 * USDC)).accepted
    engine.apply(Deposit("bob", "WETH", 1 * ETH))
    engine.apply(Deposit("bob", "USDC", 2_000 * USDC))
    assert engine.apply(Borrow("bob", "DAI", 3_000 * ETH)).accepted
    engine.apply(Deposit("carol", "WETH", 5 * ETH))
    assert engine.apply(Borrow("carol", "USDC", 8_000 * USDC)).accepted
    return engine


def health_of(book: RiskBook, account: str) -> float:
    row = book.accounts.row(account)
    assert row is not None
    return float(book.health(np.array([row]))[0])


def test_health_when_three_accounts_then_hand_computed_values():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    # alice 20,000 x 82.5% / 15,000; bob (2,000 x 82.5% + 2,000 x 80%) / 3,000;
    # carol 10,000 x 82.5% / 8,000; lp has no debt
    assert health_of(book, "alice") == pytest.approx(1.1, rel=1e-12)
    assert health_of(book, "bob") == pytest.approx(3_250 / 3_000, rel=1e-12)
    assert health_of(book, "carol") == pytest.approx(1.03125, rel=1e-12)
    assert health_of(book, "lp") == float("inf")
    result = book.full_scan()
    assert (result.mode, result.screened, result.below_count) == ("full", 4, 0)
    assert book.below_accounts() == []


@pytest.mark.parametrize(("rows", "message"), [
    ([4], "rows.0: 4 is not a row of this book (it holds rows 0 to 3)"),
    # numpy would wrap -1 to the last row and answer another account's health
    ([0, -1], "rows.1: -1 is not a row of this book (it holds rows 0 to 3)"),
    ([1, 2, 100], "rows.2: 100 is not a row of this book (it holds rows 0 to 3)"),
    ([0.5], "rows: must be a one-dimensional array of integer row indices (got shape (1,), "
            "dtype float64)"),
])
def test_health_when_rows_not_in_book_then_scan_error_naming_rows(rows, message):
    book = RiskBook.from_engine(three_accounts())
    with pytest.raises(ScanError) as caught:
        book.health(np.array(rows))
    assert str(caught.value) == message
    # The rows that exist still answer: alice's 1.1.
    row = book.accounts.row("alice")
    assert book.health(np.array([row], dtype=np.int64))[0] == pytest.approx(1.1, rel=1e-12)


BAD_ROWS = [
    (np.array([4]), "rows.0: 4 is not a row of this book (it holds rows 0 to 3)"),
    (np.array([0, -1]), "rows.1: -1 is not a row of this book (it holds rows 0 to 3)"),
    (np.array([0.5]), "rows: must be a one-dimensional array of integer row indices "
                      "(got shape (1,), dtype float64)"),
    (np.array([[0, 1]]), "rows: must be a one-dimensional array of integer row indices "
                         "(got shape (1, 2), dtype int64)"),
    (np.array([True, False]), "rows: must be a one-dimensional array of integer row "
                              "indices (got shape (2,), dtype bool)"),
]


@pytest.mark.parametrize("method", ["sums", "account_values", "health"])
@pytest.mark.parametrize(("rows", "message"), BAD_ROWS)
def test_rows_readers_when_rows_bad_then_same_scan_error_naming_rows(method, rows, message):
    # sums and account_values answered a negative row with another account's figures
    # (numpy wraps -1 to the last row) and a row past the end with an IndexError: they
    # take the one check health uses (RiskBook.checked_rows).
    book = RiskBook.from_engine(three_accounts())
    with pytest.raises(ScanError) as caught:
        getattr(book, method)(rows)
    assert str(caught.value) == message


def test_sums_and_account_values_when_rows_good_then_hand_computed_figures():
    book = RiskBook.from_engine(three_accounts())
    alice, carol = book.accounts.row("alice"), book.accounts.row("carol")
    rows = np.array([carol, alice])
    cw, dv = book.sums(rows)
    # carol: 10,000 USD of WETH x 82.5% = 8,250 against 8,000; alice 16,500 against 15,000
    # (base-currency units: USD with 8 decimals).
    assert cw / 1e8 == pytest.approx([8_250, 16_500], rel=1e-12)
    assert dv / 1e8 == pytest.approx([8_000, 15_000], rel=1e-12)
    values = book.account_values(rows)
    assert values["collateral"] == pytest.approx([10_000, 20_000], rel=1e-12)
    assert values["health"] == pytest.approx([1.03125, 1.1], rel=1e-12)


def test_scan_when_weth_falls_10_percent_then_alice_and_carol_liquidatable():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    book.full_scan()
    engine.apply(SetPrice("WETH", 1_800 * USD))
    # alice 18,000 x 82.5% / 15,000 = 0.99; carol 9,000 x 82.5% / 8,000 = 0.928125;
    # bob (1,800 x 82.5% + 2,000 x 80%) / 3,000 = 1.028333 (exact: see below)
    assert health_of(book, "alice") == pytest.approx(0.99, rel=1e-12)
    assert health_of(book, "carol") == pytest.approx(0.928125, rel=1e-12)
    assert health_of(book, "bob") == pytest.approx(3_085 / 3_000, rel=1e-12)
    # Aave v3.5+ (aave-v3): wadDiv(sum C_i x LT_i, debt) / 1e4 = 3,085 / 3,000 =
    # 1.028333...; v3.3's percentMul(collateral, avgLT) truncated avgLT to 8,118 bps: 1.02828.
    assert engine.account_data("bob").health_factor == 1_028_333_333_333_333_333
    result = book.incremental_scan()
    assert result.mode == "incremental"
    assert result.screened == 3  # the WETH holders, not the lender
    assert list(book.accounts.ids(result.newly_below)) == ["alice", "carol"] or sorted(
        book.accounts.ids(result.newly_below)) == ["alice", "carol"]
    assert result.below_count == 2
    assert book.below_accounts() == ["alice", "carol"]


def test_scan_when_price_recovers_then_recovered_rows_reported():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    engine.apply(SetPrice("WETH", 1_800 * USD))
    book.full_scan()
    engine.apply(SetPrice("WETH", 1_900 * USD))  # alice 0.99 -> 1.045; carol 0.98
    result = book.incremental_scan()
    assert book.accounts.ids(result.recovered) == ["alice"]
    assert book.below_accounts() == ["carol"]
    full = book.full_scan()
    assert len(full.newly_below) == 0 and len(full.recovered) == 0


def test_scan_when_threshold_105_then_accounts_below_105():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    result = book.full_scan("1.05")
    assert book.below_accounts() == ["carol"]  # 1.03125
    assert str(result.threshold) == "1.05"
    book.full_scan("1.09")
    assert book.below_accounts() == ["bob", "carol"]  # bob 1.0833


def test_incremental_when_account_repays_then_only_that_account_rescreened():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    engine.apply(SetPrice("WETH", 1_800 * USD))
    book.full_scan()
    engine.apply(Repay("carol", "USDC", 1_000 * USDC))  # 8,250 x 0.9 / 7,000 > 1
    result = book.incremental_scan()
    assert result.screened == 1
    assert book.accounts.ids(result.recovered) == ["carol"]
    assert book.below_accounts() == ["alice"]


def test_incremental_when_time_advances_then_indices_mirrored_and_exact():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    book.full_scan()
    engine.apply(SetPrice("WETH", 1_650 * USD))
    book.incremental_scan()
    engine.apply(AdvanceTime(5 * 365 * 86_400))  # debt and supply interest accrue
    k = book.assets.column["USDC"]
    assert book.assets.borrow_index_ray[k] == engine.ledger.reserves["USDC"].borrow_index
    assert book.assets.borrow_index_ray[k] > RAY
    book.incremental_scan()
    expected = sorted(a for a in engine.ledger.accounts if engine.is_liquidatable(a))
    assert book.below_accounts() == expected


def test_mirror_when_position_closed_and_new_account_then_rows_follow():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    book.full_scan()
    engine.apply(Repay("alice", "USDC", 15_000 * USDC))
    engine.apply(Withdraw("alice", "WETH", 10 * ETH))
    engine.apply(Deposit("dave", "WETH", ETH))
    engine.apply(Borrow("dave", "USDC", 1_600 * USDC))
    state = book.mirror_state()
    assert state["alice"] == ({}, {})
    assert state["dave"] == ({"WETH": float(ETH)}, {"USDC": pytest.approx(1_600 * USDC)})
    assert book.n_accounts == 5
    engine.apply(SetPrice("WETH", 1_500 * USD))
    book.incremental_scan()
    assert book.below_accounts() == sorted(
        a for a in engine.ledger.accounts if engine.is_liquidatable(a))


def test_health_matches_naive_twin():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    weights = naive_weights(engine.config, dict(engine.prices))
    positions = {
        account: {asset: (float(pos.scaled_supply), float(pos.scaled_debt))
                  for asset, pos in engine.ledger.accounts[account].lending.items()}
        for account in engine.ledger.accounts
    }
    expected = naive_health(positions, weights)
    for account, h in expected.items():
        assert health_of(book, account) == pytest.approx(h, rel=1e-14)


def test_distribution_when_scanned_then_counts_by_bin():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    dist = book.health_distribution()
    assert dist.no_debt == 1
    assert sum(dist.counts) == 3
    assert dist.counts[dist.edges.index(1.0)] == 1  # carol 1.03125
    # bob 1.0833 and alice 1.1 (1.0999... in float): [1.05, 1.1) and [1.1, 1.25)
    assert dist.counts[dist.edges.index(1.05)] + dist.counts[dist.edges.index(1.1)] == 2
    assert dist.quantiles[0.5] == pytest.approx(3_250 / 3_000)


def test_scan_when_asset_held_has_no_price_then_error_names_asset():
    from marginengine.engine import Engine
    from tests.conftest import simple_aave

    engine = Engine(simple_aave())
    engine.apply(Deposit("alice", "WETH", ETH))  # deposits need no price
    book = RiskBook.from_engine(engine)
    with pytest.raises(ScanError, match=r"prices\.WETH: no price set, and 1 position"):
        book.full_scan()


def test_scan_when_bad_threshold_then_error():
    book = RiskBook.from_engine(three_accounts())
    with pytest.raises(ScanError, match="threshold: must be between"):
        book.full_scan("0")
    with pytest.raises(ScanError, match="threshold"):
        book.full_scan("abc")


def test_memory_when_measured_then_every_component_counted():
    book = RiskBook.from_engine(three_accounts())
    memory = book.memory_bytes()
    assert set(memory) == {"collateral", "debt", "accounts", "running_sums", "below", "assets",
                           "perps"}
    assert memory["running_sums"] == 2 * 8 * book.n_accounts
    assert book.positions() == 9  # alice 2, bob 3, carol 2, lp 2 (USDC and DAI supplied)


def test_arrays_book_when_no_engine_then_band_unconfirmed_and_no_mirror():
    from marginengine.scan.synthetic import generate_book

    synthetic = generate_book(3_000, 6, seed=3)
    book = synthetic.to_book(threads=1)
    result = book.full_scan()
    assert result.below_count > 0
    assert len(result.unconfirmed) == result.band
    with pytest.raises(ScanError, match="no engine"):
        book.on_change(None)  # type: ignore[arg-type]


def test_full_scan_when_two_threads_then_same_sums_and_answer_as_one():
    from marginengine.scan.synthetic import generate_book

    synthetic = generate_book(60_000, 8, seed=5)  # above the two-thread minimum
    one, two = synthetic.to_book(threads=1), synthetic.to_book(threads=2)
    first, second = one.full_scan(), two.full_scan()
    assert np.array_equal(first.below_rows, second.below_rows)
    assert first.candidates == second.candidates and first.below_count > 100
    for a, b in zip(one.sums(), two.sums(), strict=True):
        assert np.array_equal(a, b)
    two.close()
