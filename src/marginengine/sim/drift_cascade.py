"""Drift v2 cross margin in the cascade simulator: accounts holding the scenario's
collateral (a spot market of ``config.drift``), borrowing the quote (``drift.quote``,
USDC) and, with ``[drift_perps]``, holding a perp position, liquidated with
``liquidate_perp``, ``liquidate_spot``, ``resolve_perp_bankruptcy`` and
``resolve_spot_bankruptcy`` on the cascade's price paths, gas and venues.

Set-up (one batch): each keeper deposits its ``capital`` of the quote (Drift's liquidator
takes the liability or the base over into its own account, which must then meet its
initial margin); each book borrower deposits its collateral and withdraws the quote beyond
its deposit (a borrow: the initial margin check refuses what the collateral does not
cover); the explicit accounts' deposits and borrows. Drift has no lenders in the engine
(its spot pools are not modelled), so ``liquidity`` is refused. With ``[drift_perps]``:
the perp market is marked at its ``underlying``'s oracle (every step, after the oracles
publish); a ``share`` of the book's accounts (drawn from the run's generator, in the
book's order) fill a position of ``notional`` times their collateral's step-0 value,
long with probability ``long_share``, rounded down to the step size; the explicit
``positions`` fill at their entry price. A fill refused by the initial margin check
counts in ``setup_rejected``.

Every step, after the oracles publish:

1. the scan: the accounts below their maintenance margin requirement, by id;
2. keepers, in the step's seeded order, for every such account each has seen for its
   latency:

   a. ``liquidate_perp`` when it holds base in the perp market: the base that restores
      the margin with the buffer (``drift_perp_liq_plan``, as
      ``engine/drift_handlers.py``) moves to the keeper at the oracle price less the
      liquidator's fee (the insurance fund's fee on top, into the market's fee pool),
      when unwinding it on the underlying's venue (selling a long, buying back a short)
      pays the transfer, the gas (``gas_used.liquidate``) and ``min_profit``; the keeper
      then closes the base with a fill at the venue's price (``unwind``), which moves the
      venue;
   b. ``liquidate_spot(collateral, quote)`` when it is still below maintenance: the
      liability transfer Drift allows (enough to cover the margin shortage at the
      liquidation multipliers, at most the liability and what the asset implies:
      ``liquidation/drift.py``), when selling the asset it receives on the venue pays the
      transfer, the gas and ``min_profit``; it then withdraws the asset and sells it;
   b'. with ``pnl_for_deposit = true``,
      ``liquidate_perp_pnl_for_deposit(perp, collateral)`` when it is still below
      maintenance with no base left and a negative perp quote beside its collateral: the
      quote covering the shortage (``drift_perp_pnl_liq_plan``) moves to the keeper's
      perp position for the collateral, when selling that collateral on the venue pays
      the quote, the gas and ``min_profit``; it then withdraws the collateral and sells
      it (the account may be left bankrupt, for c.);
   c. ``resolve_perp_bankruptcy`` when the account is then cross-margin bankrupt (a
      liability and nothing else) with a negative perp quote: the insurance fund
      (``drift.insurance_fund``) pays first, the market's fee pool next, the rest is
      socialized over the market's open positions through the cumulative funding rates
      (gas ``gas_used.resolve_bankruptcy``; no reward, as in Drift);
   d. ``resolve_spot_bankruptcy(quote)`` when the account is then cross-margin bankrupt
      and owes the quote: the quote's insurance fund (``drift.insurance_fund``, the same
      vault) pays at most what it holds less 1, the rest is taken from the quote's
      deposits (the keepers' and any explicit account's) by lowering the cumulative
      deposit interest (gas ``gas_used.resolve_bankruptcy``; no reward). A keeper's
      deposit cut counts against its profit.

Figures: ``bad_debt_realized`` is what perp and spot bankruptcies cleared (paid by the
fund, the fee pool, the other positions and the quote's depositors),
``bad_debt_underwater`` the liabilities above the assets and the perp PnL of open
accounts at the oracle price;
``health_p05`` / ``health_p50`` the maintenance total collateral over the requirement;
``family`` the totals and what moved (conservation: see
:meth:`DriftCascadeRunner.family_summary`). Extra series: ``below_maintenance``
(accounts) and ``margin_shortage`` (quote, whole); with ``[drift_perps]`` also per step
``perp_liquidations``, ``perp_liquidator_fees``, ``perp_if_fees``, ``perp_bankruptcies``,
``insurance_paid``, ``fee_pool_paid`` and ``socialized_loss`` (quote, whole). Once a
perp PnL liquidation happens, ``family.perps.pnl_for_deposit`` (counts and totals); once a
spot bankruptcy happens (only then, so runs without one keep their figures):
``family.spot_bankruptcies`` and the series ``spot_bankruptcies``,
``spot_insurance_paid`` and ``spot_socialized_loss`` (quote, whole; 0 at the steps
before the first).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.engine import (
    DriftDeposit,
    DriftLiquidatePerp,
    DriftLiquidatePerpPnlForDeposit,
    DriftLiquidateSpot,
    DriftPerpTrade,
    DriftResolvePerpBankruptcy,
    DriftResolveSpotBankruptcy,
    DriftWithdraw,
    SetPrice,
)
from marginengine.engine.family_state import (
    DRIFT_PRICE_SCALE,
    DriftBook,
    drift_is_bankrupt,
    drift_margin,
    drift_perp_liq_plan,
    drift_perp_pnl_liq_plan,
    drift_price,
    drift_slot,
    drift_spot_liq_plan,
    drift_step_floor,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin import drift as drift_rules
from marginengine.sim.agents import KeeperState
from marginengine.sim.cascade import FAMILY_RUNNERS, CascadeRunner
from marginengine.sim.cascade_config import CascadeFile
from marginengine.sim.metrics import borrower_loss
from marginengine.sim.quote_borrowers import QuoteBorrowerRunner

MAINTENANCE = drift_rules.MarginRequirementType.MAINTENANCE
#: Drift's perp base precision (``BASE_PRECISION``) and quote precision.
BASE = drift_rules.AMM_RESERVE_PRECISION
QUOTE = drift_rules.QUOTE_PRECISION
#: The per-step perp series (quote amounts in whole quote tokens).
PERP_COLUMNS = ("perp_liquidations", "perp_liquidator_fees", "perp_if_fees",
                "perp_bankruptcies", "insurance_paid", "fee_pool_paid", "socialized_loss")
#: The exact perp counters (quote 1e6) of the summary, by name.
PERP_COUNTERS = ("opened_quote", "unwind_quote", "liquidator_fees", "if_fees",
                 "bankrupt_loss", "insurance_paid", "fee_pool_paid", "loss_to_socialize",
                 "socialized_charged", "base_liquidated", "quote_liquidated")
#: The per-step spot bankruptcy series (added at the first one; quote in whole tokens).
SPOT_COLUMNS = ("spot_bankruptcies", "spot_insurance_paid", "spot_socialized_loss")
#: The exact spot bankruptcy counters (the quote's smallest units), by name.
SPOT_COUNTERS = ("borrow_cleared", "insurance_paid", "loss_to_socialize",
                 "socialized_charged", "keepers_charged")


class DriftCascadeRunner(QuoteBorrowerRunner):
    """Drift v2 cross-margin accounts in a cascade (see the module docstring)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        cfg = protocol.drift
        assert cfg is not None  # the mechanism needs a [drift] table
        super().__init__(spec, protocol, rng, cfg.quote, feedback=feedback,
                         log_path=log_path, shared=shared)
        self.cfg = cfg
        self.shortage = 0
        #: The perp market and its underlying (``[drift_perps]``), or ``None``.
        dp = spec.drift_perps
        self.perp: str | None = dp.market if dp is not None else None
        self.underlying = (dp.underlying or spec.price.asset) if dp is not None else ""
        self.drawn: list[tuple[str, int, int]] = []
        #: Exact perp counters (quote 1e6, base 1e9) and the counts.
        self.perp_totals = dict.fromkeys(PERP_COUNTERS, 0)
        self.perp_counts = {"positions_opened": 0, "setup_rejected": 0, "liquidations": 0,
                            "unwinds": 0, "bankruptcies": 0, "bankruptcies_refused": 0}
        self.perp_step = dict.fromkeys(PERP_COLUMNS, 0)
        self.fund_start = 0
        self.fee_pool_start = 0
        #: Exact spot bankruptcy counters and counts, the step's figures.
        self.spot_totals = dict.fromkeys(SPOT_COUNTERS, 0)
        self.spot_counts = {"bankruptcies": 0, "refused": 0}
        self.spot_step = dict.fromkeys(SPOT_COLUMNS, 0)
        #: ``liquidate_perp_pnl_for_deposit``: count, quote (1e6) and collateral moved.
        self.pnl_liq = {"liquidations": 0, "pnl_transfer": 0, "asset_transfer": 0}

    def deposit_event(self, account: str, asset: str, amount: int) -> DriftDeposit:
        """``DriftDeposit``."""
        return DriftDeposit(account, asset, amount)

    def borrow_event(self, account: str, asset: str, amount: int) -> DriftWithdraw:
        """``DriftWithdraw`` beyond the deposit."""
        return DriftWithdraw(account, asset, amount)

    def slot(self) -> int:
        """Drift's slot now (the engine's clock at ``drift.slot_ms``), as the handlers
        read it."""
        return drift_slot(self.protocol, self.engine.state.ledger.time)

    def book_now(self) -> DriftBook:
        """The engine's Drift book."""
        book = self.engine.state.family
        assert isinstance(book, DriftBook)  # a drift preset always has one
        return book

    def margin(self, account: str, buffer: int = 0) -> drift_rules.MarginCalculation:
        """``account``'s maintenance margin calculation at the engine's prices
        (``buffer``: the liquidation context's margin buffer, 1e4)."""
        return drift_margin(self.protocol, self.book_now(), self.engine.prices, account,
                            MAINTENANCE, buffer)

    def debtors(self) -> list[str]:
        """Accounts that owe the quote, by id."""
        return sorted(a for a, x in self.book_now().accounts.items()
                      if x.spot.get(self.quote, 0) < 0)

    def exposed(self) -> list[str]:
        """Accounts that owe the quote, hold perp base or owe a perp quote, by id (the
        debtors when no account holds a perp)."""
        return sorted(a for a, x in self.book_now().accounts.items()
                      if x.spot.get(self.quote, 0) < 0
                      or any(b or q < 0 for b, q in x.perps.values()))

    # ------------------------------------------------------------------ set-up
    def draw_book(self, debt_unit: int) -> list[tuple[str, int, int]]:
        """The synthetic book (kept, for the perp positions drawn over it)."""
        self.drawn = super().draw_book(debt_unit)
        return self.drawn

    def set_prices(self) -> None:
        """Step-0 prices, the perp market marked at its underlying's."""
        super().set_prices()
        self.mark_perp()

    def mark_perp(self) -> None:
        """``SetPrice`` of the perp market at its underlying's oracle price."""
        if self.perp is not None:
            self.apply(SetPrice(self.perp, self.engine.prices[self.underlying]))

    def after_oracles(self, i: int) -> None:
        """The perp market follows its underlying's oracle; the step's perp figures
        start at 0."""
        self.mark_perp()
        self.perp_step = dict.fromkeys(PERP_COLUMNS, 0)
        self.spot_step = dict.fromkeys(SPOT_COLUMNS, 0)

    def setup(self) -> None:
        """The quote borrowers' set-up, then the perp positions (``[drift_perps]``)."""
        super().setup()
        book = self.book_now()
        self.fund_start = book.insurance_fund
        self.fee_pool_start = sum(book.fee_pools.values())
        dp = self.spec.drift_perps
        if dp is None or self.perp is None:
            return
        step = self.cfg.perps[self.perp].order_step_size
        price = drift_price(self.engine.prices, self.perp)
        wanted: list[tuple[str, int, int]] = []
        coll_price = self.engine.prices[self.collateral]
        for account, coll, _ in self.drawn:
            holds = self.rng.random() < float(dp.share)
            long = self.rng.random() < float(dp.long_share)
            if not holds or not coll:
                continue
            # notional x the collateral's step-0 value, in base at the perp's price
            value = coll * coll_price * int(dp.notional * 10**6) // (self.coll_unit * 10**6)
            base = drift_step_floor(value * BASE // (price * DRIFT_PRICE_SCALE), step)
            if base:
                wanted.append((account, base if long else -base, price))
        for pos in dp.positions:
            entry = (price if pos.entry_price is None
                     else int(pos.entry_price * drift_rules.PRICE_PRECISION))
            wanted.append((pos.account, int(pos.base * BASE), entry))
        for account, base, entry in wanted:
            # a long pays the value rounded up, a short receives it rounded down
            value = abs(base) * entry
            quote = value // BASE if base < 0 else -((value + BASE - 1) // BASE)
            if self.apply(DriftPerpTrade(account, self.perp, base, quote)).accepted:
                self.perp_counts["positions_opened"] += 1
                self.perp_totals["opened_quote"] += quote
            else:
                self.perp_counts["setup_rejected"] += 1
                self.rejected_setup += 1
        self.borrowers = self.exposed()

    # ------------------------------------------------------------------ figures
    def margin_shortage_row(self) -> tuple[int, int]:
        """Accounts below maintenance and their total shortage (quote 1e6)."""
        below = [m for m in (self.margin(a) for a in self.exposed()) if not m.meets]
        return len(below), sum(-m.free_collateral for m in below)

    def family_columns(self) -> tuple[str, ...]:
        """``below_maintenance`` (accounts), ``margin_shortage`` (whole quote); with
        ``[drift_perps]`` the step's perp figures."""
        perps = PERP_COLUMNS if self.spec.drift_perps is not None else ()
        return ("below_maintenance", "margin_shortage", *perps)

    def family_row(self) -> dict[str, float]:
        """Accounts below maintenance and their total shortage; the step's perp figures."""
        count, shortage = self.margin_shortage_row()
        row = {"below_maintenance": float(count),
               "margin_shortage": shortage / drift_rules.QUOTE_PRECISION}
        if self.spec.drift_perps is not None:
            for name in PERP_COLUMNS:
                value = self.perp_step[name]
                counted = name in ("perp_liquidations", "perp_bankruptcies")
                row[name] = float(value) if counted else value / QUOTE
        if self.spot_counts["bankruptcies"]:
            for name in SPOT_COLUMNS:
                value = self.spot_step[name]
                row[name] = float(value) if name == "spot_bankruptcies" \
                    else value / self.quote_unit
        return row

    def scan(self) -> list[str]:
        """Accounts below their maintenance margin requirement, by id."""
        return [a for a in self.exposed() if not self.margin(a).meets]

    def healths(self) -> list[float]:
        """Maintenance total collateral over the requirement, per exposed account."""
        out = []
        for a in self.exposed():
            m = self.margin(a)
            if m.margin_requirement > 0:
                out.append(m.total_collateral / m.margin_requirement)
        return out

    def underwater_base(self) -> int:
        """Liabilities above assets (unweighted) and perp PnL of the open accounts, base
        units."""
        total = 0
        for a in self.exposed():
            x = self.book_now().account(a)
            assets = sum(self.usd(n, m) for m, n in x.spot.items() if n > 0)
            liabilities = sum(self.usd(-n, m, True) for m, n in x.spot.items() if n < 0)
            pnl = 0
            for market, (base, quote) in x.perps.items():
                if base or quote:
                    # PnL counts in the quote at 1 (Drift's perp quote price)
                    price = drift_price(self.engine.prices, market)
                    pnl += (base * price // BASE + quote) * DRIFT_PRICE_SCALE
            total += max(0, liabilities - assets - pnl)
        return total

    # ------------------------------------------------------------------ keepers
    def plan(self, account: str) -> tuple[int, int]:
        """``(liability transfer, asset transfer)`` that ``liquidate_spot`` would make now
        without a maximum (:func:`drift_spot_liq_plan`, as ``engine/drift_handlers.py``)."""
        drift = self.protocol.drift
        assert drift is not None  # a Drift cascade runs only with [drift]
        calc = self.margin(account, drift.margin_buffer())
        held = self.book_now().account(account).spot
        if calc.meets or held.get(self.collateral, 0) <= 0 or held.get(self.quote, 0) >= 0:
            return 0, 0
        plan = drift_spot_liq_plan(self.protocol, self.book_now(), self.engine.prices,
                                   account, self.collateral, self.quote, calc,
                                   slot=self.slot())
        return plan.liability_transfer, plan.asset_transfer

    def underlying_units(self, base: int) -> int:
        """Perp base (1e9) in the underlying's smallest units (rounded down)."""
        return abs(base) * self.protocol.markets[self.underlying].unit // BASE

    def venue_fill(self, base: int, i: int, execute: bool) -> int:
        """Quote (1e6, signed: received) for trading ``-base`` of the underlying now: a
        long ``base`` is sold (rounded down), a short one bought back (rounded up), on its
        venue (or at its external price); ``execute`` trades, else only quotes."""
        market = self.markets[self.underlying]
        amount = self.underlying_units(base)
        unit: int = market.quote_unit
        native: int
        if not self.trades_on_venue(market):
            value = amount * int(market.external) * unit
            den = market.base_unit * PRICE_UNIT
            native = value // den if base > 0 else -(-value // den)
        elif base > 0:
            native = market.sell(amount) if execute else market.quote_out(amount)
        else:
            native = market.buy(amount) if execute else market.buy_cost(amount)
        scaled = native * QUOTE
        quote: int = scaled // unit if base > 0 else -(-scaled // unit)
        return quote if base > 0 else -quote

    def keeper_act(self, keeper: KeeperState, i: int, unsafe: Sequence[str]) -> None:
        """For every ready account below maintenance: ``liquidate_perp`` when the unwind
        pays, ``liquidate_spot`` when the sale pays, ``resolve_perp_bankruptcy`` and
        ``resolve_spot_bankruptcy`` when it is then bankrupt."""
        for account in unsafe:
            if account == keeper.spec.id or not keeper.ready(("drift", account), i):
                continue
            if self.perp is not None:
                self.liquidate_perp(keeper, account, i)
            self.liquidate_spot(keeper, account, i)
            if self.perp is not None:
                if self.spec.drift_perps is not None and self.spec.drift_perps.pnl_for_deposit:
                    self.liquidate_pnl_for_deposit(keeper, account, i)
                self.resolve_bankruptcy(keeper, account, i)
            self.resolve_spot_bankruptcy(keeper, account, i)

    def liquidate_perp(self, keeper: KeeperState, account: str, i: int) -> None:
        """``liquidate_perp`` of ``account``'s perp position when unwinding pays."""
        assert self.perp is not None
        market, dp = self.perp, self.spec.drift_perps
        assert dp is not None
        base = self.book_now().account(account).perps.get(market, (0, 0))[0]
        calc = self.margin(account, self.cfg.margin_buffer())
        if base == 0 or calc.meets:
            return
        plan = drift_perp_liq_plan(self.protocol, self.book_now(), self.engine.prices,
                                   account, market, calc, slot=self.slot())
        if plan.base_transfer <= 0:
            return
        quote_price = self.engine.prices[self.quote] / PRICE_UNIT
        sign = 1 if base > 0 else -1
        taken = sign * plan.base_transfer          # what the keeper's position gains
        # the keeper pays the value less its fee for a long, receives it plus the fee
        # for a short; unwinding closes ``taken`` at the venue (marked at the oracle
        # without an unwind)
        paid = -sign * plan.quote_transfer + plan.liquidator_fee
        fill = (self.venue_fill(taken, i, execute=False) if dp.unwind
                else sign * plan.quote_transfer)
        gas = self.gas_usd("liquidate", i)
        if (fill + paid) / QUOTE * quote_price - gas < float(keeper.spec.min_profit):
            return
        out = self.apply(DriftLiquidatePerp(keeper.spec.id, account, market))
        if not out.accepted:
            return   # e.g. the keeper's own initial margin would fail
        d = out.details
        t = self.perp_totals
        t["liquidator_fees"] += d["liquidator_fee"]
        t["if_fees"] += d["if_fee"]
        t["base_liquidated"] += d["base_transfer"]
        t["quote_liquidated"] += d["quote_transfer"]
        self.perp_counts["liquidations"] += 1
        self.perp_step["perp_liquidations"] += 1
        self.perp_step["perp_liquidator_fees"] += d["liquidator_fee"]
        self.perp_step["perp_if_fees"] += d["if_fee"]
        fees = d["liquidator_fee"] + d["if_fee"]
        loss = fees * self.engine.prices[self.quote] // QUOTE
        self.count_liquidation(account, i, d["quote_transfer"] / QUOTE * quote_price, loss)
        taken = sign * d["base_transfer"]
        realized = sign * d["quote_transfer"]     # held: marked at the oracle
        if dp.unwind:
            fill = self.venue_fill(taken, i, execute=False)
            if self.apply(DriftPerpTrade(keeper.spec.id, market, -taken, fill)).accepted:
                executed = self.venue_fill(taken, i, execute=True)
                assert executed == fill  # nothing moved the venue in between
                t["unwind_quote"] += fill
                self.perp_counts["unwinds"] += 1
                realized = fill
        earned = (realized - sign * d["quote_transfer"] + d["liquidator_fee"]) / QUOTE \
            * quote_price - gas
        keeper.capital += earned
        keeper.profit += earned
        keeper.gas_spent += gas
        keeper.actions += 1

    def liquidate_spot(self, keeper: KeeperState, account: str, i: int) -> None:
        """``liquidate_spot(collateral, quote)`` of ``account`` when selling the asset
        received pays the liability taken over, the gas and ``min_profit``."""
        quote_price = self.engine.prices[self.quote] / PRICE_UNIT
        transfer, asset = self.plan(account)
        if transfer <= 0 or asset <= 0:
            return
        cost = transfer / self.quote_unit * quote_price
        gas = self.gas_usd("liquidate", i)
        if self.sale_value(asset, i) - cost - gas < float(keeper.spec.min_profit):
            return
        before = self.account_ltv(account)
        shortage = -self.margin(account).free_collateral
        out = self.apply(DriftLiquidateSpot(keeper.spec.id, account, self.collateral,
                                            self.quote))
        if not out.accepted:
            return   # e.g. the keeper's own initial margin would fail
        d = out.details
        self.liability_moved += d["liability_transfer"]
        self.asset_moved += d["asset_transfer"]
        self.shortage += shortage
        loss = borrower_loss(d["asset_transfer"], self.engine.prices[self.collateral],
                             self.coll_unit, d["liability_transfer"],
                             self.engine.prices[self.quote], self.quote_unit)
        paid = d["liability_transfer"] / self.quote_unit * quote_price
        self.count_liquidation(account, i, paid, loss)
        self.ltv_log.append({"account": account, "step": i, "ltv_before": before,
                             "ltv_after": self.account_ltv(account)})
        # The keeper now holds the asset and owes the quote it took over (paid out of
        # its deposit): it withdraws the asset (its initial margin still met) and
        # sells it.
        self.sell_received(keeper, d["asset_transfer"], paid, gas, i)

    def sell_received(self, keeper: KeeperState, amount: int, paid: float, gas: float,
                      i: int) -> None:
        """The keeper withdraws the ``amount`` of collateral a liquidation gave it (when
        its initial margin still allows) and sells it; its capital and profit move by the
        proceeds less the quote ``paid`` and the ``gas``."""
        proceeds = 0.0
        if self.apply(DriftWithdraw(keeper.spec.id, self.collateral, amount)).accepted:
            self.asset_withdrawn += amount
            proceeds = self.sell_collateral(amount, i)
        keeper.capital += proceeds - paid - gas
        keeper.profit += proceeds - paid - gas
        keeper.gas_spent += gas
        keeper.actions += 1

    def liquidate_pnl_for_deposit(self, keeper: KeeperState, account: str, i: int) -> None:
        """``liquidate_perp_pnl_for_deposit(perp, collateral)`` of ``account`` (no base, a
        negative quote, collateral left, below maintenance) when selling the collateral
        received pays the quote taken over, the gas and ``min_profit``."""
        assert self.perp is not None
        held = self.book_now().account(account)
        base, quote = held.perps.get(self.perp, (0, 0))
        if base != 0 or quote >= 0 or held.spot.get(self.collateral, 0) <= 0:
            return
        calc = self.margin(account, self.cfg.margin_buffer())
        if calc.meets:
            return
        plan = drift_perp_pnl_liq_plan(self.protocol, self.book_now(), self.engine.prices,
                                       account, self.perp, self.collateral, calc,
                                       slot=self.slot())
        if plan.pnl_transfer <= 0 or plan.asset_transfer <= 0:
            return
        quote_price = self.engine.prices[self.quote] / PRICE_UNIT
        cost = plan.pnl_transfer / QUOTE * quote_price
        gas = self.gas_usd("liquidate", i)
        if self.sale_value(plan.asset_transfer, i) - cost - gas < float(keeper.spec.min_profit):
            return
        out = self.apply(DriftLiquidatePerpPnlForDeposit(keeper.spec.id, account, self.perp,
                                                         self.collateral))
        if not out.accepted:
            return   # e.g. the keeper's own initial margin would fail
        d = out.details
        self.pnl_liq["liquidations"] += 1
        self.pnl_liq["pnl_transfer"] += d["pnl_transfer"]
        self.pnl_liq["asset_transfer"] += d["asset_transfer"]
        paid = d["pnl_transfer"] / QUOTE * quote_price
        loss = borrower_loss(d["asset_transfer"], self.engine.prices[self.collateral],
                             self.coll_unit, d["pnl_transfer"], self.engine.prices[self.quote],
                             QUOTE)
        self.count_liquidation(account, i, paid, loss)
        # the keeper holds the collateral and a negative quote in the perp market (no
        # settle_pnl in the engine): it withdraws the collateral and sells it
        self.sell_received(keeper, d["asset_transfer"], paid, gas, i)

    def resolve_bankruptcy(self, keeper: KeeperState, account: str, i: int) -> None:
        """``resolve_perp_bankruptcy`` of ``account`` when it is bankrupt with a negative
        perp quote (a public service: the keeper only pays the gas)."""
        assert self.perp is not None
        book = self.book_now()
        if book.account(account).perps.get(self.perp, (0, 0))[1] >= 0 \
                or not drift_is_bankrupt(book, account):
            return
        out = self.apply(DriftResolvePerpBankruptcy(keeper.spec.id, account, self.perp))
        if not out.accepted:
            self.perp_counts["bankruptcies_refused"] += 1  # no position left to share it
            return
        d = out.details
        t = self.perp_totals
        t["bankrupt_loss"] += d["loss"]
        t["insurance_paid"] += d["if_payment"]
        t["fee_pool_paid"] += d["fee_pool_payment"]
        t["loss_to_socialize"] += d["loss_to_socialize"]
        t["socialized_charged"] += d["socialized_charged"]
        self.perp_counts["bankruptcies"] += 1
        self.perp_step["perp_bankruptcies"] += 1
        self.perp_step["insurance_paid"] += d["if_payment"]
        self.perp_step["fee_pool_paid"] += d["fee_pool_payment"]
        self.perp_step["socialized_loss"] += d["loss_to_socialize"]
        self.bad_debt_realized_base += d["loss"] * self.engine.prices[self.quote] // QUOTE
        gas = self.gas_usd("resolve_bankruptcy", i)
        keeper.capital -= gas
        keeper.profit -= gas
        keeper.gas_spent += gas
        keeper.actions += 1

    def resolve_spot_bankruptcy(self, keeper: KeeperState, account: str, i: int) -> None:
        """``resolve_spot_bankruptcy(quote)`` of ``account`` when it is bankrupt and owes
        the quote (a public service: the keeper pays the gas; its deposit shares the
        loss like any other)."""
        book = self.book_now()
        if book.account(account).spot.get(self.quote, 0) >= 0 \
                or not drift_is_bankrupt(book, account):
            return
        out = self.apply(DriftResolveSpotBankruptcy(keeper.spec.id, account, self.quote))
        if not out.accepted:
            self.spot_counts["refused"] += 1   # e.g. more than the deposits hold
            return
        d = out.details
        if not self.spot_counts["bankruptcies"]:
            # the first: the series start here, 0 at the steps recorded before
            recorded = len(self.series["below_maintenance"])
            for name in SPOT_COLUMNS:
                self.series[name] = [0.0] * recorded
        t = self.spot_totals
        t["borrow_cleared"] += d["borrow_amount"]
        t["insurance_paid"] += d["if_payment"]
        t["loss_to_socialize"] += d["loss_to_socialize"]
        t["socialized_charged"] += d["socialized_charged"]
        self.spot_counts["bankruptcies"] += 1
        self.spot_step["spot_bankruptcies"] += 1
        self.spot_step["spot_insurance_paid"] += d["if_payment"]
        self.spot_step["spot_socialized_loss"] += d["loss_to_socialize"]
        self.bad_debt_realized_base += self.usd(d["borrow_amount"], self.quote)
        quote_price = self.engine.prices[self.quote] / PRICE_UNIT
        haircuts: dict[str, int] = d["haircuts"]
        for each in self.keepers:
            cut = haircuts.get(each.spec.id, 0)
            if cut:
                t["keepers_charged"] += cut
                each.capital -= cut / self.quote_unit * quote_price
                each.profit -= cut / self.quote_unit * quote_price
        gas = self.gas_usd("resolve_bankruptcy", i)
        keeper.capital -= gas
        keeper.profit -= gas
        keeper.gas_spent += gas
        keeper.actions += 1

    def account_ltv(self, account: str) -> float:
        """Quote owed over the collateral's value at the engine's prices."""
        held = self.book_now().account(account).spot
        owed = max(0, -held.get(self.quote, 0))
        coll = self.usd(max(0, held.get(self.collateral, 0)), self.collateral)
        debt = self.usd(owed, self.quote)
        return debt / coll if coll else (float("inf") if debt else 0.0)

    def family_summary(self) -> dict[str, Any]:
        """Totals and what moved. Conservation (native units, exact): the quote's balances
        sum to ``keeper_deposits - borrowed`` (a liquidation moves a liability from the
        account to the keeper; no quote enters or leaves); the collateral's balances sum to
        ``collateral_in - asset_withdrawn``. With ``[drift_perps]``, ``perps`` (quote
        1e6 in ``exact``): every bankrupt loss is paid, ``bankrupt_loss = insurance_paid +
        fee_pool_paid + loss_to_socialize``; the perp quotes, the insurance fund and the
        fee pools sum to what came in, ``perp_quote + insurance_fund + fee_pools +
        socialized_charged - loss_to_socialize = opened_quote + unwind_quote + fund_start
        + fee_pool_start`` (a liquidation moves quote between two accounts and the fee
        pool; a bankruptcy clears a loss the fund, the pool and the positions pay; with
        spot bankruptcies add ``spot_insurance_paid`` on the left: the same fund paid
        them). With spot bankruptcies, ``spot_bankruptcies`` (``exact`` in the quote's
        units): ``borrow_cleared = insurance_paid + loss_to_socialize``, the deposits
        lost ``socialized_charged`` (at least ``loss_to_socialize``: rounding), and the
        quote's balances sum to ``keeper_deposits - borrowed + borrow_cleared -
        socialized_charged``."""
        book = self.book_now()
        q = sum(x.spot.get(self.quote, 0) for x in book.accounts.values())
        c = sum(x.spot.get(self.collateral, 0) for x in book.accounts.values())
        u, cu = self.quote_unit, self.coll_unit
        out: dict[str, Any] = {
            "family": "drift-v2", "quote": self.quote,
            "borrowed": self.borrowed / u, "liability_transferred": self.liability_moved / u,
            "collateral_transferred": self.asset_moved / cu,
            "collateral_withdrawn": self.asset_withdrawn / cu,
            "margin_shortage_liquidated": self.shortage / drift_rules.QUOTE_PRECISION,
            "accounts_in_debt": len(self.debtors()),
            "accounts_below_maintenance": len(self.scan()),
            "exact": {"keeper_deposits": self.keeper_deposits, "borrowed": self.borrowed,
                      "quote_balances": q, "collateral_in": self.collateral_in,
                      "collateral_balances": c, "collateral_withdrawn": self.asset_withdrawn,
                      "liability_transferred": self.liability_moved,
                      "collateral_transferred": self.asset_moved},
        }
        if self.perp is not None:
            out["perps"] = self.perp_summary(book)
            if self.spot_counts["bankruptcies"]:
                out["perps"]["exact"]["spot_insurance_paid"] = \
                    self.spot_totals["insurance_paid"]
        if self.spot_counts["bankruptcies"] or self.spot_counts["refused"]:
            t, u = self.spot_totals, self.quote_unit
            out["spot_bankruptcies"] = {
                **self.spot_counts,
                **{name: t[name] / u for name in SPOT_COUNTERS},
                "cumulative_deposit_interest": book.deposit_interest.get(self.quote),
                "exact": dict(t)}
        return out

    def summary(self) -> dict[str, Any]:
        """The cascade's figures; with perps or spot bankruptcies
        ``insurance_fund_drawdown`` is what Drift's insurance fund paid the bankruptcies
        (whole quote)."""
        out = super().summary()
        spot = self.spot_totals["insurance_paid"] / self.quote_unit
        if self.perp is not None:
            out["insurance_fund_drawdown"] = self.perp_totals["insurance_paid"] / QUOTE + spot
        elif self.spot_counts["bankruptcies"]:
            out["insurance_fund_drawdown"] = spot
        return out

    def perp_summary(self, book: DriftBook) -> dict[str, Any]:
        """The perp figures of :meth:`family_summary` (whole quote; ``exact`` in 1e6)."""
        assert self.perp is not None
        t = self.perp_totals
        positions = [x.perps.get(self.perp, (0, 0)) for x in book.accounts.values()]
        exact = {**t, "perp_quote": sum(p[1] for p in positions),
                 "insurance_fund": book.insurance_fund,
                 "fee_pools": sum(book.fee_pools.values()),
                 "fund_start": self.fund_start, "fee_pool_start": self.fee_pool_start,
                 "open_base": sum(abs(p[0]) for p in positions)}
        money = ("liquidator_fees", "if_fees", "bankrupt_loss", "insurance_paid",
                 "fee_pool_paid", "loss_to_socialize", "socialized_charged")
        extra: dict[str, Any] = {}
        if self.pnl_liq["liquidations"]:
            extra["pnl_for_deposit"] = {
                "liquidations": self.pnl_liq["liquidations"],
                "pnl_transferred": self.pnl_liq["pnl_transfer"] / QUOTE,
                "collateral_transferred": self.pnl_liq["asset_transfer"] / self.coll_unit,
                "exact": dict(self.pnl_liq)}
        return {"market": self.perp, "underlying": self.underlying, **self.perp_counts,
                **extra,
                **{name: t[name] / QUOTE for name in money},
                "base_liquidated": t["base_liquidated"] / BASE,
                "value_liquidated": t["quote_liquidated"] / QUOTE,
                "insurance_fund_start": self.fund_start / QUOTE,
                "insurance_fund_end": book.insurance_fund / QUOTE,
                "open_base": exact["open_base"] / BASE,
                "exact": exact}


FAMILY_RUNNERS[LiquidationMechanism.DRIFT] = DriftCascadeRunner

__all__ = ["DriftCascadeRunner"]
