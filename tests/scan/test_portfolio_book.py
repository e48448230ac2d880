"""The portfolio risk book against its exact twin, one portfolio at a time."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from marginengine.config.portfolio import portfolio_config
from marginengine.errors import FieldError
from marginengine.margin.portfolio import Expiry, OptionPosition, Portfolio, evaluate
from marginengine.margin.portfolio_rules import evaluate_portfolio
from marginengine.scan.portfolio import Instruments, PortfolioRiskBook, UnderlyingMarket
from marginengine.scan.portfolio_kernel import AVAILABLE

DAY = 86_400


def universe() -> tuple[Instruments, list[UnderlyingMarket]]:
    """Two underlyings, two expiries each, six strikes x call/put, one perp each."""
    und, exp, k, call = [], [], [], []
    expiry_und = [0, 0, 1, 1]
    spots = [3000.0, 60_000.0]
    for u in range(2):
        for e in (2 * u, 2 * u + 1):
            for m in (0.7, 0.85, 0.95, 1.0, 1.1, 1.4):
                for c in (True, False):
                    und.append(u)
                    exp.append(e)
                    k.append(spots[u] * m)
                    call.append(c)
        und.append(u)
        exp.append(-1)
        k.append(0.0)
        call.append(False)
    inst = Instruments(np.array(und), np.array(exp), np.array(k), np.array(call),
                       np.array(expiry_und))
    markets = []
    for u in range(2):
        n_opt = int(((inst.underlying == u) & (inst.expiry >= 0)).sum())
        vols = 0.5 + 0.3 * np.abs(np.log(inst.strike[(inst.underlying == u)
                                                      & (inst.expiry >= 0)] / spots[u]))
        markets.append(UnderlyingMarket(spot=spots[u], sec_to_expiry=np.array([5 * DAY, 70 * DAY]),
                                        forward=np.array([spots[u] * 1.001, spots[u] * 1.01]),
                                        rate=np.array([0.04, 0.06]), vol=vols[:n_opt],
                                        perp_price=spots[u] * 1.0005, confidence=0.9))
    return inst, markets


def random_positions(rng: np.random.Generator, inst: Instruments, n: int) -> sp.csr_matrix:
    rows, cols, data = [], [], []
    for a in range(n):
        u = a % 2
        cand = np.flatnonzero(inst.underlying == u)
        for c in rng.choice(cand, size=int(rng.integers(1, 7)), replace=False):
            rows.append(a)
            cols.append(int(c))
            data.append(float(rng.choice([-3, -1, -0.5, 0.25, 1, 2])))
    return sp.csr_matrix((data, (rows, cols)), shape=(n, inst.underlying.size))


def twin(inst: Instruments, markets: list[UnderlyingMarket], row: np.ndarray, cash: float
         ) -> Portfolio:
    nz = np.flatnonzero(row)
    u = int(inst.underlying[nz[0]]) if nz.size else 0
    m = markets[u]
    exps = np.flatnonzero(inst.expiry_underlying == u)
    opt_inst = np.flatnonzero((inst.underlying == u) & (inst.expiry >= 0))
    vol_of = dict(zip(opt_inst.tolist(), m.vol.tolist(), strict=True))
    options, perp = [], 0.0
    for c in nz:
        if inst.expiry[c] < 0:
            perp += row[c]
        else:
            options.append(OptionPosition(int(np.flatnonzero(exps == inst.expiry[c])[0]),
                                          float(inst.strike[c]), bool(inst.is_call[c]),
                                          float(row[c]), vol_of[int(c)]))
    fixed = np.zeros(m.forward.size) if m.forward_fixed is None else m.forward_fixed
    expiries = tuple(Expiry(float(t), float(f), float(x), float(r), m.confidence)
                     for t, f, x, r in zip(m.sec_to_expiry, m.forward, fixed, m.rate,
                                           strict=True))
    return Portfolio(spot=m.spot, expiries=expiries,
                     options=tuple(options), perp_position=perp, perp_price=m.perp_price,
                     cash=cash, spot_confidence=m.confidence, perp_confidence=m.confidence)


KERNELS = ["numpy", "numba"] if AVAILABLE else ["numpy"]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("preset", ["derive-pm2", "span-like", "paradex"])
def test_scan_when_random_book_then_equals_exact_model_per_account(preset, kernel):
    cfg = portfolio_config({"preset": preset,
                            "contingencies": {"conf_threshold": 0.95, "conf_margin": 1.0}})
    rng = np.random.default_rng(7)
    inst, markets = universe()
    pos = random_positions(rng, inst, 120)
    cash = rng.uniform(0, 50_000, 120)
    book = PortfolioRiskBook(inst, pos, cash, cfg, kernel=kernel)
    assert book.kernel == kernel
    for u, m in enumerate(markets):
        book.set_market(u, m)
    scanned = book.scan()
    res = book.result()
    # scan() lists the accounts block by block; result() in account order: the same.
    assert sorted(scanned.accounts.tolist()) == list(range(120))
    assert np.array_equal(res.initial[scanned.accounts], scanned.initial)
    dense = pos.toarray()
    for a in range(120):
        exact = evaluate(twin(inst, markets, dense[a], float(cash[a])), cfg)
        assert res.initial[a] == pytest.approx(exact.initial, rel=1e-9, abs=1e-6)
        assert res.maintenance[a] == pytest.approx(exact.maintenance, rel=1e-9, abs=1e-6)
        assert res.worst[a] == pytest.approx(exact.worst, rel=1e-9, abs=1e-6)
        assert res.worst_scenario[a] == (-1 if exact.worst_scenario is None
                                         else exact.worst_scenario)


@pytest.mark.parametrize("kernel", KERNELS)
def test_rescan_when_one_underlying_moves_then_only_its_accounts_change(kernel):
    cfg = portfolio_config(preset="derive-pm2")
    rng = np.random.default_rng(3)
    inst, markets = universe()
    pos = random_positions(rng, inst, 40)
    book = PortfolioRiskBook(inst, pos, np.full(40, 10_000.0), cfg, kernel=kernel)
    for u, m in enumerate(markets):
        book.set_market(u, m)
    book.scan()
    before = book.result()
    m1 = markets[1]
    moved = UnderlyingMarket(spot=m1.spot * 0.9, sec_to_expiry=m1.sec_to_expiry,
                             forward=m1.forward * 0.9, rate=m1.rate, vol=m1.vol * 1.3,
                             confidence=m1.confidence)
    book.set_market(1, moved)
    part = book.rescan(1)
    assert np.array_equal(part.accounts, np.flatnonzero(book.account_underlying == 1))
    after = book.result()
    assert np.array_equal(after.initial[part.accounts], part.initial)
    u0 = book.account_underlying == 0
    assert np.array_equal(after.initial[u0], before.initial[u0])
    assert not np.allclose(after.initial[~u0], before.initial[~u0])
    # The rescan equals a full scan at the new market.
    book.scan()
    assert np.array_equal(book.result().initial, after.initial)
    markets[1] = moved
    dense = pos.toarray()
    a = int(np.flatnonzero(~u0)[0])
    assert after.initial[a] == pytest.approx(
        evaluate(twin(inst, markets, dense[a], 10_000.0), cfg).initial, rel=1e-9)


def test_book_when_account_holds_two_underlyings_then_refused():
    inst, _ = universe()
    pos = sp.csr_matrix(([1.0, 1.0], ([0, 0], [0, inst.underlying.size - 1])),
                        shape=(1, inst.underlying.size))
    with pytest.raises(FieldError, match="^positions: account 0 holds more than one"):
        PortfolioRiskBook(inst, pos, [0.0], portfolio_config(preset="derive-pm2"))


def test_book_when_market_missing_or_wrong_then_named_errors():
    inst, markets = universe()
    pos = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, inst.underlying.size))
    book = PortfolioRiskBook(inst, pos, [0.0], portfolio_config(preset="derive-pm2"))
    with pytest.raises(FieldError, match="^market: underlying 0 has no market"):
        book.scan()
    bad = UnderlyingMarket(spot=3000.0, sec_to_expiry=np.array([DAY]), forward=np.array([1.0]),
                           rate=np.array([0.0]), vol=markets[0].vol)
    with pytest.raises(FieldError, match="^sec_to_expiry"):
        book.set_market(0, bad)
    with pytest.raises(FieldError, match="^cash"):
        PortfolioRiskBook(inst, pos, [0.0, 1.0], portfolio_config(preset="derive-pm2"))


def test_book_when_account_empty_then_margin_is_cash():
    inst, _ = universe()
    pos = sp.csr_matrix((2, inst.underlying.size))
    book = PortfolioRiskBook(inst, pos, [5.0, 7.0], portfolio_config(preset="derive-pm2"))
    assert book.scan().accounts.size == 0
    res = book.result()
    assert res.initial.tolist() == [5.0, 7.0] and res.worst_scenario.tolist() == [-1, -1]


def test_kernels_when_same_book_then_same_margins():
    cfg = portfolio_config(preset="derive-pm2")
    inst, markets = universe()
    pos = random_positions(np.random.default_rng(11), inst, 300)
    results = []
    for kernel in KERNELS:
        book = PortfolioRiskBook(inst, pos, np.zeros(300), cfg, kernel=kernel)
        for u, m in enumerate(markets):
            book.set_market(u, m)
        book.scan()
        results.append(book.result())
    for r in results[1:]:
        np.testing.assert_allclose(r.initial, results[0].initial, rtol=1e-12, atol=1e-7)
        assert np.array_equal(r.worst_scenario, results[0].worst_scenario)


def test_book_when_kernel_unknown_then_refused():
    inst, _ = universe()
    pos = sp.csr_matrix((1, inst.underlying.size))
    with pytest.raises(FieldError, match="^kernel"):
        PortfolioRiskBook(inst, pos, [0.0], portfolio_config(preset="derive-pm2"),
                          kernel="fortran")  # type: ignore[arg-type]


@pytest.mark.parametrize(("preset", "rule"), [("derive-pm1", "PMRM"), ("derive-srm", "SRM"),
                                              ("derive-pm2", "PMRM_2")])
def test_exact_kernel_when_random_book_then_each_account_is_its_rule(preset, rule):
    # PMRM v1 and the SRM have no vectorized twin: the book values each account by the
    # rule itself (kernel "exact", chosen by "auto" for them); for PMRM_2 the same path
    # is a third route to evaluate.
    cfg = portfolio_config(preset=preset)
    rng = np.random.default_rng(11)
    inst, markets = universe()
    pos = random_positions(rng, inst, 30)
    cash = rng.uniform(0, 50_000, 30)
    kernel = "auto" if preset != "derive-pm2" else "exact"
    book = PortfolioRiskBook(inst, pos, cash, cfg, kernel=kernel,
                             underlying_names=["ETH", "BTC"])
    assert book.kernel == "exact"
    for u, m in enumerate(markets):
        book.set_market(u, m)
    book.scan()
    res = book.result()
    dense = pos.toarray()
    for a in range(30):
        portfolio = twin(inst, markets, dense[a], float(cash[a]))
        exact = evaluate_portfolio(portfolio, cfg, ["ETH", "BTC"][a % 2])
        assert exact.rule == rule
        assert (res.initial[a], res.maintenance[a], res.mtm[a]) == (
            exact.initial, exact.maintenance, exact.mtm)
        assert res.worst_scenario[a] == (-1 if exact.worst_scenario is None
                                         else exact.worst_scenario)
    if preset == "derive-pm2":
        fast = PortfolioRiskBook(inst, pos, cash, cfg, kernel="numpy")
        for u, m in enumerate(markets):
            fast.set_market(u, m)
        fast.scan()
        assert np.allclose(fast.result().initial, res.initial, rtol=1e-9, atol=1e-6)


def test_exact_kernel_when_srm_btc_then_market_parameters_apply():
    # The SRM reads each underlying's market by name: a short BTC perp is charged BTC's
    # mainnet requirement, MM 6.5% of its notional at the perp's price 60,030; without
    # names (and no default market) the book refuses, naming the field.
    inst, markets = universe()
    pos = sp.csr_matrix(([-1.0], ([0], [int(np.flatnonzero(inst.expiry < 0)[1])])),
                        shape=(1, inst.underlying.size))
    cfg = portfolio_config({"preset": "derive-srm", "default": None})
    book = PortfolioRiskBook(inst, pos, [10_000.0], cfg, underlying_names=["ETH", "BTC"])
    for u, m in enumerate(markets):
        book.set_market(u, m)
    book.scan()
    # MM: -|size| x perp price x 6.5%, the perp at 60,030.
    assert book.result().maintenance[0] == pytest.approx(10_000.0 - 60_030.0 * 0.065,
                                                         abs=1e-9)
    unnamed = PortfolioRiskBook(inst, pos, [10_000.0], cfg)
    for u, m in enumerate(markets):
        unnamed.set_market(u, m)
    with pytest.raises(FieldError, match=r"^underlying: None has no parameters"):
        unnamed.scan()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kernel": "numpy"}, "kernel: the numpy kernel is the scenario-grid model's (PMRM_2); "
                          "a SRM book scans with kernel='exact'"),
    ({"underlying_names": ["ETH"]}, "underlying_names: must be 2 symbols"),
    ({"kernel": "gpu"}, "kernel: must be auto, numba, numpy or exact"),
])
def test_book_when_bad_rule_arguments_then_error_names_field(kwargs, message):
    inst, _ = universe()
    pos = sp.csr_matrix((1, inst.underlying.size))
    with pytest.raises(FieldError) as err:
        PortfolioRiskBook(inst, pos, [0.0], portfolio_config(preset="derive-srm"), **kwargs)
    assert message in str(err.value)


def settled_first_expiry(markets: list[UnderlyingMarket]) -> list[UnderlyingMarket]:
    """Each underlying's first expiry settled at 1.1 x spot: no time left, its whole
    forward fixed (Expiry.forward_fixed, margin.portfolio.expiry_of), the second open."""
    out = []
    for m in markets:
        out.append(UnderlyingMarket(
            spot=m.spot, sec_to_expiry=np.array([0.0, m.sec_to_expiry[1]]),
            forward=np.array([0.0, m.forward[1]]), rate=m.rate, vol=m.vol,
            perp_price=m.perp_price, confidence=m.confidence,
            forward_fixed=np.array([1.1 * m.spot, 0.0])))
    return out


@pytest.mark.parametrize("kernel", [*KERNELS, "exact"])
@pytest.mark.parametrize("preset", ["derive-pm2", "span-like", "paradex"])
def test_scan_when_an_expiry_forward_is_fixed_then_equals_exact_model(preset, kernel):
    # An expiry whose settlement price is fixed: the book prices its options at the fixed
    # forward, no spot shock (nor basis shock) moves them, and the minimum-delta
    # requirement (paradex) counts no delta for them: as evaluate does, account by account.
    cfg = portfolio_config({"preset": preset,
                            "contingencies": {"conf_threshold": 0.95, "conf_margin": 1.0}})
    rng = np.random.default_rng(5)
    inst, markets = universe()
    markets = settled_first_expiry(markets)
    unfixed = [replace(m, forward=np.array([m.spot, m.forward[1]]), forward_fixed=None)
               for m in markets]
    pos = random_positions(rng, inst, 80)
    cash = rng.uniform(0, 50_000, 80)
    book = PortfolioRiskBook(inst, pos, cash, cfg, kernel=kernel)
    for u, m in enumerate(markets):
        book.set_market(u, m)
    book.scan()
    res = book.result()
    dense = pos.toarray()
    moved = 0
    for a in range(80):
        portfolio = twin(inst, markets, dense[a], float(cash[a]))
        exact = evaluate(portfolio, cfg)
        assert res.maintenance[a] == pytest.approx(exact.maintenance, rel=1e-9, abs=1e-6)
        assert res.initial[a] == pytest.approx(exact.initial, rel=1e-9, abs=1e-6)
        assert res.mtm[a] == pytest.approx(exact.mtm, rel=1e-9, abs=1e-6)
        # The fixed forward matters: with the spot as that expiry's forward instead,
        # most accounts holding it are valued otherwise.
        at_spot = evaluate(twin(inst, unfixed, dense[a], float(cash[a])), cfg)
        moved += at_spot.mtm != pytest.approx(exact.mtm, rel=1e-9, abs=1e-6)
    assert moved > 20


def test_book_when_forward_and_fixed_forward_both_zero_then_named_error():
    inst, markets = universe()
    pos = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, inst.underlying.size))
    book = PortfolioRiskBook(inst, pos, [0.0], portfolio_config(preset="derive-pm2"))
    m = markets[0]
    zero = UnderlyingMarket(spot=m.spot, sec_to_expiry=m.sec_to_expiry,
                            forward=np.array([0.0, m.forward[1]]), rate=m.rate, vol=m.vol,
                            forward_fixed=np.zeros(2))
    with pytest.raises(FieldError, match=r"^forward: forward \+ forward_fixed must be > 0"):
        book.set_market(0, zero)
    short = UnderlyingMarket(spot=m.spot, sec_to_expiry=m.sec_to_expiry, forward=m.forward,
                             rate=m.rate, vol=m.vol, forward_fixed=np.zeros(1))
    with pytest.raises(FieldError, match="^sec_to_expiry: sec_to_expiry, forward, "
                                         "forward_fixed and rate need one value"):
        book.set_market(0, short)
