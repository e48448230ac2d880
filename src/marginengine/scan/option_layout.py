"""The engine's option accounts laid out as arrays: what a float screen of a portfolio rule
revalues (PMRM v1's :mod:`~marginengine.scan.pmrm1_screen`, the SRM's
:mod:`~marginengine.scan.srm_screen`).

The layout mirrors the options clearing as :meth:`~marginengine.engine.state.StateReads.
option_portfolio` reads it into a :class:`~marginengine.margin.portfolio.Portfolio`:
every series held is an instrument (strike ``strike / PRICE_UNIT``), every position a
signed amount ``size / size_unit`` and every account's cash ``cash / quote_unit``, the
same float divisions, so the screen starts from the exact rule's very inputs. Positions
are grouped by *(account, expiry)*, the unit both rules margin an expiry by, as rows of a
sparse matrix; :meth:`OptionLayout.market` gives each instrument's spot, seconds to
expiry, vol and forward as ``option_portfolio`` computes them (the underlying's oracle
price as every forward, ``engine.option_vol`` at it; an expiry one of whose series has
settled has its whole forward fixed at the settlement price, read by the same
:func:`~marginengine.margin.portfolio.expiry_of`).

An account holding options on more than one underlying (the engine margins its least
underlying's only) is flagged in :attr:`OptionLayout.mixed` for its caller to read
exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from marginengine.engine import Engine
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger.options import OptionSeries
from marginengine.margin.portfolio import expiry_of

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def sums(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """``weights`` summed by ``index`` into ``n`` bins (``np.bincount``, typed float)."""
    out: FloatArray = np.bincount(index, weights=weights, minlength=n).astype(np.float64)
    return out


@dataclass(frozen=True)
class InstrumentMarket:
    """Each instrument's market now, as the engine's portfolio reads value it.

    Attributes
    ----------
    spot
        The underlying's price (quote per unit).
    sec_to_expiry
        ``max(expiry - now, 0)`` seconds (0 once the expiry's price is fixed).
    vol
        The series' vol from its surface at the spot.
    forward, forward_fixed
        The variable and the fixed part of the expiry's forward, as
        :func:`~marginengine.margin.portfolio.expiry_of` gives them: the spot and 0, or,
        once a series of the expiry has settled, 0 and its settlement price.
    """

    spot: FloatArray
    sec_to_expiry: FloatArray
    vol: FloatArray
    forward: FloatArray
    forward_fixed: FloatArray


class OptionLayout:
    """Accounts, instruments and (account, expiry) groups of an engine's options clearing.

    Parameters
    ----------
    engine
        An engine with ``[protocol.options]``.
    accounts
        The accounts to lay out (sorted here).

    Raises
    ------
    ValueError
        The engine has no options clearing.
    """

    def __init__(self, engine: Engine, accounts: Iterable[str]) -> None:
        clearing = engine.state.options
        if clearing is None:
            raise ValueError("the option layout needs an options clearing")
        self.engine = engine
        self.accounts = sorted(accounts)
        held = [clearing.positions.get(a, {}) for a in self.accounts]
        series = sorted({s for book in held for s in book})
        self.series: list[OptionSeries] = series
        self.underlyings = sorted({s.underlying for s in series})
        und_at = {u: i for i, u in enumerate(self.underlyings)}
        col = {s: i for i, s in enumerate(series)}
        #: Per instrument: strike (quote per unit), call, underlying index, expiry time.
        self.strike = np.array([s.strike / PRICE_UNIT for s in series], dtype=np.float64)
        self.is_call = np.array([s.is_call for s in series], dtype=bool)
        self.underlying = np.array([und_at[s.underlying] for s in series], dtype=np.int64)
        self.expiry_time = np.array([s.expiry for s in series], dtype=np.int64)
        n_acc = len(self.accounts)
        self.cash = np.array([clearing.cash.get(a, 0) / clearing.quote_unit
                              for a in self.accounts], dtype=np.float64)
        self.account_underlying = np.full(n_acc, -1, dtype=np.int64)
        self.mixed = np.zeros(n_acc, dtype=bool)
        group_of: dict[tuple[int, str, int], int] = {}
        group_account: list[int] = []
        group_instrument: list[int] = []  # one instrument of the group: its expiry's
        rows, cols, amounts, accs = [], [], [], []
        for r, book in enumerate(held):
            unds = {s.underlying for s in book}
            if unds:
                self.account_underlying[r] = und_at[min(unds)]
                self.mixed[r] = len(unds) > 1
            for s, n in sorted(book.items(), key=lambda x: (x[0].underlying, x[0].expiry, x[0])):
                key = (r, s.underlying, s.expiry)
                g = group_of.get(key)
                if g is None:
                    g = group_of[key] = len(group_account)
                    group_account.append(r)
                    group_instrument.append(col[s])
                rows.append(g)
                cols.append(col[s])
                amounts.append(n / clearing.size_unit)
                accs.append(r)
        n_groups = len(group_account)
        #: Per (account, expiry) group: its account and one of its instruments.
        self.group_account = np.array(group_account, dtype=np.int64)
        self.group_instrument = np.array(group_instrument, dtype=np.int64)
        #: Per position (sorted by group): group, instrument, account and signed amount.
        self.position_group = np.array(rows, dtype=np.int64)
        self.position_instrument = np.array(cols, dtype=np.int64)
        self.position_account = np.array(accs, dtype=np.int64)
        self.amount = np.array(amounts, dtype=np.float64)
        #: Groups x instruments, the signed amounts (the expiries' sums by one product).
        self.groups = sp.csr_matrix(
            (self.amount, (self.position_group, self.position_instrument)),
            shape=(n_groups, len(series)))
        #: Accounts x groups, ones (a group's figures summed per account).
        self.group_sum = sp.csr_matrix(
            (np.ones(n_groups), (self.group_account, np.arange(n_groups))),
            shape=(n_acc, n_groups))
        #: Positions per account (the float sums' lengths).
        self.positions = np.bincount(self.position_account, minlength=n_acc).astype(np.int64)

    def unreadable(self, instrument_bad: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """The accounts a screen cannot revalue, for its caller to read exactly: options on
        several underlyings (:attr:`mixed`), on none, or on any instrument flagged in
        ``instrument_bad`` (no price, no vol, no rule parameters)."""
        held_bad = sums(self.position_account,
                        instrument_bad[self.position_instrument].astype(np.float64),
                        len(self.accounts)) > 0
        out: NDArray[np.bool_] = self.mixed | (self.account_underlying < 0) | held_bad
        return out

    def per_account(self, values: FloatArray) -> FloatArray:
        """``values`` per group summed per account."""
        out: FloatArray = np.asarray(self.group_sum @ values, dtype=np.float64)
        return out

    def market(self, prices: Mapping[str, int] | None = None,
               surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
               ) -> tuple[InstrumentMarket, FloatArray]:
        """Each instrument's market now and each underlying's spot; a missing price is
        a NaN spot and a missing surface a NaN vol (the caller reads those accounts
        exactly: their exact read is ``unpriced``). ``prices`` and ``surfaces`` (a
        what-if) replace the engine's as ``option_portfolio`` takes them."""
        engine = self.engine
        table = engine.prices if prices is None else prices
        now = engine.ledger.time
        spots = np.array([table[u] / PRICE_UNIT if u in table else np.nan
                          for u in self.underlyings], dtype=np.float64)
        spot = spots[self.underlying] if self.series else np.zeros(0)
        clearing = engine.state.options
        assert clearing is not None
        vols = []
        for s, f in zip(self.series, spot.tolist(), strict=True):
            v = engine.option_vol(s, f, surfaces) if f == f else None
            vols.append(np.nan if v is None else v)
        # Each expiry as the exact rule reads it (a settled series fixes its forward).
        expiry = {key: expiry_of(clearing, key[0], key[1], now, f,
                                 portions=engine.forward_portions_now(key[0], key[1],
                                                                      table[key[0]])
                                 if f == f else None)
                  for key, f in zip(((s.underlying, s.expiry) for s in self.series),
                                    spot.tolist(), strict=True)}
        of = [expiry[(s.underlying, s.expiry)] for s in self.series]
        return InstrumentMarket(
            spot, np.array([e.sec_to_expiry for e in of], dtype=np.float64),
            np.array(vols, dtype=np.float64),
            np.array([e.forward for e in of], dtype=np.float64),
            np.array([e.forward_fixed for e in of], dtype=np.float64)), spots


__all__ = ["InstrumentMarket", "OptionLayout", "sums"]
