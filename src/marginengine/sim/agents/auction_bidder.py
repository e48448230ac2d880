"""The auction bidder: Maker's keepers under Liquidations 2.0 (``Bark``, then ``Take`` or
``Redo`` on the Clipper's falling price) and under Flip (``Bark``, then ``Tend``/``Dent``
bids on the Flipper's English auction, ``Tick`` to restart one that got no bid, ``Deal``
to settle). A ``lowball`` strategy bids 1 DAI-wei for a lot with no bid (Black Thursday's
zero-bid keepers)."""

from __future__ import annotations

from collections.abc import Sequence

from marginengine.engine import Bark, Dent, Redo, Take, Tend, Tick
from marginengine.fixedpoint import RAY, WAD
from marginengine.sim.agents.base import KeeperState, World


class AuctionBidder:
    """A keeper of an auction protocol (see the module docstring).

    Parameters
    ----------
    state
        Its spec, capital and tallies.
    """

    def __init__(self, state: KeeperState) -> None:
        self.state = state

    def act(self, world: World, i: int, unsafe: Sequence[str]) -> None:
        """Start auctions of unsafe vaults, then bid on (or restart, or settle) the running
        ones."""
        keeper = self.state
        engine = world.engine
        house = engine.auctions
        assert house is not None
        cfg = house.config
        now = engine.ledger.time
        # Start auctions of unsafe vaults.
        for account in unsafe:
            if not keeper.ready(("bark", account), i) or not engine.is_liquidatable(account):
                continue
            if engine.ledger.debt_of(account, cfg.debt) == 0:
                continue
            gas = world.gas_usd("bark", i)
            outcome = world.apply(Bark(keeper.spec.id, account))
            if outcome.accepted:
                debt_value = outcome.details["debt"] / WAD
                world.count_liquidation(account, i, debt_value, 0)
                incentive = outcome.details["incentive"] / WAD
                keeper.profit += incentive - gas
                keeper.gas_spent += gas
                keeper.actions += 1
        house = engine.auctions
        assert house is not None
        for auction in list(house.running):
            if not keeper.ready(("auction", auction), i):
                continue
            if house.clipper is not None:
                self._clip(world, auction, i, now)
            else:
                self._flip(world, auction, i, now)

    def _clip(self, world: World, auction: int, i: int, now: int) -> None:
        keeper = self.state
        engine = world.engine
        house = engine.auctions
        assert house is not None and house.clipper is not None
        needs_redo, price, lot, tab = house.clipper.status(auction, now)
        if needs_redo:
            gas = world.gas_usd("redo", i)
            outcome = world.apply(Redo(keeper.spec.id, auction))
            if outcome.accepted:
                keeper.profit += outcome.details["incentive"] / WAD - gas
                keeper.gas_spent += gas
            return
        # Buy what the tab or the lot allows, if selling it now pays for price and gas.
        amount = min(lot, tab // price if price else lot)
        if amount <= 0:
            return
        cost = amount * price / RAY / WAD
        if not keeper.spec.flash_loan and cost > keeper.capital:
            amount = int(keeper.capital / (price / RAY) * WAD)
            cost = amount * price / RAY / WAD
        gas = world.gas_usd("take", i)
        value = world.sale_value(amount, i) * (1 - float(keeper.spec.margin))
        if amount <= 0 or value - cost - gas < float(keeper.spec.min_profit):
            return
        outcome = world.apply(Take(keeper.spec.id, auction, amount, price))
        if not outcome.accepted:
            return
        if outcome.details.get("settled"):
            world.auction_settled()
        bought = outcome.details["bought"]
        paid = outcome.details["paid"] / WAD
        proceeds = world.sell(bought, i)
        keeper.capital += proceeds - paid
        keeper.profit += proceeds - paid - gas
        keeper.gas_spent += gas
        keeper.actions += 1

    def _flip(self, world: World, auction: int, i: int, now: int) -> None:
        keeper = self.state
        engine = world.engine
        house = engine.auctions
        assert house is not None and house.flipper is not None
        bid = house.flipper.bids.get(auction)
        if bid is None:
            return
        if bid.tic != 0 and (bid.tic < now or bid.end < now):
            world.deal(auction, i)  # finished: anyone may settle it
            return
        if bid.tic == 0 and bid.end < now:
            world.apply(Tick(auction))  # ended without a bid: restart it
            return
        if bid.guy == keeper.spec.id:
            return
        beg = house.config.beg
        if keeper.spec.strategy == "lowball":
            if bid.guy == "cat":  # no bid yet: offer 1 DAI-wei for the lot
                gas = world.gas_usd("tend", i)
                if world.apply(Tend(keeper.spec.id, auction, bid.lot, RAY)).accepted:
                    keeper.gas_spent += gas
                    keeper.profit -= gas
            return
        worth = world.sale_value(bid.lot, i) * (1 - float(keeper.spec.margin))
        gas = world.gas_usd("tend", i)
        tab_dai = bid.tab / RAY / WAD
        old = bid.bid / RAY / WAD
        if bid.bid < bid.tab:
            offer = min(tab_dai, worth - gas)
            if offer <= old * float(beg) and offer < tab_dai:
                return
            if not keeper.spec.flash_loan and offer + self._committed(world) > keeper.capital:
                return
            offer_rad = bid.tab if offer >= tab_dai else int(offer * WAD) * RAY
            if offer_rad <= bid.bid:
                return
            if world.apply(Tend(keeper.spec.id, auction, bid.lot, offer_rad)).accepted:
                keeper.gas_spent += gas
                keeper.profit -= gas
        else:
            price = world.sale_value(bid.lot, i) / (bid.lot / WAD)
            if price <= 0:
                return
            lot = int(tab_dai / (price * (1 - float(keeper.spec.margin))) * WAD)
            if lot * float(beg) > bid.lot:
                return
            if not keeper.spec.flash_loan and tab_dai + self._committed(world) > \
                    keeper.capital:
                return
            if world.apply(Dent(keeper.spec.id, auction, lot, bid.bid)).accepted:
                keeper.gas_spent += gas
                keeper.profit -= gas

    def _committed(self, world: World) -> float:
        """DAI this keeper has bid on auctions it currently leads."""
        keeper = self.state
        house = world.engine.auctions
        if house is None or house.flipper is None:
            return 0.0
        return sum(b.bid / RAY / WAD for b in house.flipper.bids.values()
                   if b.guy == keeper.spec.id)


__all__ = ["AuctionBidder"]
