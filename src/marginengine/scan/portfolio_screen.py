"""A float screen of an engine's portfolio (options) accounts, in one vectorized pass.

The engine margins each portfolio account by its portfolio rule one account at a time
(:meth:`~marginengine.engine.state.StateReads.portfolio_margin`: the account's
:class:`~marginengine.margin.portfolio.Portfolio` by
:func:`~marginengine.margin.portfolio.portfolio_of`, then
:func:`~marginengine.margin.portfolio_rules.evaluate_portfolio`). This screen mirrors the
same portfolios into one :class:`~marginengine.scan.portfolio.PortfolioRiskBook` (every
series held becomes an instrument, sizes ``size / size_unit``, cash ``cash /
quote_unit``) and revalues it at the engine's market as ``portfolio_of`` builds it:
spot the underlying's oracle price, every expiry's forward the spot (an expiry one of
whose series has settled: its whole forward fixed at the settlement price,
``forward_fixed``, read by the same :func:`~marginengine.margin.portfolio.expiry_of`),
no rates, confidence 1, each series' vol :meth:`~marginengine.engine.state.StateReads.option_vol`
at the spot. The result is each account's float maintenance value and requirement
in base-currency units, as :func:`~marginengine.margin.portfolio.portfolio_state` forms
them, and a bound on their float error; it decides nothing. A caller compares a
threshold with the screen only where the bound leaves no doubt, and asks the engine's
exact rule everywhere else (the service's :class:`~marginengine.service.core.
PortfolioWatch`).

This screen is the scenario-grid model's (PMRM_2): for PMRM v1 and the SRM the book's
only path is ``kernel="exact"`` (each account by its rule), which would cost what the
engine's own read costs, so :func:`screenable` says no; those rules have float screens
of their own (:mod:`marginengine.scan.pmrm1_screen`, :mod:`marginengine.scan.srm_screen`),
and :func:`marginengine.scan.portfolio_screens.portfolio_screen` picks the engine's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from marginengine.config.portfolio import PortfolioMarginConfig
from marginengine.engine import Engine
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger.options import OptionSeries
from marginengine.margin.portfolio import expiry_of
from marginengine.scan.portfolio import Instruments, PortfolioRiskBook, UnderlyingMarket

FloatArray = NDArray[np.float64]

#: Relative float error allowed per unit of an account's notional (cash plus, per
#: option, its size times strike plus twice the larger of spot and the expiry's fixed
#: forward), far above the kernels' observed
#: agreement with the exact rule (1e-12 relative; tests/scan/test_portfolio.py).
REL_ERROR = 1e-9
#: Absolute float error allowed, quote currency (the kernels agree to 1e-7).
ABS_ERROR = 1e-6


def screenable(engine: Engine) -> bool:
    """Whether the engine's portfolio rule has a vectorized twin (the scenario grid)."""
    return isinstance(engine.state.portfolio_config, PortfolioMarginConfig)


@dataclass(frozen=True)
class ScreenResult:
    """Float maintenance state of the screened accounts, base currency (8 decimals).

    Attributes
    ----------
    accounts
        The accounts, in row order.
    value, requirement
        ``max(MtM, 0)`` and ``MtM - maintenance margin`` at the quote price (floats;
        the exact rule floors the value and rounds the requirement up).
    error
        A bound on each figure's distance from the exact rule's (base units).
    """

    accounts: list[str]
    value: FloatArray
    requirement: FloatArray
    error: FloatArray


