"""The absorber (Compound III): ``Absorb`` of every liquidatable account (the protocol takes
its collateral and its debt, crediting what the collateral covers beyond it; the absorber
earns Comet's liquidator points, its gas at the step's gas price), then
``BuyCollateral`` of the seized collateral at the store-front discount when selling it on
its venue pays for the base asset and the gas."""

from __future__ import annotations

from collections.abc import Sequence

from marginengine.engine import Absorb, BuyCollateral
from marginengine.fixedpoint import PRICE_UNIT, RAY
from marginengine.liquidation import base_for_collateral, quote_collateral
from marginengine.sim.agents.base import KeeperState, World


class Absorber:
    """A keeper of a Comet-like protocol (see the module docstring).

    Parameters
    ----------
    state
        Its spec, capital and tallies.
    """

    def __init__(self, state: KeeperState) -> None:
        self.state = state

    def act(self, world: World, step: int, unsafe: Sequence[str]) -> None:
        """Absorb what is liquidatable among ``unsafe``, then buy what pays."""
        keeper = self.state
        engine = world.engine
        compound = engine.config.compound
        if compound is None:
            return
        base = compound.base_asset
        base_market = engine.config.markets[base]
        for account in unsafe:
            if not keeper.ready(("absorb", account), step) or \
                    not engine.is_liquidatable(account):
                continue
            gas = world.gas_usd("absorb", step)
            # Comet credits the absorber gasUsed x basefee (its liquidator points); the
            # run's gas price stands for the base fee (no priority fee is simulated).
            gas_used, base_fee = world.gas_wei("absorb", step)
            outcome = world.apply(Absorb(keeper.spec.id, account, gas_used, base_fee))
            if not outcome.accepted:
                continue
            debt = outcome.details["debt_absorbed"]
            world.count_liquidation(account, step, debt / base_market.unit
                                    * engine.prices[base] / PRICE_UNIT, 0)
            keeper.profit -= gas
            keeper.gas_spent += gas
            keeper.actions += 1
        self._buy(world, step)

    def _buy(self, world: World, step: int) -> None:
        keeper = self.state
        engine = world.engine
        compound = engine.config.compound
        assert compound is not None
        base = compound.base_asset
        base_market = engine.config.markets[base]
        base_price = engine.prices[base]
        min_profit = float(keeper.spec.min_profit)
        for asset, market in sorted(engine.config.markets.items()):
            if asset == base or not market.collateral:
                continue
            available = engine.ledger.reserves[asset].reserves_ray // RAY
            price = engine.prices.get(asset, 0)
            if available <= 0 or price <= 0:
                continue
            args = (base_price, base_market.unit, price, market.unit,
                    market.liquidation_factor_bps, compound.store_front_price_factor_scaled)
            pay = base_for_collateral(available, *args)
            if pay <= 0:
                continue
            quantity = quote_collateral(pay, *args)
            cost = pay / base_market.unit * base_price / PRICE_UNIT
            if not keeper.spec.flash_loan and cost > keeper.capital:
                continue
            gas = world.gas_usd("buy_collateral", step)
            if world.seized_value(quantity, asset, step) - cost - gas < min_profit:
                continue
            outcome = world.apply(BuyCollateral(keeper.spec.id, asset, pay, quantity))
            if not outcome.accepted:
                continue
            got = outcome.details["collateral_bought"]
            proceeds = world.sell(got, step, asset) if asset in world.markets \
                else world.seized_value(got, asset, step)
            keeper.capital += proceeds - cost
            keeper.profit += proceeds - cost - gas
            keeper.gas_spent += gas
            keeper.actions += 1


__all__ = ["Absorber"]
