"""The step's shared screen of the accounts a lending keeper could liquidate (see
:mod:`marginengine.sim.agents.lending_keeper`, whose docstring says what it proves)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from marginengine.engine import Change, Engine
from marginengine.fixedpoint import BPS, PRICE_UNIT
from marginengine.liquidation import CloseFactorInputs, CloseFactorPlan, PlanBounds, first_offer
from marginengine.scan import RiskBook

#: Relative widening of the screen's bound beyond the book's own error bound (the bound's
#: own few float operations).
SCREEN_REL = 1e-9

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
        self._per_debt, self._per_coll = self._shares({})
        self.step = -1
        #: Exact liquidation plans computed by keepers (first offers and ladders); the
        #: handler's own plan of each ``Liquidate`` is counted by the keeper too.
        self.exact_plans = 0
        self._bound: dict[str, float] = {}
        self._stale = False
        self._touched: set[str] = set()
        self._inputs: dict[str, _Inputs | None] = {}
        self._offers: dict[str, _Offer] = {}
        self._indices: dict[str, tuple[int, int]] = {}
        self._mids: dict[str, int] = {}
        engine.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        for account in change.accounts:
            self._touched.add(account)
            self._inputs.pop(account, None)
            self._offers.pop(account, None)
        moved = bool(change.prices) or any(
            self._indices.get(a) != (r.liquidity_index, r.borrow_index)
            for a, r in change.assets.items())
        if moved and self.step >= 0:
            # A price or an index moved within the step: every cached read is stale.
            self._stale = True
            self._inputs.clear()
            self._offers.clear()

    def _shares(self, mids: Mapping[str, int]) -> tuple[float, float]:
        """The largest share of a liquidation a liquidator keeps with its collateral valued
        at the keepers' price (the oracle's, or a venue's mid if lower: ``mids``): per
        unit of debt repaid, ``(bonus x (1 - fee share) x price / oracle) - 1``, and per
        unit of collateral taken, that over the bonus; over every collateral market, so
        it bounds any pair."""
        engine = self.engine
        per_debt, per_coll = 0.0, 0.0
        for asset, market in engine.config.markets.items():
            bonus = market.liquidation_bonus_bps / BPS
            if bonus <= 0:
                continue
            keep = bonus * (1 - market.liquidation_protocol_fee_bps / BPS * (1 - 1 / bonus))
            oracle = engine.prices.get(asset, 0)
            ratio = min(1.0, mids[asset] / oracle) if asset in mids and oracle > 0 else 1.0
            share = max(0.0, keep * ratio * (1 + SCREEN_REL) - 1)
            per_debt = max(per_debt, share)
            per_coll = max(per_coll, share / bonus)
        return per_debt, per_coll

    def begin(self, step: int, mids: Mapping[str, int] | None = None) -> None:
        """Start ``step``: bound every account below the threshold at the last scan, with
        collateral valued at the lower of its oracle and its venue's mid (``mids``, per
        asset sold on a venue; selling within the step only lowers them)."""
        self.step = step
        self._mids = dict(mids or {})
        self._per_debt, self._per_coll = self._shares(self._mids)
        self._stale = False
        self._touched.clear()
        self._inputs.clear()
        self._offers.clear()
        self._indices = {a: (r.liquidity_index, r.borrow_index)
                         for a, r in self.engine.ledger.reserves.items()}
        book = self.book
        rows = book.below_rows()
        if not len(rows):
            self._bound = {}
            return
        _, debt = book.sums(rows)
        raw = book.collateral.subset_sums(rows, book.assets.weights().raw_collateral)
        b = book.bounds(1.0)
        eps = 2 * b.eps + SCREEN_REL
        slack = 4 * (b.abs_coll + b.abs_debt) + 1.0
        debt_hi = debt * (1 + eps) + slack
        coll_hi = raw * (1 + eps) + slack
        # Base units (8 decimals) to USD, widened once more, plus a few smallest units of
        # any asset for the plan's own roundings.
        bound = np.minimum(self._per_debt * debt_hi, self._per_coll * coll_hi)
        bound = bound * (1 + SCREEN_REL) / PRICE_UNIT + self._unit_slack()
        self._bound = dict(zip(book.accounts.ids(rows), bound.tolist(), strict=True))

    def _unit_slack(self) -> float:
        """USD of eight smallest units of the dearest asset (the plan's roundings)."""
        engine = self.engine
        worth = [engine.prices.get(a, 0) / m.unit for a, m in engine.config.markets.items()]
        return float(8 * max(worth, default=0.0) / PRICE_UNIT + 1e-9)

    def check_mids(self, mids: Mapping[str, int]) -> None:
        """A venue's mid above the one the bounds used (a purchase within the step): the
        bounds no longer hold for the rest of the step."""
        if any(mids.get(a, 0) > m for a, m in self._mids.items()):
            self._stale = True

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
        liquidatable, or no debt or no collateral), read once until it changes."""
        if account in self._inputs:
            return self._inputs[account]
        engine = self.engine
        pair = engine.liquidation_inputs(account) if engine.is_liquidatable(account) else None
        self._inputs[account] = pair
        return pair

    def offer(self, account: str, inputs: CloseFactorInputs) -> _Offer:
        """The quote's first offer for ``account`` with its bounds (and exact plan when one
        was needed), computed once until the account changes."""
        cached = self._offers.get(account)
        if cached is not None:
            return cached
        engine = self.engine
        offer, bounds, plan, planned = first_offer(
            inputs, engine.config.aave.min_leftover_base_units, engine.config.aave,
            engine.rules.liquidation_rounding)
        self.exact_plans += planned
        result = (offer, bounds, plan)
        self._offers[account] = result
        return result


__all__ = ["SCREEN_REL", "LendingScreen"]