class EnginePortfolioScreen:
    """The engine's portfolio accounts mirrored into one portfolio risk book.

    Parameters
    ----------
    engine
        An engine with ``[protocol.options]`` and a scenario-grid portfolio rule.
    accounts
        The accounts to mirror (each holding options on one underlying; accounts with
        lending or perps beside, an add-on, or no options are the caller's to read
        exactly).
    """

    def __init__(self, engine: Engine, accounts: Iterable[str]) -> None:
        cfg = engine.state.portfolio_config
        clearing = engine.state.options
        if not isinstance(cfg, PortfolioMarginConfig) or clearing is None:
            raise ValueError("the screen needs an options clearing with the grid rule")
        self.engine = engine
        self.accounts = sorted(accounts)
        held = [clearing.positions.get(a, {}) for a in self.accounts]
        series = sorted({s for book in held for s, n in book.items() if n})
        underlyings = sorted({s.underlying for s in series})
        expiries = sorted({(s.underlying, s.expiry) for s in series})
        exp_at = {e: i for i, e in enumerate(expiries)}
        und_at = {u: i for i, u in enumerate(underlyings)}
        col = {s: i for i, s in enumerate(series)}
        self.series: list[OptionSeries] = series
        self.underlyings = underlyings
        self.expiries = expiries
        rows, cols, sizes = [], [], []
        for r, book in enumerate(held):
            for s, n in book.items():
                if n:
                    rows.append(r)
                    cols.append(col[s])
                    sizes.append(n / clearing.size_unit)
        n_acc, n_inst = len(self.accounts), len(series)
        positions = sp.csr_matrix((np.array(sizes, dtype=np.float64),
                                   (np.array(rows, dtype=np.int64),
                                    np.array(cols, dtype=np.int64))), shape=(n_acc, n_inst))
        self.cash = np.array([clearing.cash.get(a, 0) / clearing.quote_unit
                              for a in self.accounts], dtype=np.float64)
        strike = np.array([s.strike / PRICE_UNIT for s in series], dtype=np.float64)
        self._strike = strike
        self._abs_pos = abs(positions).tocsr()
        if n_inst:
            instruments = Instruments(
                underlying=np.array([und_at[s.underlying] for s in series], dtype=np.int64),
                expiry=np.array([exp_at[(s.underlying, s.expiry)] for s in series],
                                dtype=np.int64),
                strike=strike,
                is_call=np.array([s.is_call for s in series], dtype=bool),
                expiry_underlying=np.array([und_at[u] for u, _ in expiries], dtype=np.int64))
            self.book: PortfolioRiskBook | None = PortfolioRiskBook(
                instruments, positions, self.cash, cfg, kernel="auto")
        else:
            self.book = None
        self._inst_of = [[i for i, s in enumerate(series) if s.underlying == u]
                         for u in underlyings]
        self._exp_of = [[t for v, t in expiries if v == u] for u in underlyings]

    def screen(self, underlyings: Iterable[str] | None = None,
               prices: Mapping[str, int] | None = None,
               surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
               ) -> ScreenResult:
        """Revalue (the given underlyings, default all) at the engine's market, or at
        ``prices`` and ``surfaces`` (a what-if, as ``option_portfolio`` takes them), and
        screen. The book keeps the market of the last revaluation: revalue every
        underlying (the default) to screen the engine's market again.

        The caller checks first that the quote asset, every underlying and every held
        expiry are priced (accounts lacking either are the exact read's ``unpriced``).
        """
        engine = self.engine
        table = engine.prices if prices is None else prices
        opts = engine.config.options
        assert opts is not None
        book = self.book
        n = len(self.accounts)
        if book is None:
            zero = np.zeros(n)
            return ScreenResult(self.accounts, zero, zero, zero)
        wanted = set(self.underlyings if underlyings is None else underlyings)
        now = engine.ledger.time
        clearing = engine.state.options
        assert clearing is not None
        spot_of = {name: table[name] / PRICE_UNIT for name in self.underlyings}
        # Each expiry as the exact rule's portfolio_of builds it: a settled series fixes
        # its expiry's whole forward at the settlement price.
        expiry = {(name, t): expiry_of(clearing, name, t, now, spot_of[name],
                                       portions=engine.forward_portions_now(name, t,
                                                                            table[name]))
                  for name, t in self.expiries}
        for u, name in enumerate(self.underlyings):
            if name not in wanted:
                continue
            spot = spot_of[name]
            vols = []
            for i in self._inst_of[u]:
                v = engine.option_vol(self.series[i], spot, surfaces)
                if v is None:
                    raise ValueError(f"no vol surface for {self.series[i].symbol}")
                vols.append(v)
            expiries = [expiry[(name, t)] for t in self._exp_of[u]]
            book.set_market(u, UnderlyingMarket(
                spot=spot,
                sec_to_expiry=np.array([e.sec_to_expiry for e in expiries]),
                forward=np.array([e.forward for e in expiries]),
                rate=np.zeros(len(expiries)),
                vol=np.array(vols, dtype=np.float64),
                forward_fixed=np.array([e.forward_fixed for e in expiries])))
            book.rescan(u)
        result = book.result()
        quote = table[opts.quote]
        mtm, maintenance = result.mtm, result.maintenance
        value = np.maximum(mtm, 0.0) * quote
        requirement = (mtm - maintenance) * quote
        # Notional per account, what the float sums are made of: cash plus, per option,
        # its size times strike plus twice the larger of spot and a fixed forward.
        spot_i = np.array([spot_of[s.underlying] for s in self.series], dtype=np.float64)
        fixed_i = np.array([expiry[(s.underlying, s.expiry)].forward_fixed
                            for s in self.series], dtype=np.float64)
        reach = self._strike + 2.0 * np.maximum(spot_i, fixed_i)
        notional = np.abs(self.cash) + np.asarray(self._abs_pos @ reach).ravel()
        error = (REL_ERROR * notional + ABS_ERROR) * quote + 2.0
        return ScreenResult(self.accounts, value, requirement, error)
