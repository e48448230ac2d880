"""The risk book: a columnar mirror of the ledger, and the full and incremental scans.

Layout (see ``docs/scan.md``)::

    accounts   AccountIndex            sorted S<width> ids + two int32 row maps
    assets     AssetVectors            K-vectors: indices, prices, units, LT, LTV, flags;
                                       K + E collateral columns (E: e-mode category assets)
    lending    collateral: SideMatrix  N x (K + E) CSR, float64 scaled supply counted as
                                       collateral (an e-mode account's category assets in
                                       their category's columns)
               debt:       SideMatrix  N x K CSR, float64 scaled debt
    per row    cw, dv  float64         running sums: weighted collateral, debt (base units)
               below   bool            the last scan's (exact) answer

    perps      PerpBlock               per bucket holding perps: row, quote balance, positions
                                       (market, size, funding snapshot); per market: marks,
                                       funding (see :mod:`marginengine.scan.perps`)

A bucket holding perps is screened on its whole margin: lending value plus perp equity
against lending debt plus perp maintenance (:func:`~marginengine.scan.kernels.classify_buckets`),
each side within a proven bound of the engine's exact figures; its band is confirmed by
the engine's bucket rule.

The book mirrors an engine through :meth:`Engine.subscribe` (``when="apply"``: the state as
applied, which its exact confirmation reads, even inside a batch): each accepted event's
:class:`~marginengine.engine.Change` names the accounts, reserves and prices it touched, and
only those rows and vectors are updated. Prices and indices update vectors only; the
running sums catch up at the next scan, touching only the accounts exposed to the assets
whose price or index changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from marginengine.config import ProtocolConfig
from marginengine.engine import Change, Engine
from marginengine.errors import field_path
from marginengine.fixedpoint import PRICE_UNIT, RAY, Rounding
from marginengine.ledger.perp import FUNDING_SCALE
from marginengine.margin.crowding import binned_heatmap_kernel
from marginengine.scan.accounts import AccountIndex
from marginengine.scan.assets import AssetVectors, Weights
from marginengine.scan.confirm import confirm_below, threshold_wad
from marginengine.scan.errors import ScanError
from marginengine.scan.kernels import (
    ANCHOR_MOVE,
    MAX_DRIFT,
    CsrArrays,
    ScreenBounds,
    anchor_coefficients,
    anchor_near,
    bucket_health,
    candidate_coefficients,
    candidate_rows,
    candidates,
    classify_buckets,
    classify_candidates,
    error_after_update,
    fresh_sum_error,
    health,
    matvec_into,
    union_rows,
    update_ratio,
)
from marginengine.scan.kernels import fresh_sum_error as _fresh_sum_error
from marginengine.scan.perps import PerpBlock
from marginengine.scan.sidematrix import SideMatrix

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
AnyIntArray = NDArray[np.integer]
BoolArray = NDArray[np.bool_]

#: Below this many rows the two sides are summed on the calling thread.
PARALLEL_MIN_ROWS = 50_000
#: Above this share of accounts exposed, an incremental scan runs as a full scan (a full
#: scan costs about 3.5 ns per account, an incremental one about 30-40 ns per exposed
#: account, measured by benchmarks/scan.py).
FULL_SCAN_ABOVE = 1 / 10
#: Below this many entries of changed assets, a scan updates the running sums in place
#: (neither a full recompute nor an anchored screen pays for itself).
FULL_SCAN_MIN_WORK = 4096
#: Below this many accounts the anchored screen does not pay for itself (its fixed cost,
#: some 20-40 us a scan, against the full kernel's 3-5 ns per account; at 10,000 accounts
#: it already saves a fifth of a quiet step, benchmarks/simulate.py): scans recompute
#: every running sum.
ANCHOR_MIN_ROWS = 8_192
#: Above this share of accounts in the anchored screen's rows, the book re-anchors (a full
#: recompute streams every row faster than the screen gathers that many).
ANCHOR_MAX_SHARE = 1 / 8
#: Default bin edges of :meth:`RiskBook.health_distribution`.
HEALTH_EDGES = (0.0, 0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, np.inf)

_EMPTY = np.zeros(0, dtype=np.int64)
BPS_F = 10_000.0


@dataclass(frozen=True)
class ScanResult:
    """What a scan found.

    Attributes
    ----------
    mode
        ``"full"`` (every account) or ``"incremental"`` (only the accounts whose health
        could have changed since the last scan).
    threshold
        The health threshold (1: liquidatable).
    screened
        Accounts whose health was recomputed.
    candidates
        Screened accounts not surely above the threshold (passed to the fine screen).
    surely_below
        Accounts below the threshold by a margin larger than any rounding.
    band
        Accounts within the rounding margin, decided by the engine's exact rule.
    below_rows
        Rows found below the threshold among the screened ones (all of them in a full
        scan), sorted by row.
    newly_below, recovered
        Rows that went below, or came back above, since the previous scan.
    below_count
        Accounts below the threshold in the whole book after this scan.
    unconfirmed
        Band rows left undecided because the book has no engine (arrays-only books).
    """

    mode: str
    threshold: Decimal
    screened: int
    candidates: int
    surely_below: int
    band: int
    below_rows: IntArray
    newly_below: IntArray
    recovered: IntArray
    below_count: int
    unconfirmed: IntArray = field(default_factory=lambda: _EMPTY)


@dataclass
class _Anchor:
    """An anchored screen (:meth:`RiskBook._anchored_sync`): the weights the running sums
    were at when it was taken, and the rows it cannot prove to stay off the candidate
    list while every weight stays within :data:`~marginengine.scan.kernels.ANCHOR_MOVE`.

    Attributes
    ----------
    coll, debt
        ``(column, weight)`` at the anchor of every asset held on that side.
    a_env, c_env
        The largest screen coefficients (:func:`candidate_coefficients`) it covers.
    k
        Its :func:`~marginengine.scan.kernels.anchor_coefficients`.
    rows
        The rows recomputed at each anchored sync (sorted): the near rows, the rows below
        and those touched when it was taken; ``extra`` those an event touched since, and
        those with overflow entries (recomputed by :meth:`SideMatrix.subset_sums`).
    member
        Per row, whether it is in ``rows`` or ``extra`` (its running sums are current).
    coll_rows, debt_rows
        ``rows``' base entries of each side, copied as a compact CSR matrix (the same
        entries in the same order, so the kernel gives the same sums bit for bit); an
        event's new values of a row are copied in (:meth:`RiskBook._mirror_account`).
    slot
        Per row, its index in ``rows``, or -1.
    """

    coll: list[tuple[int, float]]
    debt: list[tuple[int, float]]
    a_env: float
    c_env: float
    k: tuple[float, float, float]
    rows: IntArray
    member: BoolArray
    coll_rows: CsrArrays
    debt_rows: CsrArrays
    slot: AnyIntArray
    extra: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class HealthDistribution:
    """Histogram of the float health of every account with debt.

    ``counts[i]`` accounts have health in ``[edges[i], edges[i+1])``; ``no_debt`` accounts
    have no debt; ``quantiles`` maps 0.01, 0.05, 0.25, 0.5, 0.75 to the health there.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    no_debt: int
    quantiles: dict[float, float]


@dataclass(frozen=True)
class PerpArrays:
    """Perp positions and quote balances of an arrays book (:meth:`RiskBook.from_positions`).

    Attributes
    ----------
    rows, markets, sizes
        Per position: the account's index, the perp market's index (markets sorted by
        symbol), the signed size in base smallest units (float64). One entry per
        ``(row, market)``.
    quote_rows, quote
        Perp quote balances: the account's index and the balance in quote smallest units.
    funding
        Per position, the funding index at its last settlement (quote smallest units x
        ``FUNDING_SCALE`` per whole base token); default 0, as the market's.
    isolated_rows
        Accounts that are isolated sub-accounts (display only: each row is a bucket).
    """

    rows: AnyIntArray
    markets: AnyIntArray
    sizes: FloatArray
    quote_rows: AnyIntArray
    quote: FloatArray
    funding: FloatArray | None = None
    isolated_rows: AnyIntArray | None = None

    def load_into(self, block: PerpBlock, n_rows: int) -> None:
        """Lay these arrays out in ``block`` (whole-token floats, vectorized)."""
        markets = np.asarray(self.markets, dtype=np.intp)
        base = np.array(block.base_unit, dtype=np.float64)
        qu = np.array(block.market_quote_unit, dtype=np.float64)
        funding = (np.zeros(len(markets)) if self.funding is None
                   else np.asarray(self.funding, dtype=np.float64) / (qu[markets]
                                                                      * FUNDING_SCALE))
        block.build(np.asarray(self.rows), markets,
                    np.asarray(self.sizes, dtype=np.float64) / base[markets], funding,
                    np.asarray(self.quote_rows),
                    np.asarray(self.quote, dtype=np.float64) / block.quote_unit,
                    np.zeros(0, dtype=np.int64) if self.isolated_rows is None
                    else np.asarray(self.isolated_rows), n_rows)


