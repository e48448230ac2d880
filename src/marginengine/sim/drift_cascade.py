"""Drift v2 spot margin in the cascade simulator: cross-margin accounts holding the
scenario's collateral (a spot market of ``config.drift``) and borrowing the quote
(``drift.quote``, USDC), liquidated with ``liquidate_spot`` on the cascade's price paths,
gas and venues.

Set-up (one batch): each keeper deposits its ``capital`` of the quote (Drift's liquidator
takes the liability over into its own account, which must then meet its initial margin);
each book borrower deposits its collateral and withdraws the quote beyond its deposit (a
borrow: the initial margin check refuses what the collateral does not cover); the
explicit accounts' deposits and borrows. Drift has no lenders in the engine (its spot
pools are not modelled), so ``liquidity`` is refused.

Every step, after the oracles publish:

1. the scan: the accounts below their maintenance margin requirement, by id;
2. keepers, in the step's seeded order: ``liquidate_spot(collateral, quote)`` of every
   such account each has seen for its latency, the liability transfer Drift allows
   (enough to cover the margin shortage at the liquidation multipliers, at most the
   liability and what the asset implies: ``liquidation/drift.py``), when selling the
   asset it receives on the venue pays the transfer, the gas (``gas_used.liquidate``) and
   ``min_profit``; it then withdraws the asset and sells it.

Figures: ``bad_debt_realized`` is 0 (the engine has no ``resolve_spot_bankruptcy``: an
account with liabilities and no assets stays open), ``bad_debt_underwater`` the
liabilities above the assets of open accounts at the oracle price; ``health_p05`` /
``health_p50`` the maintenance total collateral over the requirement; ``family`` the
totals and what moved (conservation: see :meth:`DriftCascadeRunner.family_summary`).
Extra series: ``below_maintenance`` (accounts) and ``margin_shortage`` (quote, whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.engine import DriftDeposit, DriftLiquidateSpot, DriftWithdraw
from marginengine.engine.family_state import (
    DriftBook,
    drift_margin,
    drift_spot_liq_plan,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin import drift as drift_rules
from marginengine.sim.agents import KeeperState
from marginengine.sim.cascade import FAMILY_RUNNERS, CascadeRunner
from marginengine.sim.cascade_config import CascadeFile
from marginengine.sim.metrics import borrower_loss
from marginengine.sim.quote_borrowers import QuoteBorrowerRunner

MAINTENANCE = drift_rules.MarginRequirementType.MAINTENANCE


class DriftCascadeRunner(QuoteBorrowerRunner):
    """Drift v2 spot accounts in a cascade (see the module docstring)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        cfg = protocol.drift
        assert cfg is not None  # the mechanism needs a [drift] table
        super().__init__(spec, protocol, rng, cfg.quote, feedback=feedback,
                         log_path=log_path, shared=shared)
        self.cfg = cfg
        self.shortage = 0

    def deposit_event(self, account: str, asset: str, amount: int) -> DriftDeposit:
        """``DriftDeposit``."""
        return DriftDeposit(account, asset, amount)

    def borrow_event(self, account: str, asset: str, amount: int) -> DriftWithdraw:
        """``DriftWithdraw`` beyond the deposit."""
        return DriftWithdraw(account, asset, amount)

    def book_now(self) -> DriftBook:
        """The engine's Drift book."""
        book = self.engine.state.family
        assert isinstance(book, DriftBook)  # a drift preset always has one
        return book

    def margin(self, account: str) -> drift_rules.MarginCalculation:
        """``account``'s maintenance margin calculation at the engine's prices."""
        return drift_margin(self.protocol, self.book_now(), self.engine.prices, account,
                            MAINTENANCE)

    def debtors(self) -> list[str]:
        """Accounts that owe the quote, by id."""
        return sorted(a for a, x in self.book_now().accounts.items()
                      if x.spot.get(self.quote, 0) < 0)

    def family_columns(self) -> tuple[str, ...]:
        """``below_maintenance`` (accounts), ``margin_shortage`` (whole quote)."""
        return ("below_maintenance", "margin_shortage")

    def family_row(self) -> dict[str, float]:
        """Accounts below maintenance and their total shortage."""
        below = [m for m in (self.margin(a) for a in self.debtors()) if not m.meets]
        return {"below_maintenance": float(len(below)),
                "margin_shortage": sum(-m.free_collateral for m in below)
                / drift_rules.QUOTE_PRECISION}

    def scan(self) -> list[str]:
        """Accounts below their maintenance margin requirement, by id."""
        return [a for a in self.debtors() if not self.margin(a).meets]

    def healths(self) -> list[float]:
        """Maintenance total collateral over the requirement, per debtor."""
        out = []
        for a in self.debtors():
            m = self.margin(a)
            if m.margin_requirement > 0:
                out.append(m.total_collateral / m.margin_requirement)
        return out

    def underwater_base(self) -> int:
        """Liabilities above assets (unweighted) of the open accounts, base units."""
        total = 0
        for a in self.debtors():
            held = self.book_now().account(a).spot
            assets = sum(self.usd(n, m) for m, n in held.items() if n > 0)
            liabilities = sum(self.usd(-n, m, True) for m, n in held.items() if n < 0)
            total += max(0, liabilities - assets)
        return total

    def plan(self, account: str) -> tuple[int, int]:
        """``(liability transfer, asset transfer)`` that ``liquidate_spot`` would make now
        without a maximum (:func:`drift_spot_liq_plan`, as ``engine/drift_handlers.py``)."""
        calc = self.margin(account)
        held = self.book_now().account(account).spot
        if calc.meets or held.get(self.collateral, 0) <= 0 or held.get(self.quote, 0) >= 0:
            return 0, 0
        plan = drift_spot_liq_plan(self.protocol, self.book_now(), self.engine.prices,
                                   account, self.collateral, self.quote, calc)
        return plan.liability_transfer, plan.asset_transfer

    def keeper_act(self, keeper: KeeperState, i: int, unsafe: Sequence[str]) -> None:
        """``liquidate_spot`` every ready account below maintenance when the sale pays."""
        quote_price = self.engine.prices[self.quote] / PRICE_UNIT
        for account in unsafe:
            if account == keeper.spec.id or not keeper.ready(("drift", account), i):
                continue
            transfer, asset = self.plan(account)
            if transfer <= 0 or asset <= 0:
                continue
            cost = transfer / self.quote_unit * quote_price
            gas = self.gas_usd("liquidate", i)
            if self.sale_value(asset, i) - cost - gas < float(keeper.spec.min_profit):
                continue
            before = self.account_ltv(account)
            shortage = -self.margin(account).free_collateral
            out = self.apply(DriftLiquidateSpot(keeper.spec.id, account, self.collateral,
                                                self.quote))
            if not out.accepted:
                continue   # e.g. the keeper's own initial margin would fail
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
            proceeds = 0.0
            if self.apply(DriftWithdraw(keeper.spec.id, self.collateral,
                                        d["asset_transfer"])).accepted:
                self.asset_withdrawn += d["asset_transfer"]
                proceeds = self.sell_collateral(d["asset_transfer"], i)
            keeper.capital += proceeds - paid - gas
            keeper.profit += proceeds - paid - gas
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
        ``collateral_in - asset_withdrawn``."""
        book = self.book_now()
        q = sum(x.spot.get(self.quote, 0) for x in book.accounts.values())
        c = sum(x.spot.get(self.collateral, 0) for x in book.accounts.values())
        u, cu = self.quote_unit, self.coll_unit
        return {
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


FAMILY_RUNNERS[LiquidationMechanism.DRIFT] = DriftCascadeRunner

__all__ = ["DriftCascadeRunner"]
