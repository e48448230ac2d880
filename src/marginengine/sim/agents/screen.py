"""The step's shared screen of the accounts a lending keeper could liquidate (see
:mod:`marginengine.sim.agents.lending_keeper`, whose docstring says what it proves)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import compress
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.engine import Change, Engine, Liquidate
from marginengine.engine.events import RESERVE_CONFIG_EVENT_CLASSES
from marginengine.fixedpoint import BPS, PRICE_UNIT, WAD
from marginengine.liquidation import (
    CloseFactorInputs,
    CloseFactorPlan,
    PlanBounds,
    first_offer,
    rule_integers,
)
from marginengine.margin.emode import liquidation_bonus_bps
from marginengine.scan import RiskBook
from marginengine.scan.kernels import ScreenBounds, above_with_debt

if TYPE_CHECKING:  # pragma: no cover - types only
    from marginengine.sim.markets import AssetMarket, SaleState

#: Relative widening of the screen's bound beyond the book's own error bound (the bound's
#: own few float operations).
SCREEN_REL = 1e-9

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_Inputs = tuple[str, str, CloseFactorInputs]
_Offer = tuple[int, PlanBounds, CloseFactorPlan | None]


class LendingScreen:
    """What every lending keeper of a step shares (see the module docstring).

    Parameters
    ----------
    engine
        The run's engine (the screen subscribes to its changes).
    book
        The run's risk book, mirrored from the engine.
    """

    def __init__(self, engine: Engine, book: RiskBook) -> None:
        self.engine = engine
        self.book = book
        #: :meth:`_market_factors` and :meth:`_unit_slack`'s units, with the configuration
        #: object they were read from.
        self._factors: tuple[ProtocolConfig, list[tuple[str, float, float]]] | None = None
        self._units: tuple[ProtocolConfig, list[tuple[str, int]]] | None = None
        self._per_debt, self._per_coll = self._shares({})
        self.step = -1
        #: Exact liquidation plans computed by keepers (first offers and ladders); the
        #: handler's own plan of each ``Liquidate`` is counted by the keeper too.
        self.exact_plans = 0
        self._bound: dict[str, float] = {}
        #: The same bounds as ids and an array (for :meth:`unpayable`), and its answers.
        self._bound_rows: tuple[list[str], FloatArray] = ([], np.zeros(0))
        self._unpayable: dict[float, frozenset[str]] = {}
        self._stale = False
        self._touched: set[str] = set()
        self._inputs: dict[str, _Inputs | None] = {}
        self._offers: dict[str, _Offer] = {}
        self._indices: dict[str, tuple[int, int]] = {}
        self._mids: dict[str, int] = {}
        #: This step's ladders that paid nothing, per account: the gas, minimum profit and
        #: capital they were asked with and the venue's state then (see
        #: :meth:`refusal_holds`).
        self._refusals: dict[str, tuple[float, float, float | None, SaleState]] = {}
        #: Whether the book's below set is the engine's rule at this step's state (set by
        #: :meth:`begin`): then an account in it, untouched since, needs no exact check.
        self._below_exact = False
        #: Exact liquidatability checks skipped that way (for the benchmark's counts).
        self.checks_skipped = 0
        #: Liquidatable accounts left alone because their liquidation is refused now
        #: whatever the amount (:meth:`inputs`).
        self.paused_skips = 0
        # At apply, not at commit: within a step (one batch of a per-batch log) the cached
        # reads must follow the engine's current state, as the risk book does.
        engine.subscribe(self._on_change, when="apply")

    def _on_change(self, change: Change) -> None:
        if change.params or not isinstance(change.outcome.event, Liquidate):
            # Only a liquidation (its accounts touched, its reserves' rates moved) leaves
            # the other accounts' liquidatability as the scan found it.
            self._below_exact = False
        for account in change.accounts:
            self._touched.add(account)
            self._inputs.pop(account, None)
            self._offers.pop(account, None)
            self._refusals.pop(account, None)
        if change.params:
            self._refusals.clear()  # the rule's parameters moved: decide afresh
        if isinstance(change.outcome.event, RESERVE_CONFIG_EVENT_CLASSES):
            # A reserve paused, frozen, deactivated or put in a grace period: every
            # account's liquidation may be allowed or refused afresh.
            self._inputs.clear()
            self._offers.clear()
            self._refusals.clear()
        moved = bool(change.prices)
        if not moved:
            # A plain loop (no generator): this runs after every event.
            indices = self._indices
            for a, r in change.assets.items():
                if indices.get(a) != (r.liquidity_index, r.borrow_index):
                    moved = True
                    break
        if moved and self.step >= 0:
            # A price or an index moved within the step: every cached read is stale.
            self._stale = True
            self._inputs.clear()
            self._offers.clear()
            self._refusals.clear()

    def _market_factors(self) -> list[tuple[str, float, float]]:
        """Per collateral bonus (each market's, and an e-mode category's for its
        collateral: the bonus an account in the category gives,
        :func:`~marginengine.margin.emode.liquidation_bonus_bps`): ``(asset, bonus,
        keep)``, the bonus as a factor and what a liquidator keeps of it after the
        protocol's fee, ``bonus x (1 - fee share x (1 - 1 / bonus))``.

        Read once per configuration object: they depend on nothing else, the engine
        replaces its (frozen) configuration whenever a parameter moves, and the
        properties parse Decimals (two per market, every step, before)."""
        config = self.engine.config
        cached = self._factors
        if cached is not None and cached[0] is config:
            return cached[1]
        bonuses = [(a, m, m.liquidation_bonus_bps) for a, m in config.markets.items()]
        for category in (config.emode.categories.values() if config.emode else ()):
            bonuses += [(a, config.markets[a], liquidation_bonus_bps(config.markets[a], a,
                                                                     category))
                        for a in category.collateral]
        factors = []
        for asset, market, bonus_bps in bonuses:
            bonus = bonus_bps / BPS
            if bonus <= 0:
                continue
            keep = bonus * (1 - market.liquidation_protocol_fee_bps / BPS * (1 - 1 / bonus))
            factors.append((asset, bonus, keep))
        self._factors = (config, factors)
        return factors

    def _shares(self, mids: Mapping[str, int]) -> tuple[float, float]:
        """The largest share of a liquidation a liquidator keeps with its collateral valued
        at the keepers' price (the oracle's, or a venue's mid if lower: ``mids``): per
        unit of debt repaid, ``(bonus x (1 - fee share) x price / oracle) - 1``, and per
        unit of collateral taken, that over the bonus; over every collateral market, so
        it bounds any pair."""
        prices = self.engine.prices
        per_debt, per_coll = 0.0, 0.0
        for asset, bonus, keep in self._market_factors():
            oracle = prices.get(asset, 0)
            ratio = min(1.0, mids[asset] / oracle) if asset in mids and oracle > 0 else 1.0
            share = max(0.0, keep * ratio * (1 + SCREEN_REL) - 1)
            per_debt = max(per_debt, share)
            per_coll = max(per_coll, share / bonus)
        return per_debt, per_coll

    def begin(self, step: int, mids: Mapping[str, int] | None = None,
              scan_seq: int | None = None) -> None:
        """Start ``step``: bound every account below the threshold at the last scan, with
        collateral valued at the lower of its oracle and its venue's mid (``mids``, per
        asset sold on a venue; selling within the step only lowers them).

        ``scan_seq``: the engine's event count when the book's last scan (at threshold 1,
        every band account confirmed by the engine) ended, or ``None``. When no event has
        been applied since, the book's below set *is* the engine's liquidation rule at
        the current state (the scan's surely-below accounts are proven by its error
        bounds, its band decided by the rule itself), so :meth:`inputs` takes an
        account in it as liquidatable without asking again, until an event touches the
        account or moves a price or an index.
        """
        self.step = step
        self._below_exact = scan_seq is not None and scan_seq == self.engine.seq
        self._mids = dict(mids or {})
        self._per_debt, self._per_coll = self._shares(self._mids)
        self._stale = False
        self._touched.clear()
        self._inputs.clear()
        self._offers.clear()
        self._refusals.clear()
        self._indices = {a: (r.liquidity_index, r.borrow_index)
                         for a, r in self.engine.ledger.reserves.items()}
        self._unpayable = {}
        book = self.book
        rows = book.below_rows()
        if not len(rows):
            self._bound = {}
            self._bound_rows = ([], np.zeros(0))
            return
        cw, debt = book.sums(rows)
        raw = book.collateral.subset_sums(rows, book.assets.weights().raw_collateral)
        b = book.bounds(1.0)
        eps = 2 * b.eps + SCREEN_REL
        slack = 4 * (b.abs_coll + b.abs_debt) + 1.0
        debt_hi = debt * (1 + eps) + slack
        coll_hi = raw * (1 + eps) + slack
        # The most debt one liquidation may repay, as a share of the account's debt: the
        # close factor where the rule is proven to cap it, else all of it.
        cap = self._close_factor_share(rows, cw, debt, raw, eps, slack, b)
        # Base units (8 decimals) to USD, widened once more, plus a few smallest units of
        # any asset for the plan's own roundings.
        bound = np.minimum(self._per_debt * (debt_hi * cap + 2.0), self._per_coll * coll_hi)
        bound = bound * (1 + SCREEN_REL) / PRICE_UNIT + self._unit_slack()
        ids = book.accounts.ids(rows)
        self._bound = dict(zip(ids, bound.tolist(), strict=True))
        self._bound_rows = (ids, bound)

    def _close_factor_share(self, rows: IntArray, cw: FloatArray, debt: FloatArray,
                            raw: FloatArray, eps: float, slack: float,
                            at_one: ScreenBounds) -> FloatArray:
        """Per row, a share of its debt value that no liquidation of it may exceed: the
        close factor (50%) where the rule (:func:`~marginengine.liquidation.close_factor.
        max_liquidatable_debt`) surely applies it, else 1.

        Proven only for an account of one collateral and one debt position (so the
        liquidated pair's values are the account's totals) outside any perp bucket, whose
        health is surely above the close-factor threshold (the scan's own bounds at that
        threshold, a little raised so the rule's strict ``>`` holds) and whose debt and
        collateral are both surely worth at least the rule's minimum: then the cap is
        ``close factor x total debt`` (rounded half up: the caller adds two base units).
        """
        out = np.ones(len(rows))
        engine, book = self.engine, self.book
        rules = engine.config.aave
        if engine.rules.liquidation is not LiquidationMechanism.CLOSE_FACTOR \
                or book.perps.buckets or not len(rows):
            return out
        single = (book.collateral.slot_counts(rows) <= 1) & (book.debt.slot_counts(rows) <= 1)
        ints = rule_integers(rules)  # the rule's own integers, read once per rules object
        t = ints.close_factor_hf_wad / WAD * (1 + 1e-9)
        # Surely above t by the book's bounds: those at 1 (``at_one``, the same state) at
        # threshold t (no other figure of them depends on it); for an account with debt
        # that is classify's "neither below nor in the band" at t (above_with_debt).
        floor = ints.small_position_base
        proven = single & (debt > 0) & above_with_debt(cw, debt, at_one, t) \
            & (raw * (1 - eps) - slack >= floor) & (debt * (1 - eps) - slack >= floor)
        out[proven] = ints.close_factor_bps / BPS
        return out

    def _unit_slack(self) -> float:
        """USD of eight smallest units of the dearest asset (the plan's roundings)."""
        engine = self.engine
        config = engine.config
        if self._units is None or self._units[0] is not config:
            # Each market's unit, once per configuration object (a property: a power).
            self._units = (config, [(a, m.unit) for a, m in config.markets.items()])
        prices = engine.prices
        worth = [prices.get(a, 0) / unit for a, unit in self._units[1]]
        return float(8 * max(worth, default=0.0) / PRICE_UNIT + 1e-9)

    def check_mids(self, mids: Mapping[str, int]) -> None:
        """A venue's mid above the one the bounds used (a purchase within the step): the
        bounds no longer hold for the rest of the step."""
        if any(mids.get(a, 0) > m for a, m in self._mids.items()):
            self._stale = True

    def unpayable(self, need: float) -> frozenset[str]:
        """The accounts of this step's bounds whose largest liquidation cannot earn
        ``need`` USD (:meth:`may_pay` is ``False`` for them while :meth:`bounded`); empty
        when the bounds no longer hold. Computed once per step and ``need``."""
        if self._stale:
            return frozenset()
        cached = self._unpayable.get(need)
        if cached is None:
            ids, values = self._bound_rows
            # ``not >=``, as may_pay reads it (a NaN bound is unpayable there too).
            cached = frozenset(compress(ids, (~(values >= need)).tolist())) if ids \
                else frozenset()
            self._unpayable[need] = cached
        return cached

    def worth_reading(self, accounts: Iterable[str], need: float) -> Iterator[str]:
        """``accounts`` in order, less those :meth:`unpayable` proves cannot earn ``need``
        while :meth:`bounded`: the keeper's loop, which skips most of the step's list.

        The set is taken now; whether an account is still bounded is asked as each is
        reached (the events sent for the accounts before it may touch it or move a price).
        One generator instead of two calls per account: the list is the step's every
        account below the threshold (about 50 a keeper a step here), most of them too
        small ever to pay the gas."""
        unpayable = self.unpayable(need)
        if not unpayable:
            return iter(accounts)
        touched = self._touched

        def unskipped() -> Iterator[str]:
            for account in accounts:
                # bounded(account), inline: not stale and untouched.
                if account in unpayable and not self._stale and account not in touched:
                    continue
                yield account

        return unskipped()

    def bounded(self, account: str) -> bool:
        """Whether this step's bound of ``account`` still holds (no event has touched it,
        no price, index or mid has moved since :meth:`begin`)."""
        return not self._stale and account not in self._touched

    def may_pay(self, account: str, need: float) -> bool:
        """Whether the largest liquidation of ``account`` might earn ``need`` USD (gas plus
        minimum profit) at the oracle price without slippage; ``False`` only when proven
        it cannot."""
        if self._stale or account in self._touched:
            return True
        bound = self._bound.get(account)
        return bound is None or bound >= need

    def inputs(self, account: str) -> _Inputs | None:
        """The pair and exact inputs of a liquidatable ``account`` (``None``: not
        liquidatable, no debt or no collateral, or its liquidation refused whatever the
        amount: a reserve inactive or paused, the sentinel, a liquidation grace period, by
        the engine's own rule, :meth:`~marginengine.engine.Engine.liquidation_pause`),
        read once until it changes."""
        if account in self._inputs:
            return self._inputs[account]
        engine = self.engine
        if self._below_exact and not self._stale and account not in self._touched \
                and account in self._bound:
            # Below at this step's exact scan, and nothing it depends on has moved since.
            self.checks_skipped += 1
            pair = engine.liquidation_inputs(account)
        else:
            pair = engine.liquidation_inputs(account) if engine.is_liquidatable(account) \
                else None
        if pair is not None and engine.liquidation_pause(account, pair[0], pair[1]) \
                is not None:
            # The handler would refuse any Liquidate of the pair: plan nothing, send
            # nothing (the keeper's quote reads the same rule).
            self.paused_skips += 1
            pair = None
        self._inputs[account] = pair
        return pair

    def note_refusal(self, account: str, gas: float, min_profit: float,
                     capital: float | None, state: SaleState) -> None:
        """Record that no chunk of ``account``'s ladder paid ``gas`` and ``min_profit``
        with ``capital`` (``None``: a flash loan) when its collateral's venue was in
        ``state`` (:meth:`~marginengine.sim.markets.AssetMarket.sale_state`)."""
        self._refusals[account] = (gas, min_profit, capital, state)

    def refusal_holds(self, account: str, gas: float, min_profit: float,
                      capital: float | None, market: AssetMarket) -> bool:
        """Whether this step's recorded refusal of ``account`` (:meth:`note_refusal`)
        decides a ladder asked now with ``gas``, ``min_profit`` and ``capital`` (``None``:
        a flash loan) on ``market``'s venue: no chunk would pay either.

        The ladder (:func:`~marginengine.liquidation.best_chunk`) refuses when no rung's
        sale pays its debt, gas and minimum profit (or its debt exceeds the capital). Its
        inputs, first offer and bounds are the same while the account is untouched and no
        price or index has moved (the record is dropped otherwise); every sale value, the
        mid, the price cap and the surplus bound are no higher when the venue has only been
        sold into since (:meth:`~marginengine.sim.markets.AssetMarket.sells_no_higher`).
        Then a rung that did not pay still does not with at least the gas and the minimum
        profit, and at most the capital (any capital, if the refusal had a flash loan).
        The second keeper of a step asks again of every account the first refused: this
        answers those without a ladder."""
        refused = self._refusals.get(account)
        if refused is None or self._stale or account in self._touched:
            return False
        gas0, min_profit0, capital0, state = refused
        if gas < gas0 or min_profit < min_profit0:
            return False
        if capital0 is not None and (capital is None or capital > capital0):
            return False
        return market.sells_no_higher(state)

    def offer(self, account: str, inputs: CloseFactorInputs) -> _Offer:
        """The quote's first offer for ``account`` with its bounds (and exact plan when one
        was needed), computed once until the account changes."""
        cached = self._offers.get(account)
        if cached is not None:
            return cached
        engine = self.engine
        aave = engine.config.aave
        offer, bounds, plan, planned = first_offer(
            inputs, rule_integers(aave).min_leftover_base, aave,
            engine.rules.liquidation_rounding)
        self.exact_plans += planned
        result = (offer, bounds, plan)
        self._offers[account] = result
        return result


__all__ = ["SCREEN_REL", "LendingScreen"]
