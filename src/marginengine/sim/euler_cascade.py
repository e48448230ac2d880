"""Euler v2 in the cascade simulator: one Euler Vault Kit vault (``config.euler``) lending
its asset against the scenario's collateral, on the cascade's price paths, gas and venues.

Set-up (one batch): the vault's lenders ``deposit`` (``liquidity``, default twice the
book's debt); each book borrower deposits its collateral and ``borrow``s (the account
status check at the borrow LTV refuses what it does not cover: a set-up rejection); the
explicit accounts' deposits (vault asset: ``deposit``; collateral) and borrows.

Every step, after the oracles publish:

1. the scan: the violators (``calculateLiquidation``'s test: collateral at the ramping
   liquidation LTVs at most the liability), by id: the risk book's scan
   (:class:`~marginengine.scan.families.FamilyRiskBook`, a float64 screen over every
   account, the candidates confirmed exactly by the engine's margin interface);
2. keepers, in the step's seeded order: ``liquidate`` every violator each has seen for its
   latency, taking over the most allowed (the liability, or less when the yield is capped
   at the collateral's value; less when its capital does not reach), repaying it in the
   same EVC batch, when selling the yield on the venue pays the repayment, the gas
   (``gas_used.liquidate``) and ``min_profit``; it then withdraws the yield and sells it.
   When the violator's last collateral goes, the rest of its debt is socialized
   (``DebtSocialized``: the vault's depositors absorb it): the run's realized bad debt;
3. governance: ``family_agents.ltv_changes`` whose step it is (``setLTV``, the
   liquidation LTV ramping down over ``ramp_seconds``).

Figures: ``bad_debt_realized`` the socialized debt (USD at the step's price),
``bad_debt_underwater`` the debt above collateral of open accounts at the oracle price,
``health_p05``/``health_p50`` Euler's health score at the liquidation LTVs; ``family``
holds the vault's totals and what moved (their conservation: see
:meth:`EulerCascadeRunner.family_summary`). Extra series:
``liquidation_ltv`` (the collateral's, in force) and ``vault_cash`` (whole tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.engine import (
    EulerBorrow,
    EulerDeposit,
    EulerDepositCollateral,
    EulerLiquidate,
    EulerSetLTV,
    EulerWithdrawCollateral,
)
from marginengine.engine.family_state import (
    EULER_UNIT_SCALE,
    EulerBook,
    euler_collaterals,
    euler_price,
)
from marginengine.fixedpoint import PRICE_UNIT, parse_units
from marginengine.liquidation import euler as euler_liq
from marginengine.margin import euler as euler_rules
from marginengine.scan import FamilyRiskBook
from marginengine.sim.agents import KeeperState
from marginengine.sim.cascade import FAMILY_RUNNERS, CascadeRunner
from marginengine.sim.cascade_config import CascadeFile
from marginengine.sim.family_cascade import FamilyRunner
from marginengine.sim.metrics import borrower_loss


class EulerCascadeRunner(FamilyRunner):
    """An Euler v2 vault in a cascade (see the module docstring)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        super().__init__(spec, protocol, rng, feedback=feedback, log_path=log_path,
                         shared=shared)
        cfg = protocol.euler
        assert cfg is not None  # the mechanism needs an [euler] table
        self.cfg = cfg
        self.vault = cfg.vault
        self.vault_unit = protocol.markets[self.vault].unit
        self.deposited = 0
        self.borrowed = 0
        self.repaid = 0
        self.socialized = 0
        self.collateral_in = 0
        self.seized = 0
        self.withdrawn = 0
        self.ltv_changes: list[dict[str, Any]] = []
        #: The risk book's mirror of the accounts (made at the first scan, after set-up).
        self.risk_book: FamilyRiskBook | None = None

    def book_now(self) -> EulerBook:
        """The engine's Euler book."""
        book = self.engine.state.family
        assert isinstance(book, EulerBook)  # an euler preset always has one
        return book

    def collaterals(self, account: str) -> list[euler_rules.CollateralBalance]:
        """``account``'s collaterals priced as the engine's handlers price them."""
        return euler_collaterals(self.protocol, self.book_now(), self.engine.prices, account)

    def debt_price(self) -> int:
        """Euler's price of one base unit of the vault asset."""
        return euler_price(self.protocol, self.engine.prices, self.vault)

    def debtors(self) -> list[str]:
        """Accounts with debt, by id."""
        return sorted(a for a, x in self.book_now().accounts.items() if x.debt)

    def family_columns(self) -> tuple[str, ...]:
        """``liquidation_ltv`` (the headline collateral's, in force), ``vault_cash``."""
        return ("liquidation_ltv", "vault_cash")

    def family_row(self) -> dict[str, float]:
        """The collateral's liquidation LTV now and the vault's cash."""
        book = self.book_now()
        ltv = book.ltvs[self.collateral].get_ltv(self.engine.ledger.time, True)
        return {"liquidation_ltv": ltv / euler_rules.CONFIG_SCALE,
                "vault_cash": book.vault.cash / self.vault_unit}

    def setup(self) -> None:
        """Prices; the lenders' deposits; the book; the explicit accounts."""
        self.set_prices()
        spec = self.spec
        b = spec.book
        markets = self.protocol.markets
        supply = int(float(b.total_debt) * 2 * self.vault_unit)
        if self.vault in spec.liquidity:
            supply = parse_units(spec.liquidity[self.vault], markets[self.vault].decimals)
        self.deposit("lender", supply)
        wanted = self.draw_book(self.vault_unit)
        for extra in spec.accounts:
            if self.vault in extra.deposit:
                self.deposit(extra.id, parse_units(extra.deposit[self.vault],
                                                   markets[self.vault].decimals))
            coll = parse_units(extra.deposit.get(self.collateral, 0),
                               markets[self.collateral].decimals)
            draw = parse_units(extra.borrow.get(self.vault, 0), markets[self.vault].decimals)
            if coll or draw:
                wanted.append((extra.id, coll, draw))
        for account, coll, draw in wanted:
            if coll and self.apply(EulerDepositCollateral(account, self.collateral,
                                                          coll)).accepted:
                self.collateral_in += coll
            if draw:
                if self.apply(EulerBorrow(account, draw)).accepted:
                    self.borrowed += draw
                else:
                    self.rejected_setup += 1
        self.borrowers = self.debtors()

    def deposit(self, account: str, assets: int) -> None:
        """``deposit`` of ``assets`` into the vault (a refusal counts as a set-up
        rejection)."""
        if assets <= 0:
            return
        if self.apply(EulerDeposit(account, assets)).accepted:
            self.deposited += assets
        else:
            self.rejected_setup += 1

    def scan(self) -> list[str]:
        """The violators, by id: the risk book's scan
        (:class:`~marginengine.scan.families.FamilyRiskBook`: every account's collateral
        at the ramping liquidation LTVs against its debt screened in float64, the
        candidates confirmed by the engine's margin interface, whose Euler rule is
        ``is_violator``)."""
        if self.risk_book is None:
            self.risk_book = FamilyRiskBook(self.engine)
        return list(self.risk_book.scan().liquidatable)

    def healths(self) -> list[float]:
        """Every debtor's health score at the liquidation LTVs."""
        now, price = self.engine.ledger.time, self.debt_price()
        book = self.book_now()
        out = []
        for a in self.debtors():
            liq = euler_rules.calculate_liquidity(self.collaterals(a), book.accounts[a].debt,
                                                  price, now, liquidation=True)
            score = liq.health_score
            if score is not None:
                out.append(score / euler_rules.PRICE_SCALE)
        return out

    def underwater_base(self) -> int:
        """Debt above collateral (at full value) of the open accounts, base units."""
        price = self.debt_price()
        book = self.book_now()
        total = 0
        for a in self.debtors():
            coll = sum(euler_rules.quote(c.balance, c.price) for c in self.collaterals(a))
            debt = euler_rules.quote(book.accounts[a].debt, price)
            if debt > coll:
                total += -(-(debt - coll) // EULER_UNIT_SCALE)  # bad debt rounds up
        return total

    def plan(self, violator: str, repay: int | None) -> euler_liq.EulerLiquidation | None:
        """What ``liquidate`` of the headline collateral would do now (``None``: a
        refusal, or nothing to take)."""
        res = euler_liq.liquidate(self.collaterals(violator), self.collateral,
                                  self.book_now().account(violator).debt, self.debt_price(),
                                  self.cfg.max_liquidation_discount_scaled,
                                  self.engine.ledger.time, repay_assets=repay,
                                  socialize_debt=self.cfg.socialize_debt)
        if not isinstance(res, euler_liq.EulerLiquidation) or res.yield_balance == 0:
            return None
        return res

    def keeper_act(self, keeper: KeeperState, i: int, unsafe: Sequence[str]) -> None:
        """``liquidate`` every ready violator when the sale of the yield pays."""
        vault_price = self.engine.prices[self.vault] / PRICE_UNIT
        for violator in unsafe:
            if violator == keeper.spec.id or not keeper.ready(("euler", violator), i):
                continue
            plan = self.plan(violator, None)
            if plan is None:
                continue
            cost = plan.repay / self.vault_unit * vault_price
            if not keeper.spec.flash_loan and cost > keeper.capital:
                # What its capital reaches: that share of the most allowed.
                reach = int(plan.repay * (keeper.capital / cost))
                plan = self.plan(violator, reach) if reach > 0 else None
                if plan is None:
                    continue
                cost = plan.repay / self.vault_unit * vault_price
            gas = self.gas_usd("liquidate", i)
            if self.sale_value(plan.yield_balance, i) - cost - gas < float(
                    keeper.spec.min_profit):
                continue
            before = self.account_ltv(violator)
            debt_before = self.book_now().account(violator).debt
            out = self.apply(EulerLiquidate(keeper.spec.id, violator, self.collateral,
                                            repay_assets=plan.repay, repay=True))
            if not out.accepted:
                continue
            d = out.details
            self.repaid += d["repay"]
            self.seized += d["yield"]
            self.socialized += d["socialized"]
            self.bad_debt_realized_base += self.usd(d["socialized"], self.vault, True)
            loss = borrower_loss(d["yield"], self.engine.prices[self.collateral],
                                 self.coll_unit, debt_before - d["violator_debt"],
                                 self.engine.prices[self.vault], self.vault_unit)
            repaid_cost = d["repay"] / self.vault_unit * vault_price
            self.count_liquidation(violator, i, repaid_cost, loss)
            self.ltv_log.append({"account": violator, "step": i, "ltv_before": before,
                                 "ltv_after": self.account_ltv(violator)})
            # The yield is collateral in the keeper's account: it withdraws it (no debt:
            # the status check passes) and sells it.
            proceeds = 0.0
            if self.apply(EulerWithdrawCollateral(keeper.spec.id, self.collateral,
                                                  d["yield"])).accepted:
                self.withdrawn += d["yield"]
                proceeds = self.sell_collateral(d["yield"], i)
            keeper.capital += proceeds - repaid_cost - gas
            keeper.profit += proceeds - repaid_cost - gas
            keeper.gas_spent += gas
            keeper.actions += 1

    def account_ltv(self, account: str) -> float:
        """Debt over collateral value (full value) at the engine's prices (0 without
        debt)."""
        debt = self.book_now().account(account).debt
        if not debt:
            return 0.0
        coll = sum(euler_rules.quote(c.balance, c.price) for c in self.collaterals(account))
        value = euler_rules.quote(debt, self.debt_price())
        return value / coll if coll else float("inf")

    def after_keepers(self, i: int) -> None:
        """Governance's ``setLTV`` calls of this step (``family_agents.ltv_changes``)."""
        scale = euler_rules.CONFIG_SCALE
        for c in self.spec.family_agents.ltv_changes:
            if c.step != i:
                continue
            out = self.apply(EulerSetLTV(c.collateral, int(c.borrow_ltv * scale),
                                         int(c.liquidation_ltv * scale), c.ramp_seconds))
            self.ltv_changes.append({"step": i, "collateral": c.collateral,
                                     "accepted": out.accepted,
                                     "reason": out.reason})

    def family_summary(self) -> dict[str, Any]:
        """The vault's totals and what moved. Conservation: ``deposited + repaid ==
        vault_cash + borrowed`` (vault-asset units: cash is what came in less what went
        out) and ``borrowed == total_borrows + repaid + socialized``;
        ``collateral_in == collateral_held + collateral_withdrawn`` (the keepers withdraw
        the ``collateral_seized`` they sell; what they could not is still held)."""
        book = self.book_now()
        v = book.vault
        u, cu = self.vault_unit, self.coll_unit
        held = sum(x.collateral.get(self.collateral, 0) for x in book.accounts.values())
        return {
            "family": "euler-v2", "vault": self.vault,
            "max_liquidation_discount": float(self.cfg.max_liquidation_discount),
            "deposited": self.deposited / u, "borrowed": self.borrowed / u,
            "repaid": self.repaid / u, "socialized": self.socialized / u,
            "vault_cash": v.cash / u, "total_borrows": v.total_borrows / u,
            "collateral_in": self.collateral_in / cu,
            "collateral_held": held / cu,
            "collateral_seized": self.seized / cu,
            "collateral_withdrawn": self.withdrawn / cu,
            "accounts_in_debt": len(self.debtors()),
            "ltv_changes": self.ltv_changes,
            "exact": {"deposited": self.deposited, "borrowed": self.borrowed,
                      "repaid": self.repaid, "socialized": self.socialized,
                      "cash": v.cash, "total_borrows": v.total_borrows,
                      "collateral_in": self.collateral_in, "collateral_held": held,
                      "collateral_seized": self.seized,
                      "collateral_withdrawn": self.withdrawn},
        }


FAMILY_RUNNERS[LiquidationMechanism.EULER] = EulerCascadeRunner

__all__ = ["EulerCascadeRunner"]
