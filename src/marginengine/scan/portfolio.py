"""The portfolio-margin risk book: revalue instruments, not accounts.

Each underlying's instruments (European options and its perp) are revalued once per
market move into an **instruments x scenarios** matrix (vectorized Black-76 through
:mod:`marginengine.pricing.scenarios`); the accounts' positions, an **accounts x
instruments** ``scipy.sparse`` CSR matrix, times that matrix give every account's shocked
values; then the per-expiry static discount, the dampening, the skew and basis terms, the
minimum over scenarios and the contingencies, all as array operations. The exact twin,
one portfolio at a time, is :func:`marginengine.margin.portfolio.evaluate`; the tests
hold the two together.

**The per-expiry discount.** Derive's static discount multiplies an expiry's *net*
shocked value by one factor if it is >= 0 and another if < 0, so positions cannot simply
be multiplied by a per-instrument P&L matrix. But option values are never negative: an
(account, expiry) whose options are all long has a shocked value >= 0 in every scenario,
all short <= 0. Those single-signed groups are discounted by scaling their positions'
amounts before the one sparse product. Only the *mixed* groups (spreads within an expiry)
are summed per (account, expiry) by a second, smaller sparse product and discounted
scenario by scenario. The result is exact, not an approximation.

**Layout.** Every account holds one underlying (Derive's portfolio-margined subaccount
holds one market); the book keeps one block per underlying, so a move of one underlying
rescans only its block (:meth:`PortfolioRiskBook.rescan`). Perp unrealised value,
cash and other collateral enter as one cash value per account; haircut and
risk-cancelling collateral and per-expiry oracle confidences are the exact model's
(the book uses each underlying's least confidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from marginengine.config.portfolio import PortfolioMarginConfig, PortfolioRules
from marginengine.errors import FieldError
from marginengine.margin.portfolio import (
    Expiry,
    OptionPosition,
    Portfolio,
    discount_params,
    grid_scenarios,
    skew_params,
    vol_params,
)
from marginengine.margin.portfolio_rules import evaluate_portfolio, rule_of
from marginengine.pricing.black76 import price, price_and_greeks
from marginengine.pricing.inputs import FloatArray, float_array
from marginengine.pricing.scenarios import (
    SECONDS_PER_YEAR,
    VOL_NONE,
    BasisContingencyParams,
    Scenarios,
    basis_scenarios,
    scenario_values,
    static_discounts,
)
from marginengine.pricing.skew import skewed_vols
from marginengine.scan.portfolio_kernel import AVAILABLE, fused

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Instruments:
    """The instrument universe.

    Attributes
    ----------
    underlying
        ``(n,)`` the underlying (0 .. U - 1) of each instrument.
    expiry
        ``(n,)`` the expiry (0 .. E - 1, global) of each option; -1 for a perp.
    strike, is_call
        ``(n,)`` per option (ignored for perps).
    expiry_underlying
        ``(E,)`` the underlying of each expiry.
    """

    underlying: IntArray
    expiry: IntArray
    strike: FloatArray
    is_call: NDArray[np.bool_]
    expiry_underlying: IntArray

    @property
    def is_perp(self) -> NDArray[np.bool_]:
        """Perps are the instruments without an expiry."""
        out: NDArray[np.bool_] = self.expiry < 0
        return out


@dataclass
class UnderlyingMarket:
    """Market data of one underlying: spot, perp mark, oracle confidence, and per expiry
    (in the order of :attr:`Instruments.expiry` restricted to it) seconds to expiry,
    forward and rate, and one mark vol per option instrument of the underlying (in
    instrument order).

    ``forward`` is the part of each expiry's forward that the spot shocks move and
    ``forward_fixed`` (``None``: all 0) the part already fixed, as
    :class:`~marginengine.margin.portfolio.Expiry` has them: an expiry whose settlement
    price is fixed (a series of it settled: :func:`~marginengine.margin.portfolio.
    expiry_of`) has forward 0 and its whole forward fixed, so no scenario moves it."""

    spot: float
    sec_to_expiry: FloatArray
    forward: FloatArray
    rate: FloatArray
    vol: FloatArray
    perp_price: float | None = None
    confidence: float = 1.0
    forward_fixed: FloatArray | None = None


@dataclass(frozen=True)
class PortfolioScan:
    """Every account's portfolio margin (Derive's sign: >= 0 met).

    Attributes
    ----------
    initial, maintenance, mtm, worst
        ``(accounts,)``; ``worst`` is the minimum that the factors scale (<= 0).
    worst_scenario
        ``(accounts,)`` the index in the configuration's scenarios of the worst one, -1
        when the basis contingency or zero was lower.
    accounts
        The accounts (rows of the book's positions) the arrays describe, in order: every
        account with positions, block by block, after :meth:`PortfolioRiskBook.scan`;
        one underlying's after :meth:`PortfolioRiskBook.rescan`; all, in account order,
        from :meth:`PortfolioRiskBook.result`.
    """

    initial: FloatArray
    maintenance: FloatArray
    mtm: FloatArray
    worst: FloatArray
    worst_scenario: IntArray
    accounts: IntArray


class _Block:
    """One underlying's accounts and instruments, with the sparse structures that stay
    fixed while positions do."""

    def __init__(self, rows: IntArray, positions: sp.csr_matrix, inst: IntArray,
                 expiry_local: IntArray, strike: FloatArray, n_expiries: int) -> None:
        self.rows = rows
        self.inst = inst
        self.n_expiries = n_expiries
        p = positions.tocoo()
        r, c, a = p.row.astype(np.int64), p.col.astype(np.int64), p.data.astype(np.float64)
        n_acc, n_inst = positions.shape
        exp = expiry_local[c]
        opt = exp >= 0
        self.is_opt_col = expiry_local >= 0
        # Groups: one per (account, expiry) holding options.
        key = r[opt] * n_expiries + exp[opt]
        gkeys, ginv = np.unique(key, return_inverse=True)
        g_min = np.full(gkeys.size, np.inf)
        g_max = np.full(gkeys.size, -np.inf)
        np.minimum.at(g_min, ginv, a[opt])
        np.maximum.at(g_max, ginv, a[opt])
        self.g_row = gkeys // n_expiries
        self.g_exp = gkeys % n_expiries
        mixed = (g_min < 0) & (g_max > 0)
        self.g_long = g_max > 0
        ropt, copt, aopt = r[opt], c[opt], a[opt]
        n_g = gkeys.size
        # All option groups (skew and basis terms need every group).
        self.q_all = sp.csr_matrix((aopt, (ginv, copt)), shape=(n_g, n_inst))
        self.r_all = sp.csr_matrix((np.ones(n_g), (self.g_row, np.arange(n_g))),
                                   shape=(n_acc, n_g))
        # Mixed groups: summed per group, discounted scenario by scenario.
        m_ids = np.flatnonzero(mixed)
        remap = np.full(n_g, -1)
        remap[m_ids] = np.arange(m_ids.size)
        in_mixed = mixed[ginv]
        self.m_exp = self.g_exp[m_ids]
        self.q_mixed = sp.csr_matrix((aopt[in_mixed], (remap[ginv[in_mixed]], copt[in_mixed])),
                                     shape=(m_ids.size, n_inst))
        # The rows holding a mixed group, and the groups of each such row.
        self.m_rows, m_row_of = np.unique(self.g_row[m_ids], return_inverse=True)
        self.r_mixed = sp.csr_matrix((np.ones(m_ids.size), (m_row_of, np.arange(m_ids.size))),
                                     shape=(self.m_rows.size, m_ids.size))
        # The one big product: perps and single-signed option groups. A long group's
        # entries point at the instrument's column i of the weight matrix, a short one's
        # at n + i (the same instrument discounted the short way): the discount, the MtM
        # and the dampening are folded into that matrix, so the product is the P&L.
        keep = np.ones(r.size, dtype=bool)
        opt_idx = np.flatnonzero(opt)
        keep[opt_idx[in_mixed]] = False
        rk, ck, ak = r[keep], c[keep], a[keep]
        ek = exp[keep]
        key_k = rk * n_expiries + np.maximum(ek, 0)
        found = np.minimum(np.searchsorted(gkeys, key_k), max(gkeys.size - 1, 0))
        is_short = (ek >= 0) & ~(self.g_long[found] if gkeys.size else np.ones(ek.size, bool))
        self.lin = sp.csr_matrix((ak, (rk, ck + n_inst * is_short)), shape=(n_acc, 2 * n_inst))
        self.lin.sum_duplicates()
        self.lin.sort_indices()
        for m in (self.q_all, self.q_mixed):
            m.sum_duplicates()
            m.sort_indices()
        # Each group's kind for the fused kernel: 0 long-only, 1 short-only, 2 mixed.
        self.g_kind = np.where(mixed, 2, np.where(self.g_long, 0, 1)).astype(np.int64)
        perp = ~opt
        self.perps = sp.csr_matrix((a[perp], (r[perp], c[perp])), shape=(n_acc, n_inst))
        self.perps.sum_duplicates()
        # Per account, its range of groups (groups are sorted by account).
        self.g_indptr = np.searchsorted(self.g_row, np.arange(n_acc + 1)).astype(np.int64)
        self.m_indptr = np.searchsorted(self.g_row[m_ids], np.arange(n_acc + 1)).astype(np.int64)
        self.positions = positions.tocsr()
        # Contingency units, fixed while positions are.
        strike_ids = np.unique(strike[c[opt]], return_inverse=True)[1]
        n_k = int(strike_ids.max()) + 1 if strike_ids.size else 1
        skey = (ropt * n_expiries + exp[opt]) * n_k + strike_ids
        sk, sinv = np.unique(skey, return_inverse=True)
        net = np.zeros(sk.size)
        np.add.at(net, sinv, aopt)
        self.naked = np.bincount(sk // (n_expiries * n_k), weights=np.maximum(-net, 0.0),
                                 minlength=n_acc)
        perp_amt = np.bincount(r[~opt], weights=a[~opt], minlength=n_acc)
        self.perp_units = np.abs(perp_amt)
        self.option_units = np.bincount(ropt, weights=np.abs(aopt), minlength=n_acc)
        # Set by the book from its configuration.
        self.mm_units = np.zeros(n_acc)
        self.im_units = np.zeros(n_acc)
        self.conf_units = np.zeros(n_acc)
        self.cash = np.zeros(n_acc)
        self.local = np.arange(n_acc, dtype=np.int64)


class PortfolioRiskBook:
    """Portfolio margin of many accounts, one underlying per account.

    Parameters
    ----------
    instruments
        The instrument universe.
    positions
        ``(accounts, instruments)`` signed amounts (sparse or dense).
    cash
        ``(accounts,)`` cash and other value that no scenario moves (quote currency).
    config
        The portfolio-margin rule, any model of
        :func:`~marginengine.config.portfolio.portfolio_config`: the scenario-grid model
        (scenarios, shocks, discount, contingencies) or Derive's PMRM v1 or SRM.
    stable_price
        The quote stablecoin's price (the depeg add-on of the IM factor).
    kernel
        ``numba``: the fused compiled kernel (:mod:`marginengine.scan.portfolio_kernel`);
        ``numpy``: sparse products and array passes; ``exact``: each account by its rule,
        one at a time (:func:`marginengine.margin.portfolio_rules.evaluate_portfolio`);
        ``auto``: numba where installed, for PMRM v1 and the SRM ``exact`` (the only
        path of rules without a vectorized twin).
    underlying_names
        One symbol per underlying: the SRM's market of each (its parameters); ``None``:
        the SRM configuration's ``default`` parameters for all. Not read by other rules.

    Raises
    ------
    FieldError
        Positions of the wrong shape, an account holding two underlyings
        (``positions``), bad instrument arrays, or a vectorized ``kernel`` asked for a
        rule that has none.
    """

    _cfg: PortfolioMarginConfig

    def __init__(self, instruments: Instruments, positions: sp.spmatrix | ArrayLike,
                 cash: ArrayLike, config: PortfolioRules,
                 stable_price: float = 1.0,
                 kernel: Literal["auto", "numba", "numpy", "exact"] = "auto",
                 underlying_names: Sequence[str] | None = None) -> None:
        if kernel not in ("auto", "numba", "numpy", "exact"):
            raise FieldError("kernel", f"must be auto, numba, numpy or exact (got {kernel!r})")
        is_grid = isinstance(config, PortfolioMarginConfig)
        if not is_grid and kernel in ("numba", "numpy"):
            raise FieldError("kernel", f"the {kernel} kernel is the scenario-grid model's "
                                       f"(PMRM_2); a {rule_of(config)} book scans with "
                                       f"kernel='exact' (or 'auto')")
        if kernel == "numba" and not AVAILABLE:
            raise FieldError("kernel", "numba is not installed (pip install "
                                       "'marginengine[fast]')")
        #: Which path scans: the fused compiled kernel, sparse products and arrays, or
        #: each account by its rule (margin/portfolio_rules.py: the only path of PMRM v1
        #: and the SRM, whose rules have no vectorized twin).
        self.kernel = "exact" if kernel == "auto" and not is_grid else (
            "numba" if kernel == "auto" and AVAILABLE else (
                "numpy" if kernel == "auto" else kernel))
        self.instruments = instruments
        #: The portfolio rule (any of portfolio_config's models).
        self.config = config
        self.stable_price = float(float_array("stable_price", stable_price, minimum=0.0,
                                              strict=True))
        pos = sp.csr_matrix(positions, dtype=np.float64)
        n_inst = instruments.underlying.size
        if pos.shape[1] != n_inst:
            raise FieldError("positions", f"must have one column per instrument "
                                          f"({pos.shape[1]} != {n_inst})")
        pos.eliminate_zeros()
        self._positions = pos
        self.n_accounts = pos.shape[0]
        self.cash = float_array("cash", cash).ravel()
        if self.cash.size != self.n_accounts:
            raise FieldError("cash", f"must have one value per account ({self.cash.size} != "
                                     f"{self.n_accounts})")
        coo = pos.tocoo()
        und = instruments.underlying[coo.col]
        lo = np.full(self.n_accounts, np.iinfo(np.int64).max)
        hi = np.full(self.n_accounts, -1)
        np.minimum.at(lo, coo.row, und)
        np.maximum.at(hi, coo.row, und)
        if (hi >= 0).any() and (lo[hi >= 0] != hi[hi >= 0]).any():
            bad = int(np.flatnonzero((hi >= 0) & (lo != hi))[0])
            raise FieldError("positions", f"account {bad} holds more than one underlying "
                                          "(a portfolio is margined per underlying)")
        self.account_underlying = np.where(hi >= 0, hi, -1)
        self.n_underlyings = int(instruments.underlying.max()) + 1
        if underlying_names is not None and (
                isinstance(underlying_names, str) or len(underlying_names) != self.n_underlyings
                or not all(isinstance(n, str) for n in underlying_names)):
            raise FieldError("underlying_names", f"must be {self.n_underlyings} symbols, one "
                                                 f"per underlying (got {underlying_names!r})")
        #: The underlyings' symbols (the SRM's markets); ``None``: unnamed (the SRM's
        #: ``default`` parameters).
        self.underlying_names = None if underlying_names is None else list(underlying_names)
        self._markets: list[UnderlyingMarket | None] = [None] * self.n_underlyings
        self._values: list[dict[str, FloatArray] | None] = [None] * self.n_underlyings
        self._out: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray]
                        | None] = [None] * self.n_underlyings
        self._inst_of: list[IntArray] = [
            np.flatnonzero(instruments.underlying == u).astype(np.int64)
            for u in range(self.n_underlyings)]
        self._exp_of: list[IntArray] = [
            np.flatnonzero(instruments.expiry_underlying == u).astype(np.int64)
            for u in range(self.n_underlyings)]
        if self.kernel == "exact":
            self._rows_of = [np.flatnonzero(self.account_underlying == u).astype(np.int64)
                             for u in range(self.n_underlyings)]
            self._blocks: list[_Block | None] = [None] * self.n_underlyings
            return
        assert isinstance(config, PortfolioMarginConfig)
        self._cfg = config
        grid, grid_idx = grid_scenarios(config)
        skew_idx = np.array([i for i, s in enumerate(config.scenarios)
                             if s.vol_shock in ("linear", "abs")], dtype=np.int64)
        self._grid = grid
        self._n_grid = int(grid_idx.size)
        # Internal column order: grid scenarios first, then skew ones.
        self._col_scenario = np.concatenate([grid_idx, skew_idx]).astype(np.int64)
        s_all = config.scenarios
        self._damp = np.array([s_all[i].dampening for i in self._col_scenario])
        self._spot = np.array([s_all[i].spot_shock for i in self._col_scenario])
        self._skew_linear = [s_all[i].vol_shock == "linear" for i in skew_idx]
        self._blocks = []
        for u in range(self.n_underlyings):
            inst, exps = self._inst_of[u], self._exp_of[u]
            rows = np.flatnonzero(self.account_underlying == u).astype(np.int64)
            if rows.size == 0:
                self._blocks.append(None)
                continue
            local = np.full(instruments.expiry_underlying.size, -1)
            local[exps] = np.arange(exps.size)
            e = instruments.expiry[inst]
            expiry_local = np.where(e >= 0, local[np.maximum(e, 0)], -1).astype(np.int64)
            sub = pos[rows][:, inst]
            self._blocks.append(_Block(rows, sub, inst, expiry_local,
                                       instruments.strike[inst], exps.size))
        c = config.contingencies
        for block in self._blocks:
            if block is not None:
                # Contingencies per unit of spot, fixed while positions and config are.
                block.mm_units = block.naked * c.mm_option + block.perp_units * c.mm_perp
                block.im_units = block.naked * c.im_option + block.perp_units * c.im_perp
                block.conf_units = block.perp_units + block.option_units
                block.cash = self.cash[block.rows]
        # self._out: per underlying, its accounts' latest (initial, maintenance, mtm,
        # worst, scenario index or -1), block-local and contiguous; fresh arrays per scan.

    # ------------------------------------------------------------------ revaluation

    def set_market(self, underlying: int, market: UnderlyingMarket) -> int:
        """Revalue every instrument of ``underlying`` at ``market``; returns how many.

        Raises
        ------
        FieldError
            Arrays of the wrong length or invalid values, named.
        """
        if not 0 <= underlying < self.n_underlyings:
            raise FieldError("underlying", f"must be in [0, {self.n_underlyings})")
        cfg = self.config
        inst = self._inst_of[underlying]
        exps = self._exp_of[underlying]
        tte = float_array("sec_to_expiry", market.sec_to_expiry, minimum=0.0).ravel()
        fwd = float_array("forward", market.forward, minimum=0.0).ravel()
        fixed = (np.zeros(fwd.size) if market.forward_fixed is None else
                 float_array("forward_fixed", market.forward_fixed, minimum=0.0).ravel())
        rate = float_array("rate", market.rate).ravel()
        if not tte.size == fwd.size == fixed.size == rate.size == exps.size:
            raise FieldError("sec_to_expiry", f"sec_to_expiry, forward, forward_fixed and "
                                              f"rate need one value per expiry of the "
                                              f"underlying ({exps.size})")
        if not np.all(fwd + fixed > 0.0):
            raise FieldError("forward", "forward + forward_fixed must be > 0 for every expiry")
        # Black-76's forward; the spot shocks move only its variable part.
        total = fwd + fixed
        if isinstance(cfg, PortfolioMarginConfig) and cfg.floor_rate_at_zero:
            rate = np.maximum(rate, 0.0)
        spot = float(float_array("spot", market.spot, minimum=0.0, strict=True))
        perp_price = spot if market.perp_price is None else float(
            float_array("perp_price", market.perp_price, minimum=0.0))
        ins = self.instruments
        e = ins.expiry[inst]
        opt = e >= 0
        vol = float_array("vol", market.vol, minimum=0.0).ravel()
        if vol.size != int(opt.sum()):
            raise FieldError("vol", f"needs one value per option of the underlying "
                                    f"({vol.size} != {int(opt.sum())})")
        if self.kernel == "exact":
            # Each account is valued by its rule at scan time (_scan_block_exact).
            self._markets[underlying] = UnderlyingMarket(spot, tte, fwd, rate, vol, perp_price,
                                                         market.confidence, fixed)
            self._values[underlying] = {}
            return int(inst.size)
        assert isinstance(cfg, PortfolioMarginConfig)
        local = np.full(ins.expiry_underlying.size, -1)
        local[exps] = np.arange(exps.size)
        el = local[e[opt]]
        n_cols = self._col_scenario.size
        n_sk = n_cols - self._n_grid
        values = np.zeros((inst.size, n_cols))
        extra = np.zeros((inst.size, 3 + n_sk))  # base, basis up, basis down, skews
        if opt.any():
            k, call = ins.strike[inst][opt], ins.is_call[inst][opt]
            args = (fwd[el], fixed[el], k, tte[el], vol, rate[el], call)
            vp = vol_params(cfg)
            if self._n_grid:
                values[opt, :self._n_grid] = scenario_values(*args, self._grid, vp)
            extra[opt, 0] = scenario_values(*args, Scenarios.of([1.0], [VOL_NONE]), vp)[:, 0]
            if cfg.basis is not None:
                b = cfg.basis
                bp = BasisContingencyParams(b.spot_up, b.spot_down, b.add_factor, b.mult_factor)
                extra[opt, 1:3] = scenario_values(*args, basis_scenarios(bp), vp)[:, :2]
            skew = skew_params(cfg)
            if skew is not None:
                for j, linear in enumerate(self._skew_linear):
                    sv = skewed_vols(vol, k, total[el], tte[el], linear, skew)
                    extra[opt, 3 + j] = price(total[el], k, tte[el] / SECONDS_PER_YEAR, sv,
                                              rate[el], call)
        values[~opt, :] = perp_price * (self._spot - 1.0)[None, :]
        # d(value)/d(spot) per unit, for the minimum-delta requirement (perps: 1).
        delta = np.ones(inst.size)
        if opt.any() and cfg.min_delta is not None:
            _, greeks = price_and_greeks(total[el], ins.strike[inst][opt],
                                         tte[el] / SECONDS_PER_YEAR, vol, rate[el],
                                         ins.is_call[inst][opt])
            # Only the variable part of the forward moves with the spot.
            delta[opt] = np.asarray(greeks.delta) * fwd[el] / spot
        pos_d, neg_d = static_discounts(tte, rate, discount_params(cfg))
        tau = tte / SECONDS_PER_YEAR
        basis_factor = (np.zeros_like(tau) if cfg.basis is None
                        else cfg.basis.add_factor + cfg.basis.mult_factor * tau)
        # The weights of the one big product (see _Block): per instrument its dampened
        # P&L per unit, long-discounted (rows 0..n-1) and short-discounted (n..2n-1).
        ng = self._n_grid
        weights = np.zeros((2 * inst.size, n_cols))
        for half, disc in ((0, pos_d), (1, neg_d)):
            w = weights[half * inst.size:(half + 1) * inst.size]
            w[opt, :ng] = values[opt, :ng] * disc[el][:, None] - extra[opt, 0][:, None]
            w[~opt, :] = values[~opt, :]
            w *= self._damp
        self._values[underlying] = {"values": values, "extra": extra, "pos": pos_d,
                                    "neg": neg_d, "weights": weights, "delta": delta,
                                    "basis_factor": basis_factor}
        self._markets[underlying] = market
        return int(inst.size)

    # ------------------------------------------------------------------------ scans

    def product_only(self) -> FloatArray:
        """The plain sparse product of all positions (accounts x instruments CSR) with
        the instruments x scenarios values: the benchmark's reference (what the scan
        costs beyond it is the discount rule, the skew and basis terms, the minimum and
        the contingencies)."""
        if self.kernel == "exact":
            raise FieldError("kernel", "product_only is the vectorized kernels' reference "
                                       "(this book scans with kernel='exact')")
        values = np.zeros((self.instruments.underlying.size, self._col_scenario.size))
        for u in range(self.n_underlyings):
            if self._blocks[u] is not None:
                values[self._inst_of[u]] = self._vals(u)["values"]
        out: FloatArray = np.asarray(self._positions @ values)
        return out

    def scan(self) -> PortfolioScan:
        """Every account's margin (every underlying must have a market), in the book's
        order: block after block, :attr:`PortfolioScan.accounts` naming each row
        (:meth:`result` gives account order). Accounts without positions are left out."""
        for u in range(self.n_underlyings):
            self._scan_block(u)
        parts = [(self._rows(u), o) for u, o in enumerate(self._out) if o is not None]
        if not parts:
            empty = np.zeros(0)
            none = np.zeros(0, dtype=np.int64)
            return PortfolioScan(empty, empty, empty, empty, none, none)
        cols = [np.concatenate([o[i] for _, o in parts]) for i in range(4)]
        return PortfolioScan(cols[0], cols[1], cols[2], cols[3],
                             np.concatenate([o[4] for _, o in parts]),
                             np.concatenate([r for r, _ in parts]))

    def rescan(self, underlying: int) -> PortfolioScan:
        """Rescan the accounts of one underlying (after :meth:`set_market` on it) and
        return theirs (:attr:`PortfolioScan.accounts`); :meth:`result` has the whole book."""
        if not 0 <= underlying < self.n_underlyings:
            raise FieldError("underlying", f"must be in [0, {self.n_underlyings})")
        self._scan_block(underlying)
        rows = self._rows(underlying)
        out = self._out[underlying]
        if out is None:
            empty = np.zeros(0)
            return PortfolioScan(empty, empty, empty, empty, rows.copy(), rows.copy())
        # The block's arrays are new at each scan and never changed after: no copy.
        return PortfolioScan(*out[:4], out[4], rows.copy())

    def result(self) -> PortfolioScan:
        """The whole book's latest margins (copies), in account order."""
        # An account without positions (or not scanned yet): its margin is its cash.
        initial, maintenance, mtm = self.cash.copy(), self.cash.copy(), self.cash.copy()
        worst = np.zeros(self.n_accounts)
        scenario = np.full(self.n_accounts, -1, dtype=np.int64)
        for u, out in enumerate(self._out):
            if out is not None:
                rows = self._rows(u)
                initial[rows], maintenance[rows], mtm[rows], worst[rows], scenario[rows] = out
        return PortfolioScan(initial, maintenance, mtm, worst, scenario,
                             np.arange(self.n_accounts, dtype=np.int64))

    def _rows(self, u: int) -> IntArray:
        """The accounts (rows) of underlying ``u``, in the order of its scan's arrays."""
        if self.kernel == "exact":
            return self._rows_of[u]
        block = self._blocks[u]
        return block.rows if block is not None else np.zeros(0, dtype=np.int64)

    def _vals(self, u: int) -> dict[str, FloatArray]:
        vals = self._values[u]
        if vals is None:
            raise FieldError("market", f"underlying {u} has no market (call set_market)")
        return vals

    def _block_terms_numpy(self, block: _Block, vals: dict[str, FloatArray]
                           ) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
        """Worst scenario P&L and its scenario index, basis contingency and options' MtM per
        account, by sparse products and array passes (the fused kernel's oracle)."""
        ng = self._n_grid
        values, extra = vals["values"], vals["extra"]
        pnl = np.asarray(block.lin @ vals["weights"])
        pos_d, neg_d = vals["pos"], vals["neg"]
        if block.q_mixed.shape[0] and ng:
            m = np.asarray(block.q_mixed @ values[:, :ng])
            base_m = np.asarray(block.q_mixed @ extra[:, 0]).ravel()
            m *= np.where(m >= 0, pos_d[block.m_exp][:, None], neg_d[block.m_exp][:, None])
            m -= base_m[:, None]
            m *= self._damp[:ng]
            pnl[block.m_rows, :ng] += np.asarray(block.r_mixed @ m)
        mtm_opt = np.asarray(block.positions @ extra[:, 0]).ravel()
        g = np.asarray(block.q_all @ extra)
        gpos, gneg = pos_d[block.g_exp], neg_d[block.g_exp]
        for j in range(self._col_scenario.size - ng):
            x = g[:, 3 + j]
            pe = (x * np.where(x >= 0, gpos, gneg) - g[:, 0]) * self._damp[ng + j]
            pnl[:, ng + j] -= np.asarray(block.r_all @ np.abs(pe)).ravel()
        idx = pnl.argmin(axis=1) if pnl.shape[1] else np.zeros(block.rows.size, dtype=np.int64)
        worst = (np.take_along_axis(pnl, idx[:, None], axis=1)[:, 0] if pnl.shape[1]
                 else np.zeros(idx.size))
        scenario = self._col_scenario[idx] if pnl.shape[1] else np.full(idx.size, -1)
        if self._cfg.basis is not None and g.shape[0]:
            bc = (np.minimum(np.minimum(g[:, 1] - g[:, 0], g[:, 2] - g[:, 0]), 0.0)
                  * vals["basis_factor"][block.g_exp])
            basis = np.asarray(block.r_all @ bc).ravel()
        else:
            basis = np.zeros(block.rows.size)
        return worst, scenario, basis, mtm_opt

    def _scan_block_fused(self, u: int, block: _Block, vals: dict[str, FloatArray],
                          market: UnderlyingMarket) -> None:
        """The whole block in one compiled pass per account (scan/portfolio_kernel.py)."""
        pp, qa = block.perps, block.q_all
        n = block.rows.size
        out = [np.empty(n) for _ in range(4)]
        col = np.empty(n, dtype=np.int64)
        fused(pp.indptr, pp.indices, pp.data, block.g_indptr, qa.indptr, qa.indices, qa.data,
              block.g_exp, block.g_kind, vals["weights"], vals["values"], vals["extra"],
              vals["pos"], vals["neg"], self._damp, vals["basis_factor"], self._n_grid,
              block.cash, block.mm_units, block.im_units, block.conf_units,
              float(market.spot), self._cfg.mm_factor, self._im_factor(),
              self._conf_add(market), block.local, self._col_scenario, *out, col)
        self._out[u] = (out[0], out[1], out[2], out[3], col)

    def _conf_add(self, market: UnderlyingMarket) -> float:
        c = self._cfg.contingencies
        if market.confidence < c.conf_threshold:
            return (1.0 - market.confidence) * c.conf_margin
        return 0.0

    def _im_factor(self) -> float:
        c = self._cfg.contingencies
        im_factor = self._cfg.im_factor
        if self.stable_price < c.peg_loss_threshold:
            im_factor += (c.peg_loss_threshold - self.stable_price) * c.peg_loss_factor
        return im_factor

    def _scan_block(self, u: int) -> None:
        if self.kernel == "exact":
            self._scan_block_exact(u)
            return
        block = self._blocks[u]
        if block is None:
            return
        vals = self._vals(u)
        market = self._markets[u]
        assert market is not None
        if self.kernel == "numba":
            self._scan_block_fused(u, block, vals, market)
        else:
            self._scan_block_numpy(u, block, vals, market)
        if self._cfg.min_delta is not None:
            self._apply_min_delta(u, block, vals, market)

    def _account_portfolio(self, u: int, row: int, market: UnderlyingMarket) -> Portfolio:
        """One account of underlying ``u`` as the rules' :class:`Portfolio`: every expiry
        of the underlying, its options and perp, its cash, the underlying's confidence
        for all of it (the book's simplifications)."""
        ins = self.instruments
        exps = self._exp_of[u]
        local = {int(g): j for j, g in enumerate(exps)}
        inst = self._inst_of[u]
        opt_inst = inst[ins.expiry[inst] >= 0]
        vol_of = {int(i): float(v) for i, v in zip(opt_inst, market.vol, strict=True)}
        start, end = self._positions.indptr[row], self._positions.indptr[row + 1]
        options: list[OptionPosition] = []
        perp = 0.0
        for c, amount in zip(self._positions.indices[start:end],
                             self._positions.data[start:end], strict=True):
            if ins.expiry[c] < 0:
                perp += float(amount)
            else:
                options.append(OptionPosition(local[int(ins.expiry[c])], float(ins.strike[c]),
                                              bool(ins.is_call[c]), float(amount),
                                              vol_of[int(c)]))
        conf = market.confidence
        fixed = (np.zeros(len(market.forward)) if market.forward_fixed is None
                 else market.forward_fixed)
        expiries = tuple(Expiry(float(t), float(f), float(x), float(r), conf)
                         for t, f, x, r in zip(market.sec_to_expiry, market.forward, fixed,
                                               market.rate, strict=True))
        return Portfolio(spot=float(market.spot), expiries=expiries, options=tuple(options),
                         perp_position=perp, perp_price=market.perp_price,
                         cash=float(self.cash[row]), spot_confidence=conf,
                         perp_confidence=conf, stable_price=self.stable_price)

    def _scan_block_exact(self, u: int) -> None:
        """Each account of ``u`` by its rule, one at a time (no vectorized twin)."""
        rows = self._rows_of[u]
        if rows.size == 0:
            return
        market = self._markets[u]
        if market is None:
            raise FieldError("market", f"underlying {u} has no market (call set_market)")
        name = None if self.underlying_names is None else self.underlying_names[u]
        out = [np.empty(rows.size) for _ in range(4)]
        col = np.full(rows.size, -1, dtype=np.int64)
        for i, row in enumerate(rows):
            m = evaluate_portfolio(self._account_portfolio(u, int(row), market), self.config,
                                   name)
            out[0][i], out[1][i], out[2][i], out[3][i] = (m.initial, m.maintenance, m.mtm,
                                                           m.worst)
            if m.worst_scenario is not None:
                col[i] = m.worst_scenario
        self._out[u] = (out[0], out[1], out[2], out[3], col)

    def _apply_min_delta(self, u: int, block: _Block, vals: dict[str, FloatArray],
                         market: UnderlyingMarket) -> None:
        """Paradex's minimum-delta requirement: the worst is at most ``-risk``. Net delta
        is linear in positions, gross delta linear in their absolute values."""
        cfg = self._cfg
        md = cfg.min_delta
        assert md is not None
        out = self._out[u]
        assert out is not None
        initial, maintenance, mtm, worst, scenario = out
        net = np.asarray(block.positions @ vals["delta"]).ravel()
        gross = np.asarray(abs(block.positions) @ np.abs(vals["delta"])).ravel()
        hedged = np.maximum(0.0, (gross - np.abs(net)) / 2.0)
        risk = (md.net * np.abs(net) + md.hedged * hedged) * float(market.spot)
        lower = -risk < worst
        new_worst = np.where(lower, -risk, worst)
        shift = new_worst - worst
        self._out[u] = (initial + shift * self._im_factor(), maintenance + shift * cfg.mm_factor,
                        mtm, new_worst, np.where(lower, -1, scenario))

    def _scan_block_numpy(self, u: int, block: _Block, vals: dict[str, FloatArray],
                          market: UnderlyingMarket) -> None:
        cfg = self._cfg
        worst, scenario, basis, mtm_opt = self._block_terms_numpy(block, vals)
        zero_or_basis = np.minimum(basis, 0.0)
        lower = zero_or_basis <= worst
        worst = np.where(lower, zero_or_basis, worst)
        scenario = np.where(lower, -1, scenario)
        spot = float(market.spot)
        mm_cont = spot * block.mm_units
        im_cont = spot * (block.im_units + self._conf_add(market) * block.conf_units)
        mtm = block.cash + mtm_opt
        self._out[u] = (mtm + worst * self._im_factor() - mm_cont - im_cont,
                        mtm + worst * cfg.mm_factor - mm_cont, mtm, worst, scenario)