class RiskBook:
    """Columnar mirror of a lending ledger with vectorized, exactly confirmed scans.

    Build with :meth:`from_engine` (mirrors the engine; scans are exact) or
    :meth:`from_positions` (arrays only, e.g. a synthetic book for benchmarks; band
    accounts are then reported unconfirmed).

    Parameters
    ----------
    config
        The protocol.
    engine
        The engine whose exact rule confirms band accounts, or ``None``.
    threads
        Threads for the full-scan kernel (1 or 2: one per side).
    """

    def __init__(self, config: ProtocolConfig, engine: Engine | None = None,
                 threads: int = 2) -> None:
        self.config = config
        self.engine = engine
        self.assets = AssetVectors(config)
        self.accounts = AccountIndex()
        k = len(self.assets)
        self.collateral = SideMatrix(self.assets.n_coll)
        self.debt = SideMatrix(k)
        self.averaged_threshold = not config.rules.per_asset_factors
        # Whether the engine's debt figures may fall below the float sums (a balance or a
        # value rounded down): then "surely below" needs the debt's downward slack too.
        rules = config.rules
        self._debt_rounds_down = rules.debt_value_rounding is not Rounding.UP \
            or rules.debt_balance_rounding is not Rounding.UP
        self.threads = max(1, min(2, threads))
        self._pool: ThreadPoolExecutor | None = None
        self._n = 0
        self._cw: FloatArray = np.zeros(0)
        self._dv: FloatArray = np.zeros(0)
        self._below: BoolArray = np.zeros(0, dtype=bool)
        self._candidates: tuple[float, IntArray] | None = None
        self._split: tuple[int, int] | None = None
        self._debt_from = 0
        self._below_count = 0
        self._threshold: Decimal | None = None
        self._previous_valid = False
        self._synced: Weights | None = None
        self._err_c = 0.0
        self._err_d = 0.0
        self._dirty: set[int] = set()
        self._pending: list[IntArray] = []
        self._touched: set[int] = set()
        self.perps = PerpBlock(config)
        self._quote_k = self.assets.column.get(self.perps.quote_asset)
        #: Per slot, base-currency units: perp equity, maintenance, their error bound
        #: (``None``: to recompute at the next scan).
        self._perp_figures: tuple[FloatArray, FloatArray, FloatArray] | None = None
        self._perp_rescreen = True
        self._all_pending = True
        self.layouts = 0
        self._bounds: tuple[tuple[float, float, int, int, int], ScreenBounds] | None = None
        self._t_wad: tuple[Decimal, int] | None = None
        #: The anchored screen in force, or ``None`` (see :meth:`_anchored_sync`).
        self._anchor: _Anchor | None = None
        #: Whether only the anchored rows' running sums are at :attr:`_synced` (the other
        #: rows' are at the anchor's weights until :meth:`_materialize`).
        self._lazy = False
        #: Scans whose sums the anchored screen brought up (for benchmarks and tests).
        self.anchored_syncs = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_engine(cls, engine: Engine, subscribe: bool = True, threads: int = 2) -> RiskBook:
        """A book holding the engine's ledger, indices and prices; with ``subscribe``, kept
        in step with every accepted event as it is applied.

        The book listens with ``when="apply"`` (see :meth:`Engine.subscribe`), not after
        the commit: its candidates are confirmed with the engine's exact rule on the
        engine's current state, so within a per-batch log's batch (a simulator step) it
        must mirror that state, not the last committed one, or an account made unhealthy
        by an event of the step would be missed until the step's commit."""
        book = cls(engine.config, engine=engine, threads=threads)
        ledger = engine.ledger
        column = book.assets.column
        for asset, reserve in ledger.reserves.items():
            book.assets.set_indices(column[asset], reserve.liquidity_index,
                                    reserve.borrow_index)
        book.assets.set_prices(engine.prices)
        ids = sorted(ledger.accounts)
        c_rows, c_cols, c_vals, d_rows, d_cols, d_vals = [], [], [], [], [], []
        coll_column = book.assets.coll_column
        for row, account_id in enumerate(ids):
            account = ledger.accounts[account_id]
            for asset, pos in account.lending.items():
                k = column[asset]
                if pos.scaled_supply and ledger.uses_as_collateral(account_id, asset):
                    c_rows.append(row)
                    c_cols.append(coll_column(k, account.emode))
                    c_vals.append(float(pos.scaled_supply))
                if pos.scaled_debt:
                    d_rows.append(row)
                    d_cols.append(k)
                    d_vals.append(float(pos.scaled_debt))
        book._refresh_markets()
        perps = book.perps
        p_rows, p_markets, p_sizes, p_snaps, q_rows, q_vals, iso = [], [], [], [], [], [], []
        for row, account_id in enumerate(ids):
            account = ledger.accounts[account_id]
            if not (account.perps or account.perp_quote):
                continue
            q_rows.append(row)
            q_vals.append(account.perp_quote / perps.quote_unit)
            if "/" in account_id:
                iso.append(row)
            for market, perp in account.perps.items():
                k = perps.column[market]
                p_rows.append(row)
                p_markets.append(k)
                p_sizes.append(perp.size / perps.base_unit[k])
                p_snaps.append(perp.funding_index
                               / (perps.market_quote_unit[k] * FUNDING_SCALE))
        perps.build(np.asarray(p_rows, dtype=np.int64), np.asarray(p_markets, dtype=np.intp),
                    np.asarray(p_sizes, dtype=np.float64),
                    np.asarray(p_snaps, dtype=np.float64), np.asarray(q_rows, dtype=np.int64),
                    np.asarray(q_vals, dtype=np.float64), np.asarray(iso, dtype=np.int64),
                    len(ids))
        book._build(
            ids,
            (np.asarray(c_rows, dtype=np.int64), np.asarray(c_cols, dtype=np.int64),
             np.asarray(c_vals, dtype=np.float64)),
            (np.asarray(d_rows, dtype=np.int64), np.asarray(d_cols, dtype=np.int64),
             np.asarray(d_vals, dtype=np.float64)),
        )
        if subscribe:
            engine.subscribe(book.on_change, when="apply")
        return book

    @classmethod
    def from_positions(
        cls,
        config: ProtocolConfig,
        account_ids: Sequence[str] | NDArray[np.bytes_],
        rows: NDArray[np.integer],
        assets: NDArray[np.integer],
        scaled_supply: FloatArray,
        scaled_debt: FloatArray,
        prices: Mapping[str, int],
        liquidity_index: Mapping[str, int] | None = None,
        borrow_index: Mapping[str, int] | None = None,
        threads: int = 2,
        perps: PerpArrays | None = None,
        emode: NDArray[np.integer] | None = None,
    ) -> RiskBook:
        """A book from position arrays (no engine: band accounts stay unconfirmed).

        ``rows[i]`` indexes ``account_ids`` and ``assets[i]`` the markets sorted by symbol;
        ``scaled_supply`` / ``scaled_debt`` are scaled balances (smallest units at index 1).
        Supply in a market that is not collateral is left out, as the engine leaves it out
        of every health computation. Each ``(row, asset)`` pair appears at most once.
        ``perps`` adds perp positions and quote balances (:class:`PerpArrays`); the perp
        markets' index prices come from ``prices`` (no trade yet: the mark is the index).
        ``emode`` gives each account's Aave e-mode category (one per ``account_ids``
        entry; 0: none), each a category of the protocol.
        """
        book = cls(config, engine=None, threads=threads)
        for symbol, k in book.perps.column.items():
            book.perps.set_market(k, prices.get(symbol, 0))
        if perps is not None:
            perps.load_into(book.perps, len(account_ids))
        for symbol, k in book.assets.column.items():
            li = (liquidity_index or {}).get(symbol, RAY)
            bi = (borrow_index or {}).get(symbol, RAY)
            book.assets.set_indices(k, li, bi)
        book.assets.set_prices(prices)
        supply = np.asarray(scaled_supply, dtype=np.float64)
        debt = np.asarray(scaled_debt, dtype=np.float64)
        in_coll = (supply != 0) & book.assets.collateral[assets]
        in_debt = debt != 0
        coll_cols = np.asarray(assets)[in_coll]
        if emode is not None and len(book.assets.emode_column):
            cats = np.asarray(emode, dtype=np.int64)
            if cats.shape != (len(account_ids),):
                raise ScanError(f"emode: must be {len(account_ids)} category ids, one per "
                                "account")
            known = {0, *(c for c, _ in book.assets.emode_column)}
            bad = sorted(set(np.unique(cats).tolist()) - known)
            if bad:
                raise ScanError(f"emode: unknown e-mode category {bad[0]}")
            held_cats = cats[np.asarray(rows)[in_coll]]
            coll_cols = np.fromiter(
                (book.assets.coll_column(int(k), int(c))
                 for k, c in zip(coll_cols.tolist(), held_cats.tolist(), strict=True)),
                dtype=np.int64, count=len(coll_cols))
        elif emode is not None and np.any(np.asarray(emode) != 0):
            raise ScanError("emode: the protocol has no e-mode categories")
        book._build(
            account_ids,
            (rows[in_coll], coll_cols, supply[in_coll]),
            (rows[in_debt], assets[in_debt], debt[in_debt]),
        )
        return book

    def _build(self, ids: Sequence[str] | NDArray[np.bytes_],
               coll: tuple[AnyIntArray, AnyIntArray, FloatArray],
               debt: tuple[AnyIntArray, AnyIntArray, FloatArray]) -> None:
        self.accounts = AccountIndex(ids)
        self._n = len(self.accounts)
        self._cw = np.zeros(self._n)
        self._dv = np.zeros(self._n)
        self._below = np.zeros(self._n, dtype=bool)
        self._layout(coll, debt)

    def _layout(self, coll: tuple[AnyIntArray, AnyIntArray, FloatArray],
                debt: tuple[AnyIntArray, AnyIntArray, FloatArray]) -> None:
        """Lay both sides out afresh, rows grouped by (collateral, debt) position counts."""
        n = self._n
        c_rows, c_cols, c_vals = coll
        d_rows, d_cols, d_vals = debt
        nc = np.bincount(c_rows[c_vals != 0], minlength=n)
        nd = np.bincount(d_rows[d_vals != 0], minlength=n)
        # Rows without debt first (the scan skips their debt and candidate work), then
        # grouped by (collateral, debt) position counts.
        width = int(nd.max(initial=0)) + 1
        key = (nd > 0) * (int(nc.max(initial=0)) + 1) * width + nc * width + nd
        self._debt_from = int(np.count_nonzero(nd == 0))
        del nc, nd
        order = np.argsort(key, kind="stable")
        del key
        dtype = np.int32 if n < 2**31 - 1 else np.int64
        new_row_of_old: AnyIntArray = np.empty(n, dtype=dtype)
        new_row_of_old[order] = np.arange(n, dtype=dtype)
        del order
        k = len(self.assets)
        self.collateral = SideMatrix.from_coo(new_row_of_old[c_rows], c_cols, c_vals, n,
                                              self.assets.n_coll)
        self.debt = SideMatrix.from_coo(new_row_of_old[d_rows], d_cols, d_vals, n, k)
        self.accounts.relayout(new_row_of_old)
        self._split = None
        self._split_row()
        for name in ("_cw", "_dv", "_below"):
            old = getattr(self, name)[:n]
            new = np.empty_like(old)
            new[new_row_of_old] = old
            setattr(self, name, new)
        self._candidates = None
        self._pending = [new_row_of_old[p].astype(np.int64) for p in self._pending]
        self._touched = {int(new_row_of_old[r]) for r in self._touched}
        self.perps.relayout(new_row_of_old)
        self._anchor = None  # its rows were renumbered; a lazy book materializes on read
        self.layouts += 1

    def relayout(self) -> None:
        """Merge the overflow into the base and regroup rows (done automatically)."""
        self._layout(self.collateral.to_coo(), self.debt.to_coo())

    # ------------------------------------------------------------------ mirroring
    def on_change(self, change: Change) -> None:
        """Apply one accepted event's :class:`Change` (the engine's listener)."""
        engine = self._need_engine()
        column = self.assets.column
        for asset in change.prices:
            k = column.get(asset)  # perp markets have no lending column
            if k is not None and self.assets.set_price(k, engine.prices[asset]):
                self._dirty.add(k)
                if k == self._quote_k:
                    self._perp_changed()
        if len(self.perps):
            # Marks move with trades and index prices, funding with time: read them all
            # (a few markets) rather than infer which an event moved.
            self._refresh_markets()
        for asset, params in change.params.items():
            k = column.get(asset)
            if k is not None and self.assets.set_thresholds(
                    k, params.ltv_bps, params.liquidation_threshold_bps):
                # The asset's weight moved: its holders' sums catch up at the next scan.
                self._dirty.add(k)
        if change.params:
            self.config = engine.config
        if change.perp_params:
            # A perp market's fractions moved: the screen's tier table follows the engine.
            self.config = engine.config
            self.perps.set_schedules(engine.config)
            self._perp_changed()
        for account_id in change.addons:
            row = self.accounts.row(account_id)
            if row is not None:
                self._touched.add(row)  # its requirement moved: rescreen it
        reserves = engine.ledger.reserves
        for asset in change.assets:
            k = column.get(asset)
            if k is None:
                continue
            reserve = reserves[asset]
            if self.assets.set_indices(k, reserve.liquidity_index, reserve.borrow_index):
                self._dirty.add(k)
        for account_id in change.accounts:
            self._mirror_account(account_id)
        if self.collateral.needs_layout() or self.debt.needs_layout():
            self.relayout()

    def set_price(self, asset: str, price: int) -> None:
        """Set an asset's exact price (8 decimals), or a perp market's index price, in a
        book that mirrors no engine (a feed driving an arrays book); the next incremental
        scan rescreens its holders."""
        if self.engine is not None:
            raise ScanError("this book mirrors an engine: apply SetPrice to the engine")
        k = self.assets.column.get(asset)
        m = self.perps.column.get(asset)
        if k is None and m is None:
            raise ScanError(f"unknown asset {asset!r}")
        if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
            raise ScanError(f"price of {asset} must be a positive int (got {price!r})")
        if m is not None:
            p = self.perps
            if p.set_market(m, price, p.last_trade[m], p.basis_ppm[m], p.funding_int[m]):
                self._perp_changed()
            return
        assert k is not None
        if self.assets.set_price(k, price):
            self._dirty.add(k)
            if k == self._quote_k:
                self._perp_changed()

    def _refresh_markets(self) -> None:
        """Read every perp market's index, mark inputs and funding index from the engine."""
        engine = self._need_engine()
        clearing = engine.ledger.clearing.markets
        for symbol, k in self.perps.column.items():
            state = clearing[symbol]
            if self.perps.set_market(k, engine.prices.get(symbol, 0), state.last_trade_price,
                                     state.basis_ema_ppm, state.funding_index):
                self._perp_changed()

    def _perp_changed(self) -> None:
        """A mark, a funding index, the quote price or a bucket moved: recompute the perp
        figures at the next scan and rescreen every bucket holding perps."""
        self._perp_figures = None
        self._perp_rescreen = True

    def _mirror_account(self, account_id: str) -> None:
        engine = self._need_engine()
        ledger = engine.ledger
        column = self.assets.column
        coll: dict[int, float] = {}
        debt: dict[int, float] = {}
        account = ledger.accounts.get(account_id)
        category = account.emode if account else 0
        markets = ledger.config.markets
        for asset, pos in (account.lending.items() if account else ()):
            # ledger.uses_as_collateral, inline (the position is at hand).
            if pos.scaled_supply and pos.use_as_collateral and markets[asset].collateral:
                coll[self.assets.coll_column(column[asset], category)] = float(pos.scaled_supply)
            if pos.scaled_debt:
                debt[column[asset]] = float(pos.scaled_debt)
        row = self.accounts.row(account_id)
        if row is None:
            if account is None:
                return
            row = self._add_row(account_id)
        self.collateral.set_row(row, coll)
        self.debt.set_row(row, debt)
        if len(self.perps):
            self.perps.ensure_rows(row + 1)
            was = self.perps.row_slot[row] >= 0
            positions = [(self.perps.column[m], p.size, p.funding_index)
                         for m, p in sorted(account.perps.items())] if account else []
            now = self.perps.set_bucket(row, account.perp_quote if account else 0, positions,
                                        "/" in account_id)
            if was or now:
                self._perp_figures = None
        if self._synced is not None:
            self._cw[row] = sum(v * self._synced.collateral[k] for k, v in coll.items())
            self._dv[row] = sum(v * self._synced.debt[k] for k, v in debt.items())
        self._touched.add(row)
        if self._anchor is not None:
            self._anchor_touched(row)

    def _anchor_touched(self, row: int) -> None:
        """``row``'s positions moved: the anchor proves nothing of it any more. A row of
        its compact copy whose entries all stay in their base slots gets their new values
        there; any other is recomputed from the book's entries at each anchored sync."""
        anchor = self._anchor
        assert anchor is not None
        i = int(anchor.slot[row]) if row < len(anchor.slot) else -1
        if i >= 0 and not (self.collateral.has_overflow(row) or self.debt.has_overflow(row)):
            for side, part in ((self.collateral, anchor.coll_rows),
                               (self.debt, anchor.debt_rows)):
                lo, hi = int(side.indptr[row]), int(side.indptr[row + 1])
                if hi > lo:
                    start = int(part.indptr[i])
                    part.data[start:start + hi - lo] = side.data[lo:hi]
            return
        if row >= len(anchor.member):
            anchor.member = np.concatenate(
                [anchor.member, np.zeros(len(self._cw) - len(anchor.member), dtype=bool)])
        anchor.member[row] = True
        anchor.extra.add(row)

    def _add_row(self, account_id: str) -> int:
        row = self.accounts.add(account_id)
        self._n = row + 1
        if self._n > len(self._cw):
            size = max(16, 2 * len(self._cw))
            self._cw = np.concatenate([self._cw, np.zeros(size - len(self._cw))])
            self._dv = np.concatenate([self._dv, np.zeros(size - len(self._dv))])
            self._below = np.concatenate([self._below,
                                          np.zeros(size - len(self._below), dtype=bool)])
        self._cw[row] = self._dv[row] = 0.0
        self._below[row] = False
        self.perps.ensure_rows(self._n)
        return row

    def _need_engine(self) -> Engine:
        if self.engine is None:
            raise ScanError("this book has no engine (built from arrays)")
        return self.engine

    # ------------------------------------------------------------------ sizes
    @property
    def n_accounts(self) -> int:
        """Accounts (rows) in the book."""
        return self._n

    def positions(self) -> int:
        """Nonzero account x asset entries (a supply and a debt in one asset count once)."""
        c_rows, c_cols, _ = self.collateral.to_coo()
        d_rows, d_cols, _ = self.debt.to_coo()
        k = len(self.assets)
        c_assets = self.assets.coll_asset[c_cols]  # an e-mode column is its market's
        keys = np.concatenate([c_rows * k + c_assets, d_rows * k + d_cols])
        return len(np.unique(keys))

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held, per component (arrays exactly; small Python bookkeeping estimated)."""
        return {
            "collateral": self.collateral.nbytes(),
            "debt": self.debt.nbytes(),
            "accounts": self.accounts.nbytes(),
            "running_sums": self._cw.nbytes + self._dv.nbytes,
            "below": self._below.nbytes,
            "assets": self.assets.nbytes(),
            "perps": self.perps.nbytes(),
        }

    # ------------------------------------------------------------------ the kernel
    def _split_row(self) -> int:
        """The row ``p`` that balances the kernel's two threads: one computes the
        collateral sums of rows ``0 .. p - 1``, the other the debt sums of every row with
        debt and then the collateral sums of rows ``p ..`` (work: entries plus rows)."""
        n = self.collateral.n_base
        if self._split is None or self._split[0] != n:
            coll = np.diff(self.collateral.indptr).astype(np.int64) + 1
            debt_work = int(self.debt.indptr[-1]) + (n - self._debt_from)
            cum = np.cumsum(coll)
            total = int(cum[-1]) + debt_work if n else 0
            p = int(np.searchsorted(cum, total / 2)) if n else 0
            self._split = (n, min(p, n))
        return self._split[1]

    def _kernel(self, w: Weights, b: ScreenBounds) -> IntArray:
        """Recompute every running sum; return the candidate rows (the full scan's work).

        The base rows' sums (:meth:`_base_sums`, on both threads where the book is large),
        then the candidate pass over them (on both threads likewise), then the other rows
        and overflow entries (:meth:`_rest_sums`), judged apart.
        """
        n_base = self.collateral.n_base
        z = self._debt_from
        cw, dv = self._cw, self._dv
        if self._base_sums(w):
            assert self._pool is not None
            mid = (z + n_base) // 2
            rest = self._pool.submit(candidate_rows, cw, dv, mid, n_base, b)
            found = [candidate_rows(cw, dv, z, mid, b), rest.result()]
        else:
            found = [candidate_rows(cw, dv, z, n_base, b)]
        fix = self._rest_sums(w)
        if len(fix):
            a, c = candidate_coefficients(b)
            found.append(fix[cw[fix] < a * dv[fix] + c])
        return union_rows(found) if len(fix) else np.concatenate(found)

    def _base_sums(self, w: Weights) -> bool:
        """Every base row's running sums at ``w`` (the matrices' base parts); return
        whether it ran on both threads (the book's pool is then up).

        Each thread streams whole ranges of one matrix at a time (SciPy's compiled CSR
        kernel releases the GIL)."""
        n_base = self.collateral.n_base
        z = self._debt_from
        cw, dv = self._cw, self._dv
        coll, debt = self.collateral.arrays(), self.debt.arrays()

        def coll_sums(lo: int, hi: int) -> None:
            matvec_into(coll.indptr[lo:hi + 1], coll.indices, coll.data, w.collateral,
                        cw[lo:hi])

        def debt_then_coll(p: int) -> None:
            dv[:z] = 0.0
            matvec_into(debt.indptr[z:n_base + 1], debt.indices, debt.data, w.debt,
                        dv[z:n_base])
            coll_sums(p, n_base)

        if self.threads > 1 and n_base >= PARALLEL_MIN_ROWS:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan")
            p = self._split_row()
            future = self._pool.submit(debt_then_coll, p)
            coll_sums(0, p)
            future.result()
            return True
        debt_then_coll(0)
        return False

    def _rest_sums(self, w: Weights) -> IntArray:
        """The running sums of the rows beyond the base, and the overflow entries added to
        every row that has some, at ``w`` (after :meth:`_base_sums`); return those rows
        (their sums are not the base kernel's alone)."""
        n, n_base = self._n, self.collateral.n_base
        self._cw[n_base:n] = 0.0
        self._dv[n_base:n] = 0.0
        return union_rows([np.arange(n_base, n, dtype=np.int64),
                           self.collateral.add_overflow(self._cw, w.collateral),
                           self.debt.add_overflow(self._dv, w.debt)])

    def _recompute(self, w: Weights) -> None:
        """Fresh running sums at weights ``w``, and the candidates at the last threshold."""
        self._err_c = self._err_d = self._fresh_error()
        self._synced = w
        self._anchor = None
        self._lazy = False
        t = float(self._threshold) if self._threshold is not None else 1.0
        self._candidates = (t, self._kernel(w, self.bounds(t)))
        self._dirty.clear()
        self._all_pending = True

    def _check_prices(self) -> None:
        if self.perps.buckets and 0 in self.perps.index_int:
            held = self.perps.positions_per_market()
            for k, index in enumerate(self.perps.index_int):
                if not index and held[k]:
                    raise ScanError(f"prices.{self.perps.symbols[k]}: no index price set, and "
                                    f"{int(held[k])} perp position(s) hold it")
        for k, price in enumerate(self.assets.price_int):
            if price:
                continue
            holders = int(np.count_nonzero(self.debt.exposure(k)[1]))
            for j in self.assets.coll_columns[k]:
                holders += int(np.count_nonzero(self.collateral.exposure(j)[1]))
            if holders:
                raise ScanError(
                    f"prices.{self.assets.symbols[k]}: no price set, and {holders} "
                    "position(s) hold it"
                )

    def _fresh_error(self) -> float:
        return fresh_sum_error(max(self.collateral.max_row_entries, self.debt.max_row_entries))

    def sum_error(self) -> tuple[float, float]:
        """Relative error bounds of the running sums ``(collateral, debt)``: a fresh sum's
        rounding, amplified and added to by the incremental updates since."""
        fresh = self._fresh_error()
        return max(fresh, self._err_c), max(fresh, self._err_d)

    def bounds(self, threshold: float, price: FloatArray | None = None,
               amplify: float = 1.0, extra_error: float = 0.0) -> ScreenBounds:
        """The screen's margins at the current (or given float) prices; ``amplify`` and
        ``extra_error`` widen the sums' error for what-if updates on top of them."""
        eps = max(self.sum_error()) * amplify + extra_error
        key = None
        if price is None:
            # The same bounds until a figure of them moves (a scan and the keepers' screen
            # ask for them several times a step).
            key = (threshold, eps, self.assets.version, self.collateral.max_row_entries,
                   self.debt.max_row_entries)
            if self._bounds is not None and self._bounds[0] == key:
                return self._bounds[1]
        a_coll, a_debt = self.assets.unit_values(price)
        rel = 1.0 / self.assets.lt_min_bps if self.averaged_threshold else 0.0
        b = ScreenBounds(
            threshold=threshold,
            eps=eps,
            rel=rel,
            abs_coll=self.collateral.max_row_entries * a_coll + 1.0,
            abs_debt=self.debt.max_row_entries * a_debt,
            abs_debt_low=self.debt.max_row_entries * a_debt if self._debt_rounds_down
            else 0.0,
        )
        if key is not None:
            self._bounds = (key, b)
        return b

    def _sync(self, full_above: float = 1.0) -> None:
        """Bring the running sums to the current weights, O(entries of the changed assets);
        recompute them all instead when those entries exceed ``full_above`` x accounts."""
        w = self.assets.weights()
        if self._synced is None:
            self._recompute(w)
            return
        if self._lazy and not self._dirty:
            return  # the anchored rows are current; the others wait for a read
        dirty = sorted(self._dirty)
        # (side, column) pairs a changed market moves: its debt column and every collateral
        # column of it (its own and its e-mode columns).
        columns = [(self.collateral, j) for k in dirty for j in self.assets.coll_columns[k]]
        columns += [(self.debt, k) for k in dirty]
        work = sum(side.exposure_count(j) for side, j in columns)
        if self._lazy or work > max(FULL_SCAN_MIN_WORK, int(full_above * self._n)):
            if not self._anchored_sync(w):
                self._recompute(w)
            return
        synced = self._synced
        err_c, err_d = self.sum_error()
        for side, k in columns:
            if side is self.collateral:
                sums, new, old = self._cw, w.collateral, synced.collateral
            else:
                sums, new, old = self._dv, w.debt, synced.debt
            rows, vals = side.exposure(k)
            if not len(rows):
                continue
            if new[k] != old[k]:
                sums[rows] += vals * (new[k] - old[k])
                ratio = update_ratio(old[k], new[k])
                if side is self.collateral:
                    err_c = error_after_update(err_c, ratio)
                else:
                    err_d = error_after_update(err_d, ratio)
            self._pending.append(rows)
        self._err_c, self._err_d = err_c, err_d
        self._dirty.clear()
        self._synced = w
        if max(err_c, err_d) > MAX_DRIFT:
            self._recompute(w)

    # ------------------------------------------------------------------ anchored screen
    def _anchored_sync(self, w: Weights) -> bool:
        """Bring the book to weights ``w`` by recomputing only the anchored rows; return
        ``False`` (nothing done) where the anchor does not cover ``w``.

        Where a scan would recompute every running sum (an ``AdvanceTime`` moves every
        index, a price moves every holder), most accounts are far from the threshold and
        the move cannot bring them onto the candidate list: the anchor, taken from the
        running sums at some weights, lists the rows it cannot prove that of
        (:func:`~marginengine.scan.kernels.anchor_near`) while every weight held moves
        by at most :data:`~marginengine.scan.kernels.ANCHOR_MOVE` against the accounts.
        Those rows (and every row an event touched since) are recomputed, bit for bit as
        the full kernel would, and rescreened; the others keep their sums at the
        anchor's weights (:attr:`_lazy`) until a read needs them (:meth:`_materialize`).
        The scan's answer is the full scan's: a row left out is surely not a candidate.
        """
        if (self._n < ANCHOR_MIN_ROWS or self._all_pending or self._threshold is None
                or self.perps.buckets
                or len(self.perps) or self._addon_rows().size):
            return False
        anchor = self._anchor
        if anchor is None:
            if self._lazy:
                return False
            # Taken only where it covers the move at once (a pass over every row).
            assert self._synced is not None
            if not self._covers(*self._held_weights(self._synced), w):
                return False
            anchor = self._anchor = self._take_anchor()
        elif not self._covers(anchor.coll, anchor.debt, w):
            return False
        fresh = self._fresh_error()
        if self._err_c != fresh or self._err_d != fresh:
            # The anchored rows' sums will be fresh, so the screen's error is a fresh one.
            self._err_c = self._err_d = fresh
        a, c = candidate_coefficients(self.bounds(float(self._threshold)))
        if a > anchor.a_env or c > anchor.c_env:
            return False
        rows = anchor.rows
        if len(rows) + len(anchor.extra) > ANCHOR_MAX_SHARE * self._n:
            return False
        if len(rows):
            for sums, part, weights in ((self._cw, anchor.coll_rows, w.collateral),
                                        (self._dv, anchor.debt_rows, w.debt)):
                out = np.zeros(len(rows))
                matvec_into(part.indptr, part.indices, part.data, weights, out)
                sums[rows] = out
            self._pending.append(rows)
        if anchor.extra:
            extra = np.fromiter(anchor.extra, dtype=np.int64, count=len(anchor.extra))
            extra.sort()
            self._cw[extra] = self.collateral.subset_sums(extra, w.collateral)
            self._dv[extra] = self.debt.subset_sums(extra, w.debt)
            self._pending.append(extra)
        self._synced = w
        self._dirty.clear()
        self._lazy = True
        self.anchored_syncs += 1
        return True

    def _held_weights(self, w: Weights) -> tuple[list[tuple[int, float]],
                                                list[tuple[int, float]]]:
        """``(column, weight)`` at ``w`` of every asset held as collateral, and as debt."""
        wc, wd = w.collateral.tolist(), w.debt.tolist()
        return ([(j, wc[j]) for j in range(len(wc)) if self.collateral.exposure_count(j)],
                [(j, wd[j]) for j in range(len(wd)) if self.debt.exposure_count(j)])

    @staticmethod
    def _covers(coll: list[tuple[int, float]], debt: list[tuple[int, float]],
                w: Weights) -> bool:
        """Whether every collateral weight of ``w`` is at least its anchor's over ``1 +
        ANCHOR_MOVE`` and every debt weight at most its anchor's times that (each test
        widened by a relative 1e-12 for its own rounding)."""
        tol = 1.0 + 1e-12
        f = 1.0 + ANCHOR_MOVE
        wc, wd = w.collateral.tolist(), w.debt.tolist()
        return (all(wc[k] * f >= old * tol for k, old in coll)
                and all(wd[k] * tol <= old * f for k, old in debt))

    def _take_anchor(self) -> _Anchor:
        """An anchor at the running sums as they are (every row at :attr:`_synced`)."""
        assert self._synced is not None and self._threshold is not None and not self._lazy
        w = self._synced
        n = self._n
        e_stored = max(self.sum_error())
        # Every row the anchor leaves out holds at most this many entries per side (an
        # event that adds one touches the row, which then joins the anchored rows).
        e_fresh = _fresh_sum_error(max(self.collateral.max_row_entries,
                                       self.debt.max_row_entries))
        a, c = candidate_coefficients(self.bounds(float(self._threshold)))
        a_env, c_env = a * (1.0 + 1e-9), 2.0 * c + 1.0
        k = anchor_coefficients(a_env, c_env, e_stored, e_fresh)
        near = anchor_near(self._cw[:n], self._dv[:n], k)
        # A row without debt stays without (untouched, its debt weights times nothing):
        # never below, whatever its collateral.
        near = near[self._dv[near] > 0]
        rows = union_rows([near, np.flatnonzero(self._below[:n]),
                           np.fromiter(self._touched, dtype=np.int64, count=len(self._touched))])
        member = np.zeros(len(self._cw), dtype=bool)
        member[rows] = True
        # Rows beyond the base or with overflow entries: recomputed from both parts.
        odd_mask = np.zeros(len(self._cw), dtype=bool)
        odd_mask[min(self.collateral.n_base, self.debt.n_base):] = True
        odd_mask[self.collateral.overflow_rows()] = True
        odd_mask[self.debt.overflow_rows()] = True
        odd_mask &= member
        odd = np.flatnonzero(odd_mask)
        if len(odd):
            rows = rows[~odd_mask[rows]]
        coll, debt = self._held_weights(w)
        slot = np.full(len(self._cw), -1, dtype=np.int64)
        slot[rows] = np.arange(len(rows))
        return _Anchor(coll, debt, a_env, c_env, k, rows, member,
                       self.collateral.compact_rows(rows), self.debt.compact_rows(rows),
                       slot, set(odd.tolist()))

    def _materialize(self) -> None:
        """Bring every row's running sums to :attr:`_synced` (after anchored syncs left the
        rows outside the anchor at its weights): the full kernel's sums, without a rescreen
        (the anchor proved those rows off the candidate list)."""
        if not self._lazy:
            return
        w = self._synced
        assert w is not None
        self._base_sums(w)
        self._rest_sums(w)
        self._lazy = False

    # ------------------------------------------------------------------ scans
    def full_scan(self, threshold: object = 1) -> ScanResult:
        """Health of every account from the current prices, screened then confirmed.

        Returns the accounts below ``threshold`` (exactly the engine's answer when the
        book has an engine). Raises :class:`ScanError` if an asset held has no price.
        """
        t_wad = threshold_wad(threshold)
        t = Decimal(str(threshold))
        self._check_prices()
        self._previous_valid = self._threshold == t
        self._threshold = t
        self._recompute(self.assets.weights())
        self._perp_figures = None
        return self._screen_all(t, t_wad)

    def incremental_scan(self, threshold: object | None = None,
                         full_above: float = FULL_SCAN_ABOVE) -> ScanResult:
        """Rescreen only the accounts whose health may have changed since the last scan:
        those holding an asset whose price or index changed, and those an event touched.

        Its cost is proportional to the entries of the changed assets (about 30-40 ns per
        exposed account). It runs a full scan instead on the first call, when the
        threshold changes, when the changed assets' entries exceed ``full_above`` times
        the accounts (a full scan is cheaper then; an ``AdvanceTime`` changes every
        index), or when the running sums' error bound has grown past
        :data:`~marginengine.scan.kernels.MAX_DRIFT`.
        """
        if self._threshold is None or (threshold is not None
                                       and Decimal(str(threshold)) != self._threshold):
            return self.full_scan(1 if threshold is None else threshold)
        t = self._threshold
        if self._t_wad is None or self._t_wad[0] != t:
            self._t_wad = (t, threshold_wad(t))  # parsed once per threshold
        t_wad = self._t_wad[1]
        if self._dirty:
            self._check_prices()
        self._sync(full_above)
        if self._all_pending:
            self._previous_valid = True
            return self._screen_all(t, t_wad)
        perp_all = self._perp_rescreen and self.perps.buckets > 0
        rows = union_rows([*self._pending,
                           self.perps.rows()[0] if perp_all else _EMPTY,
                           np.fromiter(self._touched, dtype=np.int64, count=len(self._touched))])
        self._pending = []
        self._touched.clear()
        b = self.bounds(float(t))
        at = rows[candidates(self._cw[rows], self._dv[rows], b)]
        addon_rows = self._addon_rows()
        if len(addon_rows):
            at = union_rows([at, addon_rows[np.isin(addon_rows, rows)]])
        at, decided, sure, band, unconfirmed = self._judge(
            at, b, t_wad, None if perp_all else rows)
        below = np.zeros(len(rows), dtype=bool)
        below[np.searchsorted(rows, at)] = decided
        was = self._below[rows]
        newly = rows[below & ~was]
        recovered = rows[~below & was]
        self._below[rows] = below
        self._below_count += len(newly) - len(recovered)
        self._perp_rescreen = False
        return ScanResult(
            "incremental", t, len(rows), len(at), int(np.count_nonzero(sure)),
            int(np.count_nonzero(band)), rows[below], newly, recovered, self._below_count,
            unconfirmed,
        )

    def _screen_all(self, t: Decimal, t_wad: int) -> ScanResult:
        n = self._n
        b = self.bounds(float(t))
        cw, dv = self._cw[:n], self._dv[:n]
        if self._candidates is not None and self._candidates[0] == float(t):
            idx = self._candidates[1]
        else:
            idx = candidates(cw, dv, b)
        self._candidates = None
        addon_rows = self._addon_rows()
        if len(addon_rows):
            idx = union_rows([idx, addon_rows])
        idx, below, sure, band, unconfirmed = self._judge(idx, b, t_wad)
        below_rows = idx[below]
        mask = self._below
        if self._previous_valid:
            was = mask[below_rows]
            newly = below_rows[~was]
            if self._below_count - int(np.count_nonzero(was)):
                mask[below_rows] = False
                recovered = np.flatnonzero(mask[:n])
                mask[recovered] = False
            else:
                recovered = _EMPTY
        else:
            mask[:n] = False
            newly, recovered = below_rows, _EMPTY
        mask[below_rows] = True
        self._below_count = len(below_rows)
        self._threshold = t
        self._pending = []
        self._touched.clear()
        self._all_pending = False
        self._perp_rescreen = False
        return ScanResult(
            "full", t, n, len(idx), int(np.count_nonzero(sure)), int(np.count_nonzero(band)),
            below_rows, newly, recovered, len(below_rows), unconfirmed,
        )

    def crowding_addon(self, asset: str, base_reserve: float, bonus_bps: int,
                       fee_bps: int = 0, bin_bps: int = 1) -> NDArray[np.int64]:
        """The crowding add-on of every row (ppm, rounded up) on ``asset``'s heatmap against
        a constant-product venue of ``base_reserve`` smallest units at the current price
        (docs/margin.md section 5), by the binned kernel
        (:func:`~marginengine.margin.crowding.binned_heatmap_kernel`, never below the
        sorted one).

        A multi-asset account's liquidation price in ``asset`` holds its other positions
        at their prices: its collateral is its ``asset`` amount, and its debt the part of
        its debt that its other weighted collateral does not cover (``dv - (cw - w_asset)``);
        rows that the other collateral covers, or that hold none of ``asset``, get 0.
        Uses the running sums as of the last scan (run one first).
        """
        k = self.assets.column.get(asset)
        if k is None:
            raise ScanError(f"unknown asset {asset!r}")
        self._materialize()
        n = self._n
        # Every collateral column of the asset (e-mode accounts at their category's LT).
        parts = [(*self.collateral.exposure(j), float(self.assets.coll_lt_bps[j]))
                 for j in self.assets.coll_columns[k]]
        rows = np.concatenate([p[0] for p in parts]).astype(np.int64)
        vals = np.concatenate([p[1] for p in parts])
        lts = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
        out = np.zeros(n, dtype=np.int64)
        if not len(rows):
            return out
        price = self.assets.price[k]
        amount = vals * self.assets.liquidity_index[k]
        weighted = amount * (price / self.assets.unit[k]) * (lts / BPS_F)
        uncovered = self._dv[rows] - (self._cw[rows] - weighted)
        heat = binned_heatmap_kernel(
            amount, uncovered, lts, base_unit=float(self.assets.unit[k]),
            base_reserve=base_reserve, price=price, bonus_bps=bonus_bps, fee_bps=fee_bps,
            bin_bps=bin_bps)
        out[rows] = np.ceil(heat.addon_ppm).astype(np.int64)
        return out

    def adaptive_scan(self, addon_ppm: NDArray[np.integer] | None = None,
                      threshold: object = 1) -> ScanResult:
        """A full scan with the adaptive requirements: the per-asset weights in force (the
        thresholds that ``SetRiskParams`` or the direct adaptive mode set this tick, see
        :meth:`on_change`) and a per-account add-on raising each requirement by
        ``addon_ppm[row]`` (the crowding add-on, ppm), screened in float and confirmed
        exactly by :meth:`AccountMarginModel.is_below_with_addon`.

        The screen scales each debt sum by ``1 + addon / 1e6`` (one float multiply, within
        a few ulps, added to the error bound); the exact rule rounds the raised
        requirement up. Books with perp buckets are refused (their add-on is not defined).
        The book's below set is not changed: this answers "who is below with the add-on".
        """
        if self.perps.buckets:
            raise ScanError("adaptive_scan: books holding perps are not supported")
        t_wad = threshold_wad(threshold)
        t = float(Decimal(str(threshold)))
        self._check_prices()
        n = self._n
        if addon_ppm is None:
            addon = np.zeros(n, dtype=np.int64)
        else:
            addon = np.asarray(addon_ppm)
            if addon.shape != (n,) or (n and int(addon.min()) < 0):
                raise ScanError(f"addon_ppm: must be {n} non-negative ints, one per row")
        self._recompute(self.assets.weights())  # fresh sums at the weights in force
        cw = self._cw[:n]
        dv = self._dv[:n] * (1.0 + addon / 1e6)
        # Two roundings (the quotient and the product) of a relative 2^-53 each.
        b = self.bounds(t, extra_error=4.0 * 2.0**-52)
        idx = candidates(cw, dv, b)
        sure, band = classify_candidates(cw[idx], dv[idx], b)
        below = sure.copy()
        band_at = np.flatnonzero(band)
        unconfirmed = _EMPTY
        if len(band_at):
            if self.engine is None:
                unconfirmed = idx[band_at]
            else:
                engine = self.engine
                valuation = engine.valuation()
                model, ledger = engine.margin_model, engine.ledger
                rows = idx[band_at]
                flags = [model.is_below_with_addon(ledger, valuation, a, int(addon[r]), t_wad)
                         for a, r in zip(self.accounts.ids(rows), rows.tolist(), strict=True)]
                below[band_at] = np.asarray(flags, dtype=bool)
        below_rows = idx[below]
        return ScanResult("adaptive", Decimal(str(threshold)), n, len(idx),
                          int(np.count_nonzero(sure)), int(np.count_nonzero(band)), below_rows,
                          _EMPTY, _EMPTY, len(below_rows), unconfirmed)

    def perp_figures(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per perp slot, in base-currency units (float): the perp equity, the perp
        maintenance requirement and a bound on each one's distance from the exact figure
        (the slots of rows: ``book.perps.row_slot``)."""
        if self._perp_figures is None:
            self._perp_figures = self._perp_usd(None, None)
        return self._perp_figures

    def quote_price(self, price: FloatArray | None = None) -> float:
        """The perp quote asset's price (base-currency units per whole token), as the
        engine's bucket takes it: the quote asset's price, one dollar while it has none."""
        k = self._quote_k
        p = self.assets.price if price is None else price
        return float(p[k]) if k is not None and p[k] > 0 else float(PRICE_UNIT)

    def perp_figures_at(self, mark: FloatArray, price: FloatArray) -> tuple[
            FloatArray, FloatArray, FloatArray]:
        """:meth:`perp_figures` at other (float) marks per perp market and prices per
        asset (what-if)."""
        return self._perp_usd(mark, price)

    def _perp_usd(self, mark: FloatArray | None, price: FloatArray | None) -> tuple[
            FloatArray, FloatArray, FloatArray]:
        equity, maintenance, slack = self.perps.evaluate(mark)
        qp = self.quote_price(price)
        # the conversion to base units rounds once each way (one unit), and its product
        # a few ulps (inside the slack's relative part, which is far larger)
        return equity * qp, maintenance * qp, slack * qp + 2.0

    def perp_screen(self, rows: IntArray | None, b: ScreenBounds,
                    figures: tuple[FloatArray, FloatArray, FloatArray] | None = None,
                    cw: FloatArray | None = None, dv: FloatArray | None = None,
                    ) -> tuple[IntArray, BoolArray, BoolArray]:
        """Screen the buckets holding perps among ``rows`` (sorted; ``None``: all of them)
        on their whole margin; return ``(rows, surely_below, band)`` of those not surely
        above. ``figures``, ``cw``, ``dv`` (aligned with ``rows``) override the current
        perp figures and lending sums (what-if)."""
        identity = False
        if rows is None:  # every bucket, in slot order (the caller sorts the few kept)
            slots = self.perps.live_slots()
            rows = self.perps.slot_row[slots]
            identity = len(slots) == self.perps.n_slots
        else:
            slots = self.perps.slots_of(rows).astype(np.int64)
            mine = slots >= 0
            rows, slots = rows[mine], slots[mine]
            if cw is not None and dv is not None:
                cw, dv = cw[mine], dv[mine]
        pe, pm, slack = self.perp_figures() if figures is None else figures
        c = self._cw[rows] if cw is None else cw
        d = self._dv[rows] if dv is None else dv
        npos = self.perps.npos[: self.perps.n_slots]
        if not identity:  # (every slot, in order: no gather)
            pe, pm, slack, npos = pe[slots], pm[slots], slack[slots], npos[slots]
        has_req = (npos > 0) | (d > 0)
        sure, band = classify_buckets(c, d, pe, pm, slack, has_req, b)
        if not self.perps.screened:  # several quote assets: the engine decides them all
            band = has_req.copy()
            sure[:] = False
        keep = sure | band
        return rows[keep], sure[keep], band[keep]

    def _judge(self, at: IntArray, b: ScreenBounds, t_wad: int,
               perp_rows: IntArray | None = None) -> tuple[
            IntArray, BoolArray, BoolArray, BoolArray, IntArray]:
        """Decide the sorted lending candidates ``at`` and the buckets holding perps among
        ``perp_rows`` (sorted; ``None``: every one).

        Rows with perps are judged on their whole bucket (:meth:`perp_screen`), the rest on
        the lending screen. Returns ``(rows, below, surely_below, band, unconfirmed)``.
        """
        if not len(at) and not self.perps.buckets:
            none = np.zeros(0, dtype=bool)  # a quiet step: nothing to judge
            return at, none, none, none, _EMPTY
        if self.perps.buckets:
            at = at[self.perps.slots_of(at) < 0]
        sure, band = classify_candidates(self._cw[at], self._dv[at], b)
        if self.perps.buckets:
            p_at, p_sure, p_band = self.perp_screen(perp_rows, b)
            if len(p_at):
                rows = np.concatenate([at, p_at])
                order = np.argsort(rows, kind="stable")
                at = rows[order]
                sure = np.concatenate([sure, p_sure])[order]
                band = np.concatenate([band, p_band])[order]
        addon_rows = self._addon_rows()
        if len(addon_rows):
            # The float screen does not raise these rows' requirements by their crowding
            # add-on: the engine decides each one that is not surely below already.
            band = band | (np.isin(at, addon_rows) & ~sure)
        below, unconfirmed = self._decide(at, sure, band, t_wad)
        return at, below, sure, band, unconfirmed

    def _addon_rows(self) -> IntArray:
        """Rows of the accounts the mirrored engine gives a crowding add-on (``SetCrowding``),
        sorted; empty without an engine or add-ons."""
        addons = self.engine.state.addons if self.engine is not None else {}
        if not addons:
            return _EMPTY
        rows = [r for a in addons if (r := self.accounts.row(a)) is not None]
        return np.unique(np.asarray(rows, dtype=np.int64))

    def _decide(self, rows: IntArray, sure: BoolArray, band: BoolArray,
                t_wad: int) -> tuple[BoolArray, IntArray]:
        """Below flags for ``rows``: the surely below, plus the band as the engine decides."""
        below = sure.copy()
        band_at = np.flatnonzero(band)
        if not len(band_at):
            return below, _EMPTY
        if self.engine is None:
            return below, rows[band_at]
        flags = confirm_below(self.engine, self.accounts.ids(rows[band_at]), t_wad)
        below[band_at] = np.asarray(flags, dtype=bool)
        return below, _EMPTY

    # ------------------------------------------------------------------ reads
    def perp_rows(self) -> set[int]:
        """Rows of buckets holding perps (positions or a perp quote balance)."""
        return {int(r) for r in self.perps.rows()[0]}

    def below_rows(self) -> IntArray:
        """Rows below the threshold as of the last scan, sorted."""
        return np.flatnonzero(self._below[: self._n])

    def below_accounts(self) -> list[str]:
        """Ids of the accounts below the threshold as of the last scan, sorted by id."""
        return sorted(self.accounts.ids(self.below_rows()))

    def sums(self, rows: IntArray | None = None) -> tuple[FloatArray, FloatArray]:
        """Weighted collateral and debt (base-currency units, float) at current prices,
        of every account (or of ``rows``).

        Raises
        ------
        ScanError
            ``rows`` as :meth:`health` refuses it (one check, :meth:`checked_rows`).
        """
        if rows is not None:
            # Checked before the anchor's membership test, which a row past the end would
            # fail with an IndexError and a negative row would pass as another account.
            rows = self.checked_rows(rows)
        if self._synced is None or self._dirty:
            self._sync()
        if self._lazy and (rows is None or self._anchor is None
                           or not self._anchor.member[rows].all()):
            self._materialize()
        if rows is None:
            return self._cw[: self._n].copy(), self._dv[: self._n].copy()
        return self._cw[rows], self._dv[rows]

    def health(self, rows: IntArray | None = None) -> FloatArray:
        """Float health of every account (or of ``rows``); ``inf`` without debt. A bucket
        holding perps: (lending value + perp equity) / (debt + perp maintenance).

        Raises
        ------
        ScanError
            ``rows: ...`` if ``rows`` is not a one-dimensional array of integer row
            indices; ``rows.N: ...`` naming its entry ``N`` if that is not a row the book
            holds (numpy would wrap a negative one to another account).
        """
        if rows is not None:
            rows = self.checked_rows(rows)
        cw, dv = self.sums(rows)
        out = health(cw, dv)
        if self.perps.buckets:
            at = np.arange(self._n) if rows is None else np.asarray(rows, dtype=np.int64)
            slots = self.perps.slots_of(at).astype(np.int64)
            mine = np.flatnonzero(slots >= 0)
            if len(mine):
                pe, pm, _ = self.perp_figures()
                s = slots[mine]
                out[mine] = bucket_health(cw[mine], dv[mine], pe[s], pm[s])
        return out

    def checked_rows(self, rows: AnyIntArray) -> IntArray:
        """``rows`` as int64 row indices, each one of the book's rows: the one check of
        the ``rows`` that :meth:`sums`, :meth:`health` and :meth:`account_values` take.

        Raises
        ------
        ScanError
            ``rows: ...`` if ``rows`` is not a one-dimensional array of integer row
            indices; ``rows.N: ...`` naming its entry ``N`` if that is not a row the book
            holds (numpy would wrap a negative one to another account).
        """
        at = np.asarray(rows)
        if at.ndim != 1 or (at.size and at.dtype.kind not in "iu"):
            raise ScanError(f"rows: must be a one-dimensional array of integer row indices "
                            f"(got shape {at.shape}, dtype {at.dtype})")
        out = at.astype(np.int64)
        bad = np.flatnonzero((out < 0) | (out >= self._n))
        if len(bad):
            held = f"rows 0 to {self._n - 1}" if self._n else "no rows"
            raise ScanError(f"{field_path('rows', int(bad[0]))}: {int(out[bad[0]])} is not a "
                            f"row of this book (it holds {held})")
        return out

    def health_distribution(self, edges: Sequence[float] = HEALTH_EDGES,
                            exclude: IntArray | None = None) -> HealthDistribution:
        """Histogram and quantiles of the float health of the accounts with debt; rows in
        ``exclude`` are left out entirely (neither binned nor counted as without debt:
        a caller that counts those accounts by another figure adds them itself)."""
        h = self.health()
        if exclude is not None and len(exclude):
            h = np.delete(h, exclude)
        finite = h[np.isfinite(h)]
        bins = np.asarray(edges, dtype=np.float64)
        at = np.searchsorted(bins, finite, side="right") - 1
        inside = (at >= 0) & (at < len(bins) - 1)
        counts = np.bincount(at[inside], minlength=len(bins) - 1)
        qs = (0.01, 0.05, 0.25, 0.5, 0.75)
        values = np.quantile(finite, qs) if len(finite) else np.full(len(qs), np.nan)
        return HealthDistribution(
            tuple(float(e) for e in edges), tuple(int(c) for c in counts),
            int(len(h) - len(finite)), {q: float(v) for q, v in zip(qs, values, strict=True)},
        )

    def health_quantiles(self, qs: Sequence[float]) -> tuple[float, ...]:
        """Quantiles ``qs`` of the float health of the accounts with debt (NaN without
        any): the values :meth:`health_distribution` reports for them (the same linear
        interpolation of the same order statistics), without its histogram."""
        h = self.health()
        finite = h[np.isfinite(h)]
        if not len(finite):
            return tuple(math.nan for _ in qs)
        return tuple(float(v) for v in np.quantile(finite, list(qs)))

    def account_values(self, rows: IntArray) -> dict[str, FloatArray]:
        """Float USD figures of ``rows``: collateral, weighted collateral, debt, health.

        Raises
        ------
        ScanError
            ``rows`` as :meth:`health` refuses it (one check, :meth:`checked_rows`).
        """
        rows = self.checked_rows(rows)
        cw, dv = self.sums(rows)
        w = self.assets.weights()
        raw = self.collateral.subset_sums(rows, w.raw_collateral)
        return {
            "collateral": raw / PRICE_UNIT,
            "weighted_collateral": cw / PRICE_UNIT,
            "debt": dv / PRICE_UNIT,
            "health": health(cw, dv),
        }

    def mirror_state(self) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
        """Every account's nonzero scaled balances, ``{id: (collateral, debt)}`` by symbol
        (``SYMBOL@N`` for collateral held in e-mode category ``N``), for comparing a mirror
        with a rebuild."""
        out: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        symbols, labels = self.assets.symbols, self.assets.coll_label
        for row in range(self._n):
            # an e-mode column is labelled SYMBOL@category
            coll = {labels[k]: v for k, v in self.collateral.row_items(row)}
            debt = {symbols[k]: v for k, v in self.debt.row_items(row)}
            out[self.accounts.id(row)] = (coll, debt)
        return out

    def perp_state(self) -> dict[str, tuple[float, dict[str, tuple[float, float]]]]:
        """Every bucket's perp quote balance and positions, ``{id: (quote, {market: (size,
        funding snapshot)})}`` in whole tokens (for comparing a mirror with a rebuild)."""
        p = self.perps
        out: dict[str, tuple[float, dict[str, tuple[float, float]]]] = {}
        rows, slots = p.rows()
        index = {int(s): self.accounts.id(int(r)) for r, s in zip(rows, slots, strict=True)}
        for s, account_id in index.items():
            out[account_id] = (float(p.quote[s]), {})
        for i in np.flatnonzero(p.p_size[: p.n_pos] != 0).tolist():
            account_id = index[int(p.p_slot[i])]
            out[account_id][1][p.symbols[int(p.p_market[i])]] = (float(p.p_size[i]),
                                                                 float(p.p_snapshot[i]))
        return out

    def close(self) -> None:
        """Stop the kernel's helper thread, if any."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
