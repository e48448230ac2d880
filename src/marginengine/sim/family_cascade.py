"""Liquity v1 and Morpho Blue in the cascade simulator: runners of their own, on the same
price paths, gas and venues as any cascade (alone, or beside lending protocols through
:mod:`marginengine.sim.protocols`).

A family protocol keeps its own state (``engine.state.liquity``, ``engine.state.morpho``)
instead of pooled reserves, so its runner opens its book with the family's events and its
keepers liquidate through them; the price path, the venues, the oracles, the gas and the
record are the cascade's (:class:`~marginengine.sim.cascade.CascadeRunner`, whose public
methods these runners override). The scenario's fields map onto the family's actions as
:mod:`marginengine.sim.family_cascade_config` says.

Liquity v1 (:class:`LiquityCascadeRunner`), every step after the oracles publish:

1. the scan: the risk book's (:class:`~marginengine.scan.liquity.LiquityRiskBook`, a
   float64 screen, then the engine's own rule ``liquity_system.is_liquidatable``): the
   troves ``liquidate`` would close now, each alone, lowest NICR first: ICR below 110%,
   or in recovery mode (TCR below 150%) below the TCR when the stability pool can absorb
   the whole debt; never the last trove;
2. keepers, in the step's seeded order: ``batchLiquidateTroves`` over up to
   ``family_agents.troves_per_tx`` of the troves each has seen for its latency, when the
   gas compensation of what the batch would liquidate (``liquity_system.batch_totals``:
   200 LUSD and 0.5% of the collateral, sold on the venue) pays the gas
   (``gas_used.liquidate`` per trove) and ``min_profit``; the engine offsets against
   the stability pool, redistributes the rest, caps recovery-mode liquidations at 110%;
3. the stability pool's depositors withdraw their ETH gains and sell them on the venue
   (``family_agents.sell_pool_gains``).

Morpho Blue (:class:`MorphoCascadeRunner`), every step: ``accrueInterest``, the oracles,
the scan (the risk book's, :class:`~marginengine.scan.morpho.MorphoRiskBook`: unhealthy
positions, debt above collateral x LLTV, by Morpho's ``_isHealthy``), then keepers ``liquidate``
each position they have seen for their latency: all its borrow shares, or all its
collateral when that is worth less (the rest is bad debt, realized at once across the
suppliers), less when their capital does not reach; when selling the seized collateral
on the venue pays the repayment, the gas (``gas_used.liquidate``) and ``min_profit``.

Figures (the cascade's summary keys, read for the family): ``bad_debt_realized`` is
Morpho's realized bad debt (Liquity realizes none: what the pool cannot absorb is
redistributed to the other troves); ``bad_debt_underwater`` the debt above collateral of
open positions at the oracle price; ``health_p05``/``health_p50`` are ICR / 110% (Liquity)
and Morpho's health factor; ``family`` holds the family's own figures (Liquity: the
offset, the redistribution, the lowest TCR, recovery-mode steps, the pool; Morpho: the
market's totals and the LIF). Extra series: Liquity ``tcr``, ``stability_pool``,
``recovery_mode``; Morpho ``total_supply``, ``total_borrow`` (whole tokens).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.decisions import Code, Refusal
from marginengine.engine import (
    LiquityBatchLiquidate,
    LiquityOpenTrove,
    LiquityProvideToSP,
    LiquityWithdrawFromSP,
    MorphoAccrueInterest,
    MorphoBorrow,
    MorphoLiquidate,
    MorphoSupply,
    MorphoSupplyCollateral,
    SetPrice,
)
from marginengine.engine.liquity_handlers import PRICE_SCALE
from marginengine.engine.morpho_handlers import oracle_price_of
from marginengine.engine.state import MorphoBook
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT, WAD, parse_units
from marginengine.liquidation import liquity as liquity_liq
from marginengine.liquidation import morpho as morpho_liq
from marginengine.liquidation.liquity_system import LiquitySystem, batch_totals
from marginengine.margin import liquity as liquity_rules
from marginengine.margin import morpho as morpho_rules
from marginengine.scan import LiquityRiskBook, MorphoRiskBook
from marginengine.sim.agents import KeeperState
from marginengine.sim.book import synthetic_book
from marginengine.sim.cascade import FAMILY_RUNNERS, CascadeRunner
from marginengine.sim.cascade_config import CascadeFile
from marginengine.sim.family_cascade_config import family_assets
from marginengine.sim.metrics import borrower_loss


def _quantiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    q = np.quantile(np.asarray(values, dtype=float), [0.05, 0.5])
    return float(q[0]), float(q[1])


class FamilyRunner(CascadeRunner, ABC):
    """What both family runners share: set-up prices, the oracles, the keeper loop and the
    record of a step (the cascade's columns)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        super().__init__(spec, protocol, rng, feedback=feedback, log_path=log_path,
                         shared=shared)
        self.rejected_setup = 0
        self.borrowers: list[str] = []
        self.start_debt_value = float(spec.book.total_debt)
        self.bad_debt_realized_base = 0
        #: Extra series columns of the family (whole tokens or ratios).
        for column in self.family_columns():
            self.series[column] = []

    def draw_book(self, debt_unit: int) -> list[tuple[str, int, int]]:
        """The scenario's synthetic book (``[book]``, from the run's generator), in the
        draw's order: each account's id, its collateral in smallest units at step 0's
        price and its debt in smallest units of ``debt_unit``, both rounded down."""
        b = self.spec.book
        book = synthetic_book(self.rng, b.accounts, float(b.total_debt), b.whales,
                              float(b.whale_share), float(b.collateralization_median),
                              float(b.collateralization_sigma),
                              float(b.min_collateralization))
        s0 = self.prices[0]
        return [(a.id, int(a.collateral_usd / s0 * self.coll_unit),
                 int(a.debt_usd * debt_unit)) for a in book]

    # -- what each family says
    def family_columns(self) -> tuple[str, ...]:
        """The family's extra series columns."""
        return ()

    def family_row(self) -> dict[str, float]:
        """The family's extra series values at the end of a step."""
        return {}

    @abstractmethod
    def scan(self) -> list[str]:
        """The positions a keeper could liquidate now (in the order keepers take them)."""

    @abstractmethod
    def healths(self) -> list[float]:
        """Every open position's health (1 = the liquidation line)."""

    @abstractmethod
    def keeper_act(self, keeper: KeeperState, i: int, unsafe: Sequence[str]) -> None:
        """One keeper's turn at step ``i``."""

    def after_keepers(self, i: int) -> None:
        """What the family's other actors do after the keepers (nothing by default)."""

    def end_reasons(self, step: int) -> dict[str, str]:
        """Why each position :meth:`scan` still finds liquidatable at ``step`` (the last)
        was not liquidated, a key of ``sim/explain.END_REASONS``: ``not_evaluated`` unless
        the family asks its keepers again (Morpho does)."""
        return dict.fromkeys(self.scan(), "not_evaluated")

    def underwater_accounts(self) -> list[str]:
        """The open positions whose debt is above their collateral at the oracle (none
        listed unless the family says; Morpho does)."""
        return []

    # -- the cascade's hooks
    def set_prices(self) -> None:
        """Step-0 prices of every market (simulated, or the scenario's ``prices``)."""
        for asset in sorted(self.protocol.markets):
            if asset in self.markets:
                price = self.fixed[asset][0]
            else:
                price = parse_units(self.spec.prices.get(asset, 1), 8)
            self.apply(SetPrice(asset, price))

    def start(self) -> None:
        """Set up (one batch) and record step 0."""
        with self.engine.batch():
            self.setup()
        self.record_step(0, self.engine.ledger.time, self.fixed[self.collateral][0], 0, 0, 0.0)

    def act(self, i: int) -> None:
        """Oracles publish, the scan, the keepers, the family's other actors, the record."""
        now = self.engine.ledger.time
        self.before_oracles()
        for asset, market in self.markets.items():
            oracle = market.oracle_price(now)
            if oracle is not None:
                self.apply(SetPrice(asset, oracle))
        self.after_oracles(i)
        unsafe = self.scan()
        for account in unsafe:
            self.unsafe_since.setdefault(account, i)
        count, value = self.liquidation_count, self.liquidated_value
        for k in self.rng.permutation(len(self.keepers)).tolist():
            keeper = self.keepers[k]
            if keeper.spec.max_gas_gwei is not None and self.gas[i] > float(
                    keeper.spec.max_gas_gwei):
                continue  # its transactions are not mined at this gas price
            self.keeper_act(keeper, i, unsafe)
        self.after_keepers(i)
        self.record_step(i, now, self.fixed[self.collateral][i], len(unsafe),
                         self.liquidation_count - count, self.liquidated_value - value)

    def before_oracles(self) -> None:
        """What happens before the oracles publish (nothing by default)."""

    def after_oracles(self, i: int) -> None:
        """What happens after the oracles publish, before the scan (nothing by default)."""

    def record_step(self, i: int, now: int, external: int, liquidatable: int,
                    liquidations: int, value: float) -> None:
        """Append step ``i``'s row: the cascade's columns, then the family's."""
        realized, in_auctions, underwater = self.bad_debt_parts()
        p05, p50 = _quantiles(self.healths())
        row: dict[str, float] = {
            "step": i, "time_s": now,
            "external_price_usd": external / PRICE_UNIT,
            "venue_price_usd": self.venue_price() / PRICE_UNIT,
            "oracle_price_usd": self.engine.prices[self.collateral] / PRICE_UNIT,
            "gas_gwei": float(self.gas[i]),
            "liquidatable_accounts": liquidatable,
            "liquidations_step": liquidations, "liquidations_cum": self.liquidation_count,
            "liquidated_value_usd_step": value,
            "liquidated_value_usd_cum": self.liquidated_value,
            "bad_debt_usd": realized + in_auctions + underwater,
            "bad_debt_realized_usd_cum": realized, "bad_debt_in_auctions_usd": in_auctions,
            "underwater_usd": underwater,
            "borrower_loss_usd_cum": self.borrower_loss_base / PRICE_UNIT,
            "auctions_running": 0, "health_p05": p05, "health_p50": p50,
            "keeper_profit_usd_cum": sum(k.profit for k in self.keepers),
            **self.family_row(),
        }
        for asset, market in self.markets.items():
            self.venue_lows[asset] = min(self.venue_lows[asset], market.venue_price())
        for asset in self.other_assets:
            market = self.markets[asset]
            row[f"external_price_usd.{asset}"] = self.fixed[asset][i] / PRICE_UNIT
            row[f"venue_price_usd.{asset}"] = market.venue_price() / PRICE_UNIT
            row[f"oracle_price_usd.{asset}"] = self.engine.prices[asset] / PRICE_UNIT
        for name, column in self.series.items():
            column.append(row[name])

    @abstractmethod
    def underwater_base(self) -> int:
        """Debt above collateral of the open positions, base units (8 decimals)."""

    def bad_debt_parts(self) -> tuple[float, float, float]:
        """``(realized, in auctions, underwater)`` USD (no auctions in these families)."""
        return (self.bad_debt_realized_base / PRICE_UNIT, 0.0,
                self.underwater_base() / PRICE_UNIT)

    def book_capacity(self) -> dict[str, float]:
        """Not measured for a family protocol (its capacity is its own rule's)."""
        return {}

    def family_summary(self) -> dict[str, Any]:
        """The family's own figures."""
        return {}

    def summary(self) -> dict[str, Any]:
        """The cascade's figures (see the module docstring) and ``family``."""
        out = super().summary()
        out["family"] = self.family_summary()
        return out

    def usd(self, amount: int, asset: str, rounding_up: bool = False) -> int:
        """``amount`` of ``asset`` in base units (8 decimals) at the engine's price."""
        unit = self.protocol.markets[asset].unit
        num = amount * self.engine.prices[asset]
        return -(-num // unit) if rounding_up else num // unit

    def sell_collateral(self, amount: int, i: int) -> float:
        """Sell ``amount`` of the collateral (its venue, or the external price)."""
        return self.sell(amount, i, self.collateral)


# ----------------------------------------------------------------------- Liquity v1
class LiquityCascadeRunner(FamilyRunner):
    """A Liquity v1 protocol in a cascade (see the module docstring)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        super().__init__(spec, protocol, rng, feedback=feedback, log_path=log_path,
                         shared=shared)
        assert protocol.liquity is not None
        self.lusd = protocol.liquity.debt
        self.pool_eth_sold = 0
        self.pool_eth_proceeds = 0.0
        self.offset_debt = 0
        self.redistributed_debt = 0
        self.recovery_steps = 0
        self.lowest_tcr: int | None = None
        self.troves_opened_coll = 0
        self.troves_opened_debt = 0
        self.pool_deposited = 0
        #: The risk book's mirror of the troves (made at the first scan, after set-up).
        self.risk_book: LiquityRiskBook | None = None

    def system(self) -> LiquitySystem:
        """The engine's Liquity system."""
        sys = self.engine.state.liquity
        assert sys is not None  # a liquity preset always has one
        return sys

    def liquity_price(self) -> int:
        """Liquity's price (18 decimals) of the collateral, from the engine's."""
        return self.engine.prices[self.collateral] * PRICE_SCALE

    def family_columns(self) -> tuple[str, ...]:
        """``tcr``, ``stability_pool`` (LUSD), ``recovery_mode`` (0 or 1)."""
        return ("tcr", "stability_pool", "recovery_mode")

    def family_row(self) -> dict[str, float]:
        """The TCR, the pool's deposits, whether in recovery mode."""
        sys = self.system()
        tcr = sys.tcr(self.liquity_price())
        return {"tcr": tcr / WAD if sys.system_debt else float("nan"),
                "stability_pool": sys.pool.total_deposits / WAD,
                "recovery_mode": float(bool(sys.system_debt) and tcr < liquity_rules.CCR)}

    def setup(self) -> None:
        """Prices; the stability pool (``liquidity``); the book's troves (``openTrove``,
        largest collateralization first so the TCR stays above 150% while they open);
        the explicit accounts."""
        self.set_prices()
        spec = self.spec
        lusd_unit = self.protocol.markets[self.lusd].unit
        for asset, whole in sorted(spec.liquidity.items()):
            self.provide("lender", parse_units(whole, self.protocol.markets[asset].decimals))
        b = spec.book
        book = synthetic_book(self.rng, b.accounts, float(b.total_debt), b.whales,
                              float(b.whale_share), float(b.collateralization_median),
                              float(b.collateralization_sigma),
                              float(b.min_collateralization))
        s0 = self.prices[0]
        opened = []
        for acct in sorted(book, key=lambda a: (-a.collateral_usd / a.debt_usd, a.id)):
            coll = int(acct.collateral_usd / s0 * self.coll_unit)
            opened.append((acct.id, coll, int(acct.debt_usd * lusd_unit)))
        for extra in spec.accounts:
            decimals = {a: self.protocol.markets[a].decimals for a in extra.deposit}
            coll = parse_units(extra.deposit.get(self.collateral, 0),
                               decimals.get(self.collateral, 18))
            draw = parse_units(extra.borrow.get(self.lusd, 0),
                               self.protocol.markets[self.lusd].decimals)
            if draw:
                opened.append((extra.id, coll, draw))
            if self.lusd in extra.deposit:
                self.provide(extra.id, parse_units(extra.deposit[self.lusd],
                                                   decimals[self.lusd]))
        for account, coll, draw in opened:
            out = self.apply(LiquityOpenTrove(account, coll, draw))
            if not out.accepted:
                self.rejected_setup += 1
                continue
            self.troves_opened_coll += coll
            self.troves_opened_debt += out.details["debt"]
        self.borrowers = sorted(self.system().troves)

    def provide(self, depositor: str, amount: int) -> None:
        """``provideToSP`` of ``amount`` LUSD (refusals count as set-up rejections)."""
        if amount <= 0:
            return
        if self.apply(LiquityProvideToSP(depositor, amount)).accepted:
            self.pool_deposited += amount
        else:
            self.rejected_setup += 1

    def after_oracles(self, i: int) -> None:
        """The step's TCR (the lowest so far) and whether the system is in recovery mode,
        at the prices the scan and the keepers see."""
        sys = self.system()
        if sys.system_debt:
            price = self.liquity_price()
            tcr = sys.tcr(price)
            self.lowest_tcr = tcr if self.lowest_tcr is None else min(self.lowest_tcr, tcr)
            self.recovery_steps += int(liquity_rules.is_recovery_mode(
                sys.system_coll, sys.system_debt, price))

    def scan(self) -> list[str]:
        """The troves ``liquidate`` would close now, lowest NICR first (the engine's order).

        The risk book's scan (:class:`~marginengine.scan.liquity.LiquityRiskBook`): every
        trove's ICR screened in float64 against the mode's line, the candidates decided
        by the engine's own rule (``liquidation/liquity_system.is_liquidatable``), so in
        recovery mode a trove between 110% and the TCR counts only when the stability
        pool can absorb its whole debt, and the last trove never does. Each trove is
        judged alone (a batch moves the TCR between its troves; the engine decides it).
        """
        if self.risk_book is None:
            self.risk_book = LiquityRiskBook(self.engine)
        found = self.risk_book.scan()
        sys = self.system()

        def nicr(tid: str) -> tuple[int, str]:
            t = sys.entire(tid)
            return liquity_rules.compute_nominal_cr(t.coll, t.debt), tid

        return sorted(found.liquidatable, key=nicr)

    def healths(self) -> list[float]:
        """Every trove's ICR over 110%."""
        sys = self.system()
        price = self.liquity_price()
        return [sys.entire(t).icr(price) / liquity_rules.MCR for t in sys.troves]

    def underwater_base(self) -> int:
        """Debt above collateral of the open troves (LUSD at its price, base units)."""
        sys = self.system()
        price = self.liquity_price()
        total = 0
        for _, trove in sys.sorted_troves():
            if trove.icr(price) >= liquity_rules.ONE_HUNDRED_PCT:
                break
            total += max(0, self.usd(trove.debt, self.lusd, True)
                         - self.usd(trove.coll, self.collateral))
        return total

    def keeper_act(self, keeper: KeeperState, i: int, unsafe: Sequence[str]) -> None:
        """``batchLiquidateTroves`` in chunks, when the gas compensation pays."""
        ready = [t for t in unsafe if t in self.system().troves
                 and keeper.ready(("trove", t), i)]
        per_tx = self.spec.family_agents.troves_per_tx
        lusd_price = self.engine.prices[self.lusd] / PRICE_UNIT
        for start in range(0, len(ready), per_tx):
            sys = self.system()
            chunk = [t for t in ready[start:start + per_tx] if t in sys.troves]
            if not chunk:
                continue
            # What the batch would liquidate, by the engine's rule without settling it
            # (a batch moves the TCR and spends the pool between its troves): the keeper
            # is paid the gas compensation of those troves only.
            totals = batch_totals(sys, chunk, self.liquity_price())
            if isinstance(totals, Refusal):
                continue   # nothing of the chunk is liquidatable now
            reward = (totals.lusd_gas_compensation / WAD * lusd_price
                      + self.sale_value(totals.coll_gas_compensation, i))
            gas = self.gas_usd("liquidate", i) * len(chunk)
            if reward - gas < float(keeper.spec.min_profit):
                continue
            wholes = {t: sys.entire(t) for t in chunk}
            out = self.apply(LiquityBatchLiquidate(keeper.spec.id, ",".join(chunk)))
            if not out.accepted:
                continue   # nothing of the chunk was liquidatable (the engine refused)
            d = out.details
            self.offset_debt += d["debt_to_offset"]
            self.redistributed_debt += d["debt_to_redistribute"]
            price8 = self.engine.prices[self.collateral]
            for v in d["liquidated"]:
                taken = v["coll"] - v["coll_surplus"]
                loss = borrower_loss(taken, price8, self.coll_unit, v["debt"],
                                     self.engine.prices[self.lusd],
                                     self.protocol.markets[self.lusd].unit)
                self.count_liquidation(v["trove"], i,
                                       self.usd(v["debt"], self.lusd) / PRICE_UNIT, loss)
                self.ltv_log.append({"account": v["trove"], "step": i,
                                     "ltv_before": self.ratio(wholes[v["trove"]]),
                                     "ltv_after": 0.0})
            proceeds = self.sell_collateral(d["coll_gas_compensation"], i)
            earned = d["lusd_gas_compensation"] / WAD * lusd_price + proceeds
            paid = gas * len(d["liquidated"]) / len(chunk)
            keeper.profit += earned - paid
            keeper.capital += earned - paid
            keeper.gas_spent += paid
            keeper.actions += 1

    def ratio(self, trove: liquity_rules.Trove) -> float:
        """Debt over collateral value at the engine's prices."""
        coll = self.usd(trove.coll, self.collateral)
        return self.usd(trove.debt, self.lusd) / coll if coll else float("inf")

    def after_keepers(self, i: int) -> None:
        """The pool's depositors take their ETH gains and sell them (when configured)."""
        if not self.spec.family_agents.sell_pool_gains:
            return
        sys = self.system()
        for depositor in sorted(sys.deposits):
            snap = sys.deposits[depositor]
            if not snap.initial or liquity_liq.eth_gain(sys.pool, snap) == 0:
                continue
            out = self.apply(LiquityWithdrawFromSP(depositor, 0))
            if out.accepted and out.details["eth_gain_paid"]:
                paid = out.details["eth_gain_paid"]
                self.pool_eth_sold += paid
                self.pool_eth_proceeds += self.sell_collateral(paid, i)
            sys = self.system()

    def family_summary(self) -> dict[str, Any]:
        """Offset, redistribution, the lowest TCR, recovery-mode steps, the pool."""
        sys = self.system()
        return {
            "family": "liquity-v1",
            "troves_open": len(sys.troves),
            "debt_offset": self.offset_debt / WAD,
            "debt_redistributed": self.redistributed_debt / WAD,
            "redistributed_pending": sys.default_debt / WAD,
            "lowest_tcr": None if self.lowest_tcr is None else self.lowest_tcr / WAD,
            "final_tcr": sys.tcr(self.liquity_price()) / WAD if sys.system_debt else None,
            "recovery_mode_steps": self.recovery_steps,
            "stability_pool_start": self.pool_deposited / WAD,
            "stability_pool_end": sys.pool.total_deposits / WAD,
            "pool_eth_sold": self.pool_eth_sold / self.coll_unit,
            "pool_eth_proceeds": self.pool_eth_proceeds,
            "pool_eth_unclaimed": sys.pool.eth / self.coll_unit,
            "collateral_surplus": sum(sys.surplus.values()) / self.coll_unit,
            "gas_compensation_eth": sys.gas_coll / self.coll_unit,
            "gas_compensation_lusd": sys.gas_lusd / WAD,
        }


# ----------------------------------------------------------------------- Morpho Blue
class MorphoCascadeRunner(FamilyRunner):
    """A Morpho Blue market in a cascade (see the module docstring)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        super().__init__(spec, protocol, rng, feedback=feedback, log_path=log_path,
                         shared=shared)
        _, self.loan, name = family_assets(protocol, self.collateral, spec.book.debt_asset)
        if name is None:  # check_family_cascade has said so before anything runs
            raise ConfigError([f"book.debt_asset: no Morpho market lends {self.loan!r} "
                               f"against {self.collateral!r}"])
        self.market_name = name
        cfg = protocol.morpho[name]
        self.params = morpho_rules.MarketParams(lltv=int(cfg.lltv * WAD))
        self.loan_unit = protocol.markets[self.loan].unit
        self.supplied = 0
        self.borrowed = 0
        self.repaid = 0
        self.collateral_in = 0
        self.seized = 0
        self.bad_debt_assets = 0
        #: The risk book's mirror of the markets (made at the first scan, after set-up).
        self.risk_book: MorphoRiskBook | None = None

    def book_now(self) -> MorphoBook:
        """The engine's book of the market."""
        return self.engine.state.morpho[self.market_name]

    def oracle(self) -> int:
        """Morpho's oracle price (1e36-scaled), from the engine's prices (the handlers'
        ``engine/morpho_handlers.oracle_price_of``)."""
        return oracle_price_of(self.protocol, self.market_name, self.engine.prices[self.loan],
                               self.engine.prices[self.collateral])

    def family_columns(self) -> tuple[str, ...]:
        """``total_supply``, ``total_borrow`` (whole loan tokens)."""
        return ("total_supply", "total_borrow")

    def family_row(self) -> dict[str, float]:
        """The market's totals."""
        m = self.book_now().market
        return {"total_supply": m.total_supply_assets / self.loan_unit,
                "total_borrow": m.total_borrow_assets / self.loan_unit}

    def setup(self) -> None:
        """Prices; the lenders' supply (``liquidity``, default twice the book's debt); the
        book (``supplyCollateral`` and ``borrow``); the explicit accounts."""
        self.set_prices()
        spec, name = self.spec, self.market_name
        b = spec.book
        markets = self.protocol.markets
        supply = int(float(b.total_debt) * 2 * self.loan_unit)
        if self.loan in spec.liquidity:
            supply = parse_units(spec.liquidity[self.loan], markets[self.loan].decimals)
        self.supply("lender", supply)
        wanted = self.draw_book(self.loan_unit)
        for extra in spec.accounts:
            if self.loan in extra.deposit:
                self.supply(extra.id, parse_units(extra.deposit[self.loan],
                                                  markets[self.loan].decimals))
            coll = parse_units(extra.deposit.get(self.collateral, 0),
                               markets[self.collateral].decimals)
            draw = parse_units(extra.borrow.get(self.loan, 0), markets[self.loan].decimals)
            if coll or draw:
                wanted.append((extra.id, coll, draw))
        for account, coll, draw in wanted:
            if coll and self.apply(MorphoSupplyCollateral(account, name, coll)).accepted:
                self.collateral_in += coll
            if draw:
                if self.apply(MorphoBorrow(account, name, assets=draw)).accepted:
                    self.borrowed += draw
                else:
                    self.rejected_setup += 1
        self.borrowers = sorted(a for a, p in self.book_now().positions.items()
                                if p.borrow_shares)

    def supply(self, account: str, assets: int) -> None:
        """``supply`` of ``assets`` loan tokens (a refusal counts as a set-up rejection)."""
        if assets <= 0:
            return
        if self.apply(MorphoSupply(account, self.market_name, assets=assets)).accepted:
            self.supplied += assets
        else:
            self.rejected_setup += 1

    def before_oracles(self) -> None:
        """``accrueInterest`` to the clock (Morpho's every entry point does it)."""
        self.apply(MorphoAccrueInterest(self.market_name))

    def scan(self) -> list[str]:
        """Unhealthy positions of the market, by id: the risk book's scan
        (:class:`~marginengine.scan.morpho.MorphoRiskBook`), a float64 screen whose
        candidates Morpho's ``_isHealthy`` (``margin/morpho.is_healthy``) decides."""
        if self.risk_book is None:
            self.risk_book = MorphoRiskBook(self.engine)
        return list(self.risk_book.scan().markets[self.market_name].liquidatable)

    def healths(self) -> list[float]:
        """Every borrower's health factor."""
        book = self.book_now()
        price = self.oracle()
        out = []
        for p in book.positions.values():
            h = morpho_rules.health_factor(p, book.market, price, self.params)
            if h is not None:
                out.append(h / WAD)
        return out

    def underwater_base(self) -> int:
        """Debt above collateral of the open positions (base units)."""
        book = self.book_now()
        price = self.oracle()
        total = 0
        for p in book.positions.values():
            if not p.borrow_shares:
                continue
            debt = morpho_rules.borrowed_assets(p, book.market)
            coll = morpho_rules.mul_div_down(p.collateral, price,
                                             morpho_rules.ORACLE_PRICE_SCALE)
            if debt > coll:
                total += self.usd(debt - coll, self.loan, True)
        return total

    def plan(self, keeper_id: str, borrower: str, i: int, gas: float, min_profit: float,
             capital: float | None) -> tuple[MorphoLiquidate, float] | None:
        """A keeper's decision on ``borrower`` at step ``i``: the ``liquidate`` it would
        send and what the repayment costs (USD), or ``None`` when the position is healthy,
        nothing can be taken, or selling the seized collateral on the venue does not pay
        the repayment, ``gas`` and ``min_profit``.

        All its borrow shares, or all its collateral when that is worth less (the rest is
        bad debt); with ``capital`` (USD, ``None``: a flash loan) below the repayment, the
        share of the borrow shares it reaches."""
        name = self.market_name
        loan_price = self.engine.prices[self.loan] / PRICE_UNIT
        book = self.book_now()
        pos = book.position(borrower)
        price = self.oracle()
        if not pos.borrow_shares or morpho_rules.is_healthy(pos, book.market, price,
                                                            self.params):
            return None
        plan = morpho_liq.liquidate(book.market, pos, price, self.params,
                                    repaid_shares=pos.borrow_shares)
        event = MorphoLiquidate(keeper_id, borrower, name, repaid_shares=pos.borrow_shares)
        if not isinstance(plan, morpho_liq.MorphoLiquidation):
            if plan.code is not Code.ASSETS_EXCEED_BALANCE:
                return None
            # The collateral is worth less than the debt with the incentive: seize it
            # all; what it does not repay is bad debt.
            plan = morpho_liq.liquidate(book.market, pos, price, self.params,
                                        seized_assets=pos.collateral)
            event = MorphoLiquidate(keeper_id, borrower, name, seized_assets=pos.collateral)
            if not isinstance(plan, morpho_liq.MorphoLiquidation):
                return None
        cost = plan.repaid_assets / self.loan_unit * loan_price
        if capital is not None and cost > capital:
            # What its capital reaches: that share of the borrow shares.
            shares = int(pos.borrow_shares * (capital / cost))
            if shares <= 0:
                return None
            plan = morpho_liq.liquidate(book.market, pos, price, self.params,
                                        repaid_shares=shares)
            event = MorphoLiquidate(keeper_id, borrower, name, repaid_shares=shares)
            if not isinstance(plan, morpho_liq.MorphoLiquidation):
                return None
            cost = plan.repaid_assets / self.loan_unit * loan_price
        if self.sale_value(plan.seized_assets, i) - cost - gas < min_profit:
            return None
        return event, cost

    def end_reasons(self, step: int) -> dict[str, str]:
        """Why each position still unhealthy at ``step`` (the last) was not liquidated:
        each keeper's own decision (:meth:`plan`) asked again with its gas, minimum profit
        and capital, then once more with no gas, no minimum and no capital limit
        (``would_pay``, ``gas_cost``, ``no_profit``, ``gas_blocked``, ``no_keeper``: the
        keys of ``sim/explain.END_REASONS``)."""
        active = [k for k in self.keepers if k.spec.max_gas_gwei is None
                  or float(self.gas[step]) <= float(k.spec.max_gas_gwei)]
        gas = self.gas_usd("liquidate", step)
        out = {}
        for borrower in self.scan():
            if not self.keepers:
                out[borrower] = "no_keeper"
            elif not active:
                out[borrower] = "gas_blocked"
            elif any(self.plan(k.spec.id, borrower, step, gas, float(k.spec.min_profit),
                               None if k.spec.flash_loan else k.capital) is not None
                     for k in active):
                out[borrower] = "would_pay"
            elif self.plan("", borrower, step, 0.0, 0.0, None) is not None:
                out[borrower] = "gas_cost"
            else:
                out[borrower] = "no_profit"
        return out

    def underwater_accounts(self) -> list[str]:
        """Positions whose debt is above their collateral at the oracle, by id."""
        book = self.book_now()
        price = self.oracle()
        return [a for a, p in sorted(book.positions.items()) if p.borrow_shares
                and morpho_rules.borrowed_assets(p, book.market) > morpho_rules.mul_div_down(
                    p.collateral, price, morpho_rules.ORACLE_PRICE_SCALE)]

    def keeper_act(self, keeper: KeeperState, i: int, unsafe: Sequence[str]) -> None:
        """``liquidate`` every ready unhealthy position when the sale pays (:meth:`plan`)."""
        loan_price = self.engine.prices[self.loan] / PRICE_UNIT
        for borrower in unsafe:
            if not keeper.ready(("morpho", borrower), i):
                continue
            gas = self.gas_usd("liquidate", i)
            decided = self.plan(keeper.spec.id, borrower, i, gas, float(keeper.spec.min_profit),
                                None if keeper.spec.flash_loan else keeper.capital)
            if decided is None:
                continue
            event, _ = decided
            book = self.book_now()
            pos = book.position(borrower)
            price = self.oracle()
            before = self.position_ltv(book, pos, price)
            out = self.apply(event)
            if not out.accepted:
                continue
            d = out.details
            repaid_cost = d["repaid_assets"] / self.loan_unit * loan_price
            self.repaid += d["repaid_assets"]
            self.seized += d["seized_assets"]
            self.bad_debt_assets += d["bad_debt_assets"]
            self.bad_debt_realized_base += self.usd(d["bad_debt_assets"], self.loan, True)
            loss = borrower_loss(d["seized_assets"], self.engine.prices[self.collateral],
                                 self.coll_unit, d["repaid_assets"] + d["bad_debt_assets"],
                                 self.engine.prices[self.loan], self.loan_unit)
            self.count_liquidation(borrower, i, repaid_cost, loss)
            after = self.book_now()
            self.ltv_log.append({"account": borrower, "step": i, "ltv_before": before,
                                 "ltv_after": self.position_ltv(
                                     after, after.position(borrower), self.oracle())})
            proceeds = self.sell_collateral(d["seized_assets"], i)
            keeper.capital += proceeds - repaid_cost - gas
            keeper.profit += proceeds - repaid_cost - gas
            keeper.gas_spent += gas
            keeper.actions += 1

    def position_ltv(self, book: MorphoBook, pos: morpho_rules.Position, price: int) -> float:
        """Debt over collateral value at the oracle price (0 without debt)."""
        if not pos.borrow_shares:
            return 0.0
        coll = morpho_rules.mul_div_down(pos.collateral, price,
                                         morpho_rules.ORACLE_PRICE_SCALE)
        debt = morpho_rules.borrowed_assets(pos, book.market)
        return debt / coll if coll else float("inf")

    def family_summary(self) -> dict[str, Any]:
        """The market's totals, the LIF, what moved."""
        m = self.book_now().market
        u = self.loan_unit
        return {
            "family": "morpho-blue", "market": self.market_name,
            "lltv": self.params.lltv / WAD,
            "liquidation_incentive_factor":
                morpho_liq.liquidation_incentive_factor(self.params.lltv) / WAD,
            "total_supply": m.total_supply_assets / u,
            "total_borrow": m.total_borrow_assets / u,
            "supplied": self.supplied / u, "borrowed": self.borrowed / u,
            "repaid": self.repaid / u, "bad_debt_assets": self.bad_debt_assets / u,
            "collateral_seized": self.seized / self.coll_unit,
            "positions_open": sum(1 for p in self.book_now().positions.values()
                                  if p.borrow_shares),
        }


FAMILY_RUNNERS[LiquidationMechanism.LIQUITY] = LiquityCascadeRunner
FAMILY_RUNNERS[LiquidationMechanism.MORPHO] = MorphoCascadeRunner

__all__ = ["FamilyRunner", "LiquityCascadeRunner", "MorphoCascadeRunner"]
