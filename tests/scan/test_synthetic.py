"""The synthetic book: seeded, realistically shaped, and exact through files and an engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marginengine.scan import RiskBook, ScanError
from marginengine.scan.files import load_engine
from marginengine.scan.synthetic import generate_book


def test_generate_when_same_seed_then_same_book_and_other_seed_differs():
    a, b = generate_book(500, 8, seed=1), generate_book(500, 8, seed=1)
    c = generate_book(500, 8, seed=2)
    for name in ("rows", "assets", "supplied_micro", "borrowed_micro"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.supplied_micro[:50], c.supplied_micro[:50])
    assert a.prices == b.prices


def test_generate_when_many_accounts_then_realistic_shape():
    book = generate_book(20_000, 32, positions_per_account=3, seed=7)
    positions = len(book.rows)
    assert 2.8 < positions / 20_000 < 3.2
    counts = np.bincount(book.rows, minlength=20_000)
    assert counts.min() >= 1
    # no account supplies and borrows the same asset, and each (account, asset) once
    keys = book.rows.astype(np.int64) * 32 + book.assets
    assert len(np.unique(keys)) == positions
    assert not np.any((book.supplied_micro > 0) & (book.borrowed_micro > 0))
    risk = book.to_book(threads=1)
    h = risk.health()
    finite = h[np.isfinite(h)]
    assert 0.6 < len(finite) / 20_000 < 0.85  # about three in four accounts borrow
    assert 1.4 < np.median(finite) < 1.8
    assert 0.01 < np.mean(finite < 1) < 0.15
    # a few whales hold a large share of the collateral
    cw, _ = risk.sums()
    top = np.sort(cw)[::-1]
    assert top[:20].sum() > 0.2 * top.sum()


def test_generate_when_bad_size_then_error():
    with pytest.raises(ScanError, match="at least 1 account and 2 assets"):
        generate_book(0, 4)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_files_when_written_and_loaded_then_engine_book_equals_array_book(
    tmp_path: Path, suffix: str
):
    synthetic = generate_book(400, 10, seed=3)
    path = tmp_path / f"book.{suffix}"
    getattr(synthetic, f"write_{suffix}")(path)
    synthetic.write_prices(tmp_path / "prices.toml")
    synthetic.write_protocol(tmp_path / "protocol.toml")
    engine = load_engine(path, tmp_path / "prices.toml", tmp_path / "protocol.toml")
    from_engine = RiskBook.from_engine(engine, subscribe=False)
    from_arrays = synthetic.to_book(threads=1)
    mirrored = {a: v for a, v in from_engine.mirror_state().items() if v != ({}, {})}
    arrays = {a: v for a, v in from_arrays.mirror_state().items() if a in mirrored}
    lp = set(mirrored) - set(arrays)  # protocol-funded liquidity has no account here
    assert not lp
    for account, (coll, debt) in arrays.items():
        got_coll, got_debt = mirrored[account]
        assert got_coll == pytest.approx(coll, rel=1e-15)
        assert got_debt == pytest.approx(debt, rel=1e-15)
    from_engine.full_scan()
    from_arrays.full_scan()
    assert from_engine.below_accounts() == sorted(
        a for a in engine.ledger.accounts if engine.is_liquidatable(a))
    unconfirmed = set(from_arrays.accounts.ids(from_arrays.full_scan().unconfirmed))
    assert set(from_arrays.below_accounts()) <= set(from_engine.below_accounts())
    assert set(from_engine.below_accounts()) - set(from_arrays.below_accounts()) <= unconfirmed


def test_generate_when_perp_share_then_lending_book_unchanged_and_a_tenth_hold_perps():
    plain = generate_book(20_000, 16, seed=3)
    mixed = generate_book(20_000, 16, seed=3, perp_share=0.1)
    for name in ("rows", "assets", "supplied_micro", "borrowed_micro"):
        assert np.array_equal(getattr(plain, name), getattr(mixed, name))
    holders = np.unique(mixed.perp_rows)
    assert 0.09 < len(holders) / 20_000 < 0.11
    assert np.array_equal(holders, mixed.perp_quote_rows)
    # 1 + Binomial(2, 0.3) distinct markets per holder: mean 1.6
    assert 1.5 < len(mixed.perp_rows) / len(holders) < 1.7
    keys = mixed.perp_rows.astype(np.int64) * 3 + mixed.perp_markets
    assert len(np.unique(keys)) == len(keys)
    assert np.all(mixed.perp_size_milli != 0)
    assert sorted(mixed.config.perps) == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]
    book = mixed.to_book(threads=1)
    assert book.perps.buckets == len(holders)
    # perp equity around twice the perp requirement: a few percent below it on perps alone
    pe, pm, _ = book.perp_figures()
    ratio = pe / pm
    assert 1.6 < np.median(ratio) < 2.4
    assert 0.02 < np.mean(ratio < 1) < 0.15
    # the lending-only book of the same accounts
    lending = mixed.to_book(threads=1, perps=False)
    assert lending.perps.buckets == 0 and not lending.config.perps


def test_generate_when_bad_perp_share_then_error():
    with pytest.raises(ScanError, match="perp_share must be within 0..1"):
        generate_book(10, 8, perp_share=1.5)
    with pytest.raises(ScanError, match="at least 3 assets"):
        generate_book(10, 2, perp_share=0.1)
