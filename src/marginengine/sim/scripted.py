"""Run a scripted scenario through the engine, step by step, with a keeper.

Within a step, in this order: the clock advances (interest accrues), prices are set, the
scripted actions run, then the keeper liquidates every liquidatable account (sorted by
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
    Engine,
    Event,
    Liquidate,
    Outcome,
    Repay,
    SetPrice,
    Withdraw,
)
from marginengine.fixedpoint import PRICE_DECIMALS, RAY, WAD, Rounding
from marginengine.liquidation import base_for_collateral
from marginengine.margin import NO_DEBT_HEALTH, value_of
from marginengine.sim.scenario import Scenario

_ACTIONS: dict[str, type[Deposit | Withdraw | Borrow | Repay]] = {
    "deposit": Deposit, "withdraw": Withdraw, "borrow": Borrow, "repay": Repay,
}


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


@dataclass
class ScenarioResult:
    """What a scenario run produced: the engine in its final state, and its records."""

    scenario: Scenario
    engine: Engine
    liquidations: list[LiquidationRecord] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The run's ``summary.json`` content."""
        engine = self.engine
        cfg = engine.config
        accounts: dict[str, Any] = {}
        underwater = 0
        for account_id in sorted(engine.ledger.accounts):
            data = engine.account_data(account_id)
            underwater += max(0, data.total_debt - data.total_collateral)
            hf = data.health_factor
            accounts[account_id] = {
                "health_factor": None if hf == NO_DEBT_HEALTH else hf / WAD,
                "health_factor_wad": None if hf == NO_DEBT_HEALTH else str(hf),
                "collateral": usd(data.total_collateral),
                "debt": usd(data.total_debt),
                "liquidatable": engine.is_liquidatable(account_id),
            }
        realized = engine.bad_debt_value()
        reserves = engine.ledger.reserves
        return {
            "scenario": self.scenario.name,
            "preset": cfg.preset,
            "state_hash": engine.state_hash(),
            "events": engine.seq,
            "steps": len(self.scenario.steps),
            "liquidation_count": len(self.liquidations),
            "liquidated_value": usd(sum(r.debt_value for r in self.liquidations)),
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
            "rejected_actions": [str(o) for o in self.rejected],
            "accounts": accounts,
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

    def _apply(self, event: Event) -> Outcome:
        outcome = self.engine.apply(event)
        if not outcome.accepted and not isinstance(event, Liquidate | Absorb | BuyCollateral):
            self.result.rejected.append(outcome)
        return outcome

    def setup(self) -> None:
        """Set the initial prices and open the accounts."""
        for asset, price in sorted(self.scenario.prices.items()):
            self._apply(SetPrice(asset, price))
        for account_id, deposits, _ in self.scenario.accounts:
            for asset, amount in deposits.items():
                self._apply(Deposit(account_id, asset, amount))
        for account_id, _, borrows in self.scenario.accounts:
            for asset, amount in borrows.items():
                self._apply(Borrow(account_id, asset, amount))

    def step(self, index: int) -> None:
        """Run step ``index``: time, prices, actions, then the keeper."""
        self.step_index = index
        seconds, prices, actions = self.scenario.steps[index]
        if seconds:
            self._apply(AdvanceTime(seconds))
        for asset, price in sorted(prices.items()):
            self._apply(SetPrice(asset, price))
        for kind, account_id, asset, amount in actions:
            self._apply(_ACTIONS[kind](account_id, asset, amount))
        if self.keeper.enabled:
            self.run_keeper()

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
        outcome = engine.apply(Liquidate(
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

    def _absorb(self, account_id: str) -> bool:
        engine = self.engine
        before = engine.account_data(account_id)
        outcome = engine.apply(Absorb(self.keeper.id, account_id))
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
                int(market.liquidation_factor * 10_000),
                int(rules.store_front_price_factor * 10_000),
            )
            if amount > 0:
                engine.apply(BuyCollateral(self.keeper.id, asset, amount))


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
