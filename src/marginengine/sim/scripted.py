"""Run a scripted scenario through the engine, step by step, with a keeper.

Within a step, in this order: the clock advances (interest accrues), the feeds publish
the step's prices (``SetPrice`` events with the oracle layer's status), the scripted
actions run, then the keeper liquidates every liquidatable account (sorted by
id, at most ``max_per_account_per_step`` times each) with the largest liquidation the
rules allow; under Compound III it absorbs, then buys the seized collateral while the
reserves are below target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from marginengine.engine import (
    Absorb,
    AdvanceTime,
    Borrow,
    BuyCollateral,
    Deposit,
    DepositQuote,
    Engine,
    Event,
    FundInsurance,
    Liquidate,
    LiquidatePerp,
    Outcome,
)
from marginengine.fixedpoint import PRICE_DECIMALS, PRICE_UNIT, RAY, WAD, Rounding
from marginengine.ledger.options import expired
from marginengine.ledger.perp import quote_value
from marginengine.liquidation import base_for_collateral
from marginengine.margin import NO_DEBT_HEALTH, MarginKind, underwater_value, value_of
from marginengine.sim.agents.portfolio_bidder import PortfolioBidder
from marginengine.sim.feeds import FeedSpec, ScenarioFeed
from marginengine.sim.scenario import Scenario


def usd(value_base: int) -> float:
    """Base-currency units as a float of USD, for reports only."""
    return float(Decimal(value_base).scaleb(-PRICE_DECIMALS))


@dataclass(frozen=True)
class LiquidationRecord:
    """One liquidation or absorb, valued at the prices of its step."""

    step: int
    time: int
    account: str
    kind: str
    debt_asset: str
    collateral_asset: str
    debt_repaid: int
    debt_value: int
    collateral_value: int
    liquidator_value: int
    health_before: int
    health_after: int
    bad_debt_value: int


@dataclass(frozen=True)
class PerpLiquidationRecord:
    """One perp liquidation: the position closed, at what price, and who paid for it.

    Sizes are base smallest units, prices 8-decimal ints, money quote smallest units.
    ``pnl`` is the PnL of the closed size at the fill price against its entry;
    ``insurance_paid`` what the insurance fund paid toward the account's loss (``fee``:
    what the fund received from it); ``adl_size`` the size closed against opposite
    positions (auto-deleveraging, at the bankruptcy price); ``socialized`` the loss spread
    over the market's open positions (per unit of size); ``deficit`` what was left
    uncovered.
    """

    step: int
    time: int
    account: str
    market: str
    size_before: int
    closed: int
    mark: int
    price: int
    bankruptcy_price: int
    pnl: int
    fee: int
    insurance_paid: int
    adl_size: int
    adl_accounts: tuple[str, ...]
    socialized: int
    deficit: int
    equity_before: int
    maintenance_before: int

    @property
    def side(self) -> str:
        """``long`` or ``short``: the side of the position liquidated."""
        return "long" if self.size_before > 0 else "short"


@dataclass
class ScenarioResult:
    """What a scenario run produced: the engine in its final state, and its records."""

    scenario: Scenario
    engine: Engine
    liquidations: list[LiquidationRecord] = field(default_factory=list)
    perp_liquidations: list[PerpLiquidationRecord] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)
    keeper_refusals: list[Outcome] = field(default_factory=list)
    borrowed_max: list[tuple[str, str, int, int]] = field(default_factory=list)
    breaker_events: list[dict[str, Any]] = field(default_factory=list)
    feeds: dict[str, ScenarioFeed] = field(default_factory=dict)
    #: The portfolio-auction keeper and bidder of a scenario with ``[options]``.
    portfolio_bidder: PortfolioBidder | None = None

    def summary(self) -> dict[str, Any]:
        """The run's ``summary.json`` content."""
        engine = self.engine
        cfg = engine.config
        accounts: dict[str, Any] = {}
        underwater = 0
        for account_id in sorted(engine.ledger.accounts):
            data = engine.account_data(account_id)
            underwater += underwater_value(data)
            hf = engine.health_factor(account_id)
            accounts[account_id] = {
                "health_factor": None if hf == NO_DEBT_HEALTH else hf / WAD,
                "health_factor_wad": None if hf == NO_DEBT_HEALTH else str(hf),
                "collateral": usd(data.total_collateral),
                "debt": usd(data.total_debt),
                "liquidatable": engine.is_liquidatable(account_id),
            }
        options = self._options_summary()
        # The options clearing's socialized loss (printed to bidders) is bad debt too.
        realized = engine.bad_debt_value() + (options["bad_debt_base_units"] if options else 0)
        reserves = engine.ledger.reserves
        return {
            "scenario": self.scenario.name,
            "preset": cfg.preset,
            "state_hash": engine.state_hash(),
            "events": engine.seq,
            "steps": len(self.scenario.steps),
            # Every liquidation of the run, whatever the book: lending liquidations, perp
            # liquidations and bids in Derive's portfolio auctions (each bid liquidates a
            # fraction of a portfolio, as a Liquidate does of a position); their value is
            # the debt repaid, the notional closed and the mark-to-market sold. bad_debt
            # holds the options' socialized loss too.
            "liquidation_count": (len(self.liquidations) + len(self.perp_liquidations)
                                  + (options["bids"] if options else 0)),
            "liquidated_value": usd(sum(r.debt_value for r in self.liquidations)
                                    + sum(self.perp_notional_base(r)
                                          for r in self.perp_liquidations)
                                    + (options["value_liquidated_base_units"]
                                       if options else 0)),
            "collateral_seized_value": usd(sum(r.collateral_value for r in self.liquidations)),
            "liquidator_profit": usd(
                sum(r.liquidator_value - r.debt_value for r in self.liquidations
                    if r.kind == "liquidation")
            ),
            "bad_debt": usd(realized + underwater),
            "bad_debt_base_units": realized + underwater,
            "bad_debt_realized": usd(realized),
            "bad_debt_unrealized": usd(underwater),
            "deficit": {a: str(r.deficit) for a, r in sorted(reserves.items()) if r.deficit},
            "reserves": {a: str(r.reserves_ray // RAY) for a, r in sorted(reserves.items())},
            "treasury": {a: str(r.treasury) for a, r in sorted(reserves.items()) if r.treasury},
            "borrowable_value": usd(sum(v for *_, v in self.borrowed_max)),
            "borrowed_max": [
                {"account": a, "asset": s, "amount": str(n), "value": usd(v)}
                for a, s, n, v in self.borrowed_max
            ],
            "rejected_actions": [str(o) for o in self.rejected],
            "keeper_refusals": [str(o) for o in self.keeper_refusals],
            "oracle": {
                a: {
                    "price": usd(engine.prices[a]) if a in engine.prices else None,
                    "status": o.status.value,
                    "stable_price": usd(o.stable.price) if o.stable else None,
                    "breaker": o.breaker_state.value,
                    "feed": self.feeds[a].spec.kind if a in self.feeds else "direct",
                    "feed_refusals": self.feeds[a].refusals if a in self.feeds else [],
                }
                for a, o in sorted(engine.oracles.items())
            },
            "breaker_transitions": self.breaker_events,
            **self._perp_summary(),
            **({"options": options} if options else {}),
            "accounts": accounts,
        }

    def _options_summary(self) -> dict[str, Any] | None:
        """Derive's portfolio auctions of the options book (scenarios with ``[options]``):
        auctions started and finished, value liquidated (mark-to-market sold, at each
        bid), the security module used, and the socialized loss (bad debt), in USD."""
        engine = self.engine
        clearing, opts = engine.state.options, engine.config.options
        bidder = self.portfolio_bidder
        if clearing is None or opts is None or bidder is None:
            return None
        unit = engine.config.markets[opts.quote].unit
        price = engine.prices.get(opts.quote) or PRICE_UNIT

        def base(amount: int, rounding: Rounding = Rounding.DOWN) -> int:
            return value_of(amount, price, unit, rounding)

        records = bidder.records
        starts = [r for r in records if r["event"] == "StartPortfolioAuction"]
        bids = [r for r in records if r["event"] == "BidPortfolioAuction"]
        ended = [r for r in records if r["event"] == "TerminatePortfolioAuction"
                 or (r["event"] == "BidPortfolioAuction" and r["terminated"])]
        running = engine.state.portfolio_auctions
        underwater = 0
        for account in sorted(set(clearing.cash) | set(clearing.positions)):
            units = engine.portfolio_margin_units(account)
            if units is not None and units[1] < 0:
                underwater -= units[1]
        bad = base(clearing.socialized_loss, Rounding.UP)
        liquidated = sum(base(abs(r["mtm_taken"])) for r in bids)
        return {
            "auctions_started": len(starts),
            "auctions_started_insolvent": sum(1 for r in starts if r["insolvent"]),
            "auctions_converted_to_insolvent": sum(
                1 for r in records if r["event"] == "ConvertToInsolventAuction"),
            "auctions_finished": len(ended),
            "auctions_running": sorted(running.running) if running else [],
            "bids": len(bids),
            "value_liquidated": usd(liquidated),
            "value_liquidated_base_units": liquidated,
            "liquidation_fees": usd(sum(base(r["fee"]) for r in starts)),
            "paid_by_bidders": usd(sum(base(r["cash_from_bidder"]) for r in bids)),
            "insurance_fund_used": usd(base(clearing.security_module_paid)),
            "insurance_fund": usd(base(clearing.security_module)),
            "bad_debt": usd(bad),
            "bad_debt_base_units": bad,
            "unrealized_bad_debt": usd(base(underwater, Rounding.UP)),
            "bidder_capital_used": usd(base(bidder.spent)),
            "auction_log": [{k: (str(v) if isinstance(v, int) and not isinstance(v, bool)
                                 and abs(v) >= 2**53 else v)
                             for k, v in r.items() if k != "positions"} for r in records],
        }

    def perp_notional_base(self, r: PerpLiquidationRecord) -> int:
        """The closed size's notional at the fill price, base-currency units."""
        perp = self.engine.config.perps[r.market]
        unit = self.engine.config.markets[perp.quote].unit
        closed = abs(quote_value(r.closed, r.price, perp.base_unit, unit, Rounding.DOWN))
        return int(closed * PRICE_UNIT // unit)

    def _perp_summary(self) -> dict[str, Any]:
        """The backstop waterfall of the perp clearing, in USD (display)."""
        engine = self.engine
        clearing = engine.ledger.clearing
        asset = engine.perp_model.quote_asset
        unit = engine.config.markets[asset].unit if asset else 1

        def q(amount: int) -> float:
            return usd(amount * PRICE_UNIT // unit)

        return {
            "insurance_fund_drawdown": q(clearing.insurance_drawdown),
            "adl_volume": q(sum(m.adl_volume for m in clearing.markets.values())),
            "socialized_loss": q(clearing.socialized_loss),
            "perp_deficit": q(clearing.deficit),
            "insurance_fund": {"shared": q(clearing.insurance), **{
                m: q(st.insurance) for m, st in sorted(clearing.markets.items())
                if engine.config.perps[m].insurance_fund == "market"}},
            "perp_liquidated_volume": q(sum(m.liquidated_volume
                                            for m in clearing.markets.values())),
            "perp_liquidations": [
                {"step": r.step + 1, "account": r.account, "market": r.market,
                 "side": r.side, "size_before": str(r.size_before), "closed": str(r.closed),
                 "mark": r.mark, "price": r.price, "bankruptcy_price": r.bankruptcy_price,
                 "pnl": str(r.pnl), "fee": str(r.fee), "insurance_paid": str(r.insurance_paid),
                 "adl_size": str(r.adl_size), "adl_accounts": list(r.adl_accounts),
                 "socialized": str(r.socialized), "deficit": str(r.deficit)}
                for r in self.perp_liquidations],
        }


class ScenarioRunner:
    """Drives one scenario through an engine."""

    def __init__(self, scenario: Scenario, log_path: str | Path | None = None) -> None:
        self.scenario = scenario
        cfg = scenario.protocol
        self.engine = (
            Engine.with_log(cfg, log_path) if log_path is not None else Engine(cfg)
        )
        self.result = ScenarioResult(scenario, self.engine)
        self.keeper = scenario.spec.liquidator
        self.step_index = -1
        self.feeds = {
            asset: ScenarioFeed(asset, scenario.spec.feeds.get(asset, FeedSpec()))
            for asset in sorted({*cfg.markets, *cfg.perps})
        }
        self.result.feeds = self.feeds
        options = scenario.options
        if options is not None:
            self.result.portfolio_bidder = PortfolioBidder(self.keeper.id, options.bidder,
                                                           options.capital)

    def _apply(self, event: Event) -> Outcome:
        outcome = self.engine.apply(event)
        if not outcome.accepted:
            if isinstance(event, Liquidate | Absorb | BuyCollateral):
                self.result.keeper_refusals.append(outcome)
            else:
                self.result.rejected.append(outcome)
        breaker = outcome.details.get("breaker") if outcome.accepted else None
        if breaker:
            self.result.breaker_events.extend(
                breaker if isinstance(breaker, list) else [breaker])
        return outcome

    def _publish(self, market: dict[str, int], reporter: dict[str, int]) -> None:
        time = self.engine.ledger.time
        for asset, feed in self.feeds.items():
            event = feed.step(time, market.get(asset), reporter.get(asset))
            if event is not None:
                self._apply(event)

    def setup(self) -> None:
        """Publish the initial prices through the feeds, fund the insurance funds, open the
        accounts (deposits, perp quote, borrows) and make the opening trades."""
        self._publish(self.scenario.prices, {})
        for market, amount in self.scenario.insurance:
            self._apply(FundInsurance(amount, market or ""))
        for account_id, amount in self.scenario.quotes:
            self._apply(DepositQuote(account_id, amount))
        for account_id, deposits, _ in self.scenario.accounts:
            for asset, amount in deposits.items():
                self._apply(Deposit(account_id, asset, amount))
        for account_id, _, borrows in self.scenario.accounts:
            for asset, amount in borrows.items():
                self._apply(Borrow(account_id, asset, amount))
        for trade in self.scenario.trades:
            self._apply(trade)
        if self.scenario.options is not None:
            for event in self.scenario.options.events:
                self._apply(event)

    def step(self, index: int) -> None:
        """Run step ``index``: time, prices, actions (:meth:`begin_step`), then the keeper
        and the portfolio bidder (:meth:`end_step`)."""
        self.begin_step(index)
        self.end_step(index)

    def begin_step(self, index: int) -> None:
        """Step ``index`` up to the keeper: time, prices, scripted actions and trades."""
        self.step_index = index
        seconds, prices, actions = self.scenario.steps[index]
        if seconds:
            self._apply(AdvanceTime(seconds))
        self._publish(prices, self.scenario.reporter[index])
        for vol in self.scenario.step_vols[index]:
            # A step's vols move every listed expiry still open: the engine refuses a
            # surface for an expiry the clock has reached (its series settle instead).
            if not expired(vol.expiry, self.engine.ledger.time):
                self._apply(vol)
        for action in actions:
            if isinstance(action, Event):
                self._apply(action)
            else:
                _, account_id, asset, _ = action  # borrow_max
                self._borrow_max(account_id, asset)
        for trade in self.scenario.step_trades[index]:
            self._apply(trade)

    def end_step(self, index: int) -> None:
        """The rest of step ``index``: the keeper, then the options book's portfolio
        bidder."""
        if self.keeper.enabled:
            self.run_keeper()
            if self.result.portfolio_bidder is not None:
                self.result.portfolio_bidder.act(self.engine, self._apply, index + 1)

    def _borrow_max(self, account_id: str, asset: str) -> None:
        """Borrow what initial margin allows (trimmed by 0.01% steps past rounding)."""
        engine = self.engine
        if account_id not in engine.ledger.accounts or asset not in engine.prices:
            self._apply(Borrow(account_id, asset, 1))  # refused with the engine's reason
            return
        amount = engine.borrowing_power(account_id, asset)
        outcome = None
        for _ in range(5):
            if amount <= 0:
                break
            outcome = engine.apply(Borrow(account_id, asset, amount))
            if outcome.accepted:
                value = value_of(amount, engine.prices[asset],
                                 engine.config.markets[asset].unit, Rounding.DOWN)
                self.result.borrowed_max.append((account_id, asset, amount, value))
                return
            if outcome.code != engine.rules.codes.borrow_uncovered:
                break
            amount -= max(1, amount // 10_000)
        if outcome is not None:
            self.result.rejected.append(outcome)

    def run_keeper(self) -> None:
        """Liquidate (or absorb) every account the rules allow, largest first per account."""
        engine = self.engine
        absorbed = False
        for account_id in sorted(engine.ledger.accounts):
            if account_id == self.keeper.id:
                continue
            for _ in range(self.keeper.max_per_account_per_step):
                if not engine.is_liquidatable(account_id):
                    break
                if engine.ledger.accounts[account_id].perps:
                    if not self._liquidate_perp(account_id):
                        break
                    continue
                if engine.config.compound is not None:
                    absorbed |= self._absorb(account_id)
                    break
                if not self._liquidate(account_id):
                    break
        if absorbed and self.keeper.buy_collateral:
            self._buy_collateral()

    def _liquidate(self, account_id: str) -> bool:
        engine = self.engine
        quote = engine.liquidation_quote(account_id)
        if quote.plan is None:
            return False
        before = engine.account_data(account_id)
        outcome = self._apply(Liquidate(
            self.keeper.id, account_id, quote.debt_asset, quote.collateral_asset,
            quote.debt_to_cover, self.keeper.receive_supply,
        ))
        if not outcome.accepted:
            return False
        d = outcome.details
        markets = engine.config.markets
        price = engine.prices
        debt_value = value_of(d["debt_repaid"], price[quote.debt_asset],
                              markets[quote.debt_asset].unit, Rounding.DOWN)
        liq_value = value_of(d["collateral_to_liquidator"], price[quote.collateral_asset],
                             markets[quote.collateral_asset].unit, Rounding.DOWN)
        fee_value = value_of(d["protocol_fee"], price[quote.collateral_asset],
                             markets[quote.collateral_asset].unit, Rounding.DOWN)
        bad = sum(value_of(amount, price[a], markets[a].unit, Rounding.UP)
                  for a, amount in d["deficit"].items())
        self.result.liquidations.append(LiquidationRecord(
            self.step_index, engine.ledger.time, account_id, "liquidation", quote.debt_asset,
            quote.collateral_asset, d["debt_repaid"], debt_value, liq_value + fee_value,
            liq_value, before.health_factor, d["health_after"], bad,
        ))
        return True

    def _liquidate_perp(self, account_id: str) -> bool:
        """Liquidate the account's largest perp position (by notional at mark)."""
        engine = self.engine
        risk = engine.bucket(account_id)
        position = max(risk.positions, key=lambda p: (p.notional, p.market))
        before = risk.margin(MarginKind.MAINTENANCE)
        held = engine.ledger.accounts[account_id].perps[position.market]
        size, cost = held.size, held.cost
        outcome = self._apply(LiquidatePerp(self.keeper.id, account_id, position.market))
        if not outcome.accepted:
            return False
        d = outcome.details
        perp = engine.config.perps[position.market]
        quote_unit = engine.config.markets[perp.quote].unit
        closed, price = d["closed"], d["price"]
        # The closed size's PnL at the fill price, as the ledger books a reducing fill:
        # its flow less the share of the entry cost it releases.
        signed = -closed if size > 0 else closed
        flow = -quote_value(signed, price, perp.base_unit, quote_unit,
                            Rounding.UP if signed > 0 else Rounding.DOWN)
        adl = d["adl"]
        self.result.perp_liquidations.append(PerpLiquidationRecord(
            self.step_index, engine.ledger.time, account_id, position.market, size, closed,
            d["mark"], price, d["bankruptcy_price"], flow + cost * closed // abs(size),
            d["fee"], d["insurance_paid"], sum(abs(f["size"]) for f in adl),
            tuple(f["account"] for f in adl), d["socialized"], d["deficit"],
            before.value, before.requirement,
        ))
        return True

    def _absorb(self, account_id: str) -> bool:
        engine = self.engine
        before = engine.account_data(account_id)
        outcome = self._apply(Absorb(self.keeper.id, account_id))
        if not outcome.accepted:
            return False
        d = outcome.details
        base = engine.config.compound.base_asset if engine.config.compound else ""
        unit = engine.config.markets[base].unit
        price = engine.prices[base]
        after = engine.account_data(account_id)
        self.result.liquidations.append(LiquidationRecord(
            self.step_index, engine.ledger.time, account_id, "absorb", base,
            ",".join(sorted(d["seized"])), d["debt_absorbed"],
            value_of(d["debt_absorbed"], price, unit, Rounding.DOWN),
            before.total_collateral, 0, before.health_factor, after.health_factor,
            value_of(d["bad_debt"], price, unit, Rounding.UP),
        ))
        return True

    def _buy_collateral(self) -> None:
        engine = self.engine
        rules = engine.config.compound
        assert rules is not None
        base = rules.base_asset
        base_market = engine.config.markets[base]
        for asset in sorted(engine.config.markets):
            market = engine.config.markets[asset]
            held = engine.ledger.reserves[asset].reserves_ray // RAY
            if asset == base or not market.collateral or held <= 0:
                continue
            amount = base_for_collateral(
                held, engine.prices[base], base_market.unit, engine.prices[asset], market.unit,
                market.liquidation_factor_bps, rules.store_front_price_factor_scaled,
            )
            if amount > 0:
                self._apply(BuyCollateral(self.keeper.id, asset, amount))


def run_scenario(
    scenario: Scenario,
    log_path: str | Path | None = None,
    on_step: Callable[[int], None] | None = None,
) -> ScenarioResult:
    """Run a whole scenario; ``on_step(i)`` is called after each step (progress bars)."""
    runner = ScenarioRunner(scenario, log_path)
    try:
        runner.setup()
        for i in range(len(scenario.steps)):
            runner.step(i)
            if on_step is not None:
                on_step(i)
    finally:
        runner.engine.close()
    return runner.result
