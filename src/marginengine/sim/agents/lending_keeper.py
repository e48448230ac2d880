"""The lending keeper (close factor, Aave's ``liquidationCall``) and the step's shared
screen of the accounts it could liquidate.

Per step, for each account the scan found below the threshold, the keeper takes the first
chunk of its liquidation ladder that pays after gas and slippage
(:func:`marginengine.liquidation.best_chunk`) and sends ``Liquidate``. What makes it
cheap, without changing a decision:

- :class:`LendingScreen` bounds, for every account below the threshold at once, what the
  largest liquidation could earn at the oracle price with no slippage, from the risk
  book's float figures widened by their proven error: an account whose bound does not
  cover the gas and the keeper's minimum profit is skipped with no exact read at all
  (the exact check would have refused it too);
- the exact inputs of an account (which debt against which collateral, balances, health)
  and its first offer are read once per step and shared by every keeper, until an event
  touches the account (the engine's :class:`~marginengine.engine.Change`) or moves an
  index or a price;
- an account the step's scan found below the threshold, untouched since, is taken as
  liquidatable without a second exact check: the scan's below set is the engine's rule
  (its surely-below accounts proven by its error bounds, its band decided by the rule);
- the bound uses the close factor (half the debt) where the rule surely applies it (one
  collateral and one debt position, health surely above 0.95, both surely above the
  minimum), not the whole debt;
- the rungs of the ladder are screened in float; only a rung on the edge is planned
  exactly; and on a constant-product pool, a closed-form bound of what any sale can earn
  over its cost (:meth:`~marginengine.sim.markets.AssetMarket.sale_surplus_bound`) skips
  the whole ladder of an account no chunk of which can pay after slippage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from marginengine.engine import Liquidate
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation import (
    CloseFactorInputs,
    CloseFactorPlan,
    PlanBounds,
    best_chunk,
)
from marginengine.sim.agents.base import KeeperState, World
from marginengine.sim.metrics import borrower_loss

#: Relative widening of the screen's bound beyond the book's own error bound (the bound's
#: own few float operations).
SCREEN_REL = 1e-9

_Inputs = tuple[str, str, CloseFactorInputs]
_Offer = tuple[int, PlanBounds, CloseFactorPlan | None]


def _ltv(debt: int, collateral: int) -> float:
    """Debt over collateral value (inf when no collateral is left but debt is)."""
    if collateral == 0:
        return math.inf if debt else 0.0
    return debt / collateral


class LendingKeeper:
    """A keeper liquidating by close factor (see the module docstring).

    Parameters
    ----------
    state
        Its spec, capital and tallies.
    """

    def __init__(self, state: KeeperState) -> None:
        self.state = state

    def act(self, world: World, step: int, unsafe: Sequence[str]) -> None:
        """Liquidate what pays among ``unsafe``, in order."""
        keeper = self.state
        spec = keeper.spec
        engine = world.engine
        screen = world.lending_screen()
        screen.check_mids(world.venue_mids())
        gas = world.gas_usd("liquidate", step)
        min_profit = float(spec.min_profit)
        need = gas + min_profit
        config, rules = engine.config, engine.rules
        prices = engine.prices  # the engine's one price table (changed in place)
        # ready() first, for every account: it records when the keeper first saw it
        # (with no latency it is always ready, and what it records is never read).
        ready = (a for a in unsafe if keeper.ready(a, step)) if spec.latency else unsafe
        # Less the accounts whose bound proves no liquidation pays ``need`` (while they
        # stay untouched and the step's bounds hold): screen.may_pay, for all at once.
        for account in screen.worth_reading(ready, need):
            pair = screen.inputs(account)
            if pair is None:
                continue
            debt_asset, coll_asset, inputs = pair
            offer, bounds, plan0 = screen.offer(account, inputs)
            if offer <= 0:
                continue
            # The no-slippage check values collateral at the better of the oracle and the
            # venue's mid for the protocol: if that does not pay, no chunk will.
            mid = prices[coll_asset]
            market = world.markets.get(coll_asset)
            on_venue = market is not None and world.trades_on_venue(market)
            capital = None if spec.flash_loan else keeper.capital
            # The venue's state, where a refusal's reuse is proven (a constant-product pool).
            state = market.sale_state() if on_venue and market is not None else None
            if state is not None and market is not None and screen.refusal_holds(
                    account, gas, min_profit, capital, market):
                continue  # another keeper's ladder paid nothing: this one would not either
            if on_venue:
                assert market is not None
                mid = min(mid, market.venue_price())

            def sale(amount: int, asset: str = coll_asset) -> float:
                return world.seized_value(amount, asset, step)

            # A closed-form bound of what any sale on the asset's pool can earn over its
            # cost lets the ladder skip an account no chunk of which pays (slippage).
            surplus = market.sale_surplus_bound if on_venue and market is not None else None
            chunk, planned = best_chunk(
                inputs, offer, bounds, plan0, config.aave, rules.liquidation_rounding,
                sale, mid, gas, min_profit, capital,
                world.sale_price_cap(coll_asset, step), surplus=surplus)
            screen.exact_plans += planned
            if chunk is None:
                if state is not None:
                    screen.note_refusal(account, gas, min_profit, capital, state)
                continue
            # Debt over collateral before, as world.ltv reads it: the inputs were read from
            # this very state (the screen drops them when the account or a price moves).
            before = _ltv(inputs.total_debt_base, inputs.total_collateral_base)
            outcome = world.apply(Liquidate(spec.id, account, debt_asset, coll_asset,
                                            chunk.offer))
            screen.exact_plans += 1  # the handler plans it once more, exactly
            if not outcome.accepted:
                continue
            world.ltv_log.append({"step": step, "account": account, "ltv_before": before,
                                  "ltv_after": world.ltv(account)})
            d = outcome.details
            got = d["collateral_to_liquidator"]
            proceeds = world.sell(got, step, coll_asset) if coll_asset in world.markets \
                else world.seized_value(got, coll_asset, step)
            debt_unit = inputs.debt_unit
            paid = d["debt_repaid"] / debt_unit * prices[debt_asset] / PRICE_UNIT
            # Borrower loss: collateral taken (liquidator's share and protocol fee) less the
            # debt retired (repaid, and any remainder written off), at the oracle prices.
            loss = borrower_loss(
                got + d["protocol_fee"], prices[coll_asset], inputs.collateral_unit,
                d["debt_repaid"] + d["deficit"].get(debt_asset, 0),
                prices[debt_asset], debt_unit)
            world.count_liquidation(account, step, paid, loss)
            keeper.capital += proceeds - paid
            keeper.profit += proceeds - paid - gas
            keeper.gas_spent += gas
            keeper.actions += 1


__all__ = ["LendingKeeper"]
