"""Mango v4 token accounts in the cascade simulator: accounts of ``config.mango`` holding
the scenario's collateral (a bank besides the quote) and borrowing the quote
(``mango.quote``, USDC), liquidated with ``token_liq_with_token`` on the cascade's price
paths, gas and venues.

Set-up (one batch): each keeper deposits its ``capital`` of the quote (Mango's liquidator
pays the liability out of its own account, whose init health must stay non-negative:
``HealthMustBePositive``); each book borrower deposits its collateral and withdraws the
quote beyond its deposit (a borrow, refused by ``check_health_post`` when its init health
would be negative); the explicit accounts' deposits and borrows. Mango's lenders (the
banks' other depositors) are outside the engine, so ``liquidity`` is refused.

Every step, after the oracles publish:

1. the scan: every account Mango's ``check_liquidatable`` answers Liquidatable for, by
   id, whatever it borrows (maint health below zero through any token or perp, found by
   the risk book's scan: :class:`~marginengine.scan.families.FamilyRiskBook` screens every
   account in float64 and the engine's margin interface confirms the candidates exactly;
   and the accounts still *being liquidated*: liquidation-end health not yet back above -1
   native quote);
2. keepers, in the step's seeded order: ``token_liq_with_token(collateral, quote)`` of
   every such account that owes the quote (they liquidate with the quote only: the rest
   stay listed, and the end reasons say ``no_quote_debt``) each has seen for its latency,
   the amount Mango allows (what
   brings the liquidation-end health to zero, at most what the asset pays for:
   ``liquidation/mango.py``), when selling the asset it receives on the venue pays the
   liability, the gas (``gas_used.liquidate``) and ``min_profit``; it then withdraws the
   asset and sells it;
3. a keeper that finds such an account *bankrupt* (past Mango's phase 2: no asset left
   that buys a native unit of its borrow, ``engine/family_state.py``
   ``mango_phase2_refusal``) calls ``token_liq_bankruptcy`` on its quote borrow, as
   Mango's liquidator does, whatever the profit (it pays the gas): the group's insurance
   fund (``[protocol.mango] insurance_fund``) repays the borrow, and once the fund is
   exhausted the rest is socialized over the quote bank's depositors (the keepers'
   deposits and the bank's outside ``deposits``).

Figures: ``bad_debt_realized`` what bankruptcies wrote off (the insurance fund's payments
and the socialized loss, USD at the step's quote price), ``bad_debt_underwater`` the
liabilities above the assets of open accounts at the oracle price; ``health_p05`` /
``health_p50`` the maint-weighted assets over the maint-weighted liabilities; ``family``
the totals and what moved (conservation: see :meth:`MangoCascadeRunner.family_summary`).
Extra series: ``liquidatable`` (accounts) and ``maint_health_deficit`` (the negative maint
health summed, whole quote). ``health_p05``/``health_p50``, ``bad_debt_underwater`` and
the deficit cover every account with a borrow of any token.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.decisions import Refusal
from marginengine.engine import (
    MangoDeposit,
    MangoLiqTokenWithToken,
    MangoTokenLiqBankruptcy,
    MangoWithdraw,
)
from marginengine.engine.family_state import (
    MangoBook,
    mango_health,
    mango_infos,
    mango_is_bankrupt,
    mango_liq_plan,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation import mango as mango_liq
from marginengine.margin import mango as mango_rules
from marginengine.scan import FamilyRiskBook
from marginengine.sim.agents import KeeperState
from marginengine.sim.cascade import FAMILY_RUNNERS, CascadeRunner
from marginengine.sim.cascade_config import CascadeFile
from marginengine.sim.metrics import borrower_loss
from marginengine.sim.quote_borrowers import QuoteBorrowerRunner

MAINT = mango_rules.HealthType.MAINT
LIQ_END = mango_rules.HealthType.LIQUIDATION_END


class MangoCascadeRunner(QuoteBorrowerRunner):
    """Mango v4 token accounts in a cascade (see the module docstring)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        cfg = protocol.mango
        assert cfg is not None  # the mechanism needs a [mango] table
        super().__init__(spec, protocol, rng, cfg.quote, feedback=feedback,
                         log_path=log_path, shared=shared)
        self.cfg = cfg
        self.asset_to_keepers = 0
        self.asset_fees = 0
        self.bankruptcies = 0
        self.insurance_paid = 0
        self.socialized = 0
        self.socialized_outside = 0
        #: The risk book's mirror of the accounts (made at the first scan, after set-up).
        self.risk_book: FamilyRiskBook | None = None

    def deposit_event(self, account: str, asset: str, amount: int) -> MangoDeposit:
        """``MangoDeposit``."""
        return MangoDeposit(account, asset, amount)

    def borrow_event(self, account: str, asset: str, amount: int) -> MangoWithdraw:
        """``MangoWithdraw`` beyond the deposit."""
        return MangoWithdraw(account, asset, amount)

    def book_now(self) -> MangoBook:
        """The engine's Mango book."""
        book = self.engine.state.family
        assert isinstance(book, MangoBook)  # a mango preset always has one
        return book

    def health(self, account: str, kind: mango_rules.HealthType) -> int:
        """``account``'s Mango health of ``kind`` (raw I80F48, native quote)."""
        return mango_health(self.protocol, self.book_now(), self.engine.prices,
                            self.engine.stable_prices(), account, kind,
                            now=self.engine.ledger.time)

    def debtors(self) -> list[str]:
        """Accounts that owe the quote, by id."""
        return sorted(a for a, x in self.book_now().accounts.items()
                      if x.tokens.get(self.quote, 0) < 0)

    def liquidatable(self, account: str) -> bool:
        """``check_liquidatable`` would answer Liquidatable now."""
        check, _ = mango_liq.check_liquidatable(
            self.book_now().account(account).being_liquidated, self.health(account, MAINT),
            self.health(account, LIQ_END))
        return check is mango_liq.CheckLiquidatable.LIQUIDATABLE

    def family_columns(self) -> tuple[str, ...]:
        """``liquidatable`` (accounts), ``maint_health_deficit`` (whole quote)."""
        return ("liquidatable", "maint_health_deficit")

    def borrowers_any(self) -> list[str]:
        """Accounts with a borrow of any token, by id."""
        return sorted(a for a, x in self.book_now().accounts.items()
                      if any(n < 0 for n in x.tokens.values()))

    def owes_quote(self, account: str) -> bool:
        """Whether ``account`` borrows the quote (the keepers can act on it)."""
        return self.book_now().account(account).tokens.get(self.quote, 0) < 0

    def family_row(self) -> dict[str, float]:
        """Liquidatable accounts and the negative maint health summed."""
        found = self.scan()
        # A negative maint health makes an account liquidatable, so the deficit's terms
        # are all among the scan's (the rest add zero).
        deficit = sum(min(0, self.health(a, MAINT)) for a in found)
        return {"liquidatable": float(len(found)),
                "maint_health_deficit": -deficit / mango_rules.ONE / self.quote_unit}

    def scan(self) -> list[str]:
        """Every account ``check_liquidatable`` answers Liquidatable for, by id, whatever
        it borrows.

        Maint health below zero through any token or perp is the risk book's scan
        (:class:`~marginengine.scan.families.FamilyRiskBook`: a float64 screen over every
        account, the candidates confirmed by the engine's margin interface, Mango's
        ``maint < 0``); the accounts still being liquidated (their maint health may be
        back above zero while their liquidation-end health is not above -1 native quote)
        are asked ``check_liquidatable`` itself.
        """
        if self.risk_book is None:
            self.risk_book = FamilyRiskBook(self.engine)
        found = set(self.risk_book.scan().liquidatable)
        being = [a for a, x in self.book_now().accounts.items()
                 if x.being_liquidated and a not in found]
        found.update(a for a in being if self.liquidatable(a))
        return sorted(found)

    def end_reasons(self, step: int) -> dict[str, str]:
        """Why each account still liquidatable at ``step`` (the last) was not liquidated:
        ``no_quote_debt`` when it owes no quote (liquidatable through another token or a
        perp: the keepers liquidate with the quote only), else ``not_evaluated``."""
        return {a: "not_evaluated" if self.owes_quote(a) else "no_quote_debt"
                for a in self.scan()}

    def healths(self) -> list[float]:
        """Maint-weighted assets over maint-weighted liabilities, per account with a
        borrow."""
        out = []
        for a in self.borrowers_any():
            tokens, perps = mango_infos(self.protocol, self.book_now(), self.engine.prices,
                                        self.engine.stable_prices(), a,
                                        now=self.engine.ledger.time)
            assets, liabs = mango_rules.contributions(tokens, perps, MAINT)
            if liabs > 0:
                out.append(assets / liabs)
        return out

    def underwater_base(self) -> int:
        """Liabilities above assets (unweighted) of the open accounts, base units."""
        total = 0
        for a in self.borrowers_any():
            held = self.book_now().account(a).tokens
            assets = sum(self.usd(n, m) for m, n in held.items() if n > 0)
            liabilities = sum(self.usd(-n, m, True) for m, n in held.items() if n < 0)
            total += max(0, liabilities - assets)
        return total

    def bankrupt(self, account: str) -> bool:
        """Past Mango's phase 2 with a token borrow left (``mango_is_bankrupt``)."""
        return mango_is_bankrupt(self.protocol, self.book_now(), self.engine.prices,
                                 self.engine.stable_prices(), account,
                                 now=self.engine.ledger.time)

    def settle_bankruptcy(self, keeper: KeeperState, account: str, i: int) -> None:
        """``token_liq_bankruptcy`` of ``account``'s quote borrow by ``keeper`` (its gas)."""
        out = self.apply(MangoTokenLiqBankruptcy(keeper.spec.id, account, self.quote))
        if not out.accepted:
            return
        d = out.details
        self.bankruptcies += 1
        self.insurance_paid += d["insurance_transfer"]
        self.socialized += d["socialized_loss"]
        self.socialized_outside += d["socialized_outside"]
        self.bad_debt_realized_base += self.usd(d["insurance_transfer"] + d["socialized_loss"],
                                                self.quote, True)
        gas = self.gas_usd("liquidate", i)
        keeper.capital -= gas
        keeper.profit -= gas
        keeper.gas_spent += gas
        keeper.actions += 1

    def keeper_act(self, keeper: KeeperState, i: int, unsafe: Sequence[str]) -> None:
        """``token_liq_with_token`` every ready liquidatable account when the sale pays;
        ``token_liq_bankruptcy`` on those left bankrupt."""
        quote_price = self.engine.prices[self.quote] / PRICE_UNIT
        for account in unsafe:
            if account == keeper.spec.id or not self.owes_quote(account):
                continue   # it liquidates with the quote only (end reason no_quote_debt)
            if not keeper.ready(("mango", account), i):
                continue
            if not self.liquidatable(account):
                continue   # an earlier keeper brought it back
            if self.bankrupt(account):
                self.settle_bankruptcy(keeper, account, i)
                continue
            plan = mango_liq_plan(self.protocol, self.book_now(), self.engine.prices,
                                  self.engine.stable_prices(), account, self.collateral,
                                  self.quote, now=self.engine.ledger.time)
            if isinstance(plan, Refusal) or plan.liab_transfer <= 0 or plan.asset_to_liqor <= 0:
                continue
            cost = plan.liab_transfer / self.quote_unit * quote_price
            gas = self.gas_usd("liquidate", i)
            if self.sale_value(plan.asset_to_liqor, i) - cost - gas < float(
                    keeper.spec.min_profit):
                continue
            before = self.account_ltv(account)
            out = self.apply(MangoLiqTokenWithToken(keeper.spec.id, account, self.collateral,
                                                    self.quote))
            if not out.accepted:
                continue   # e.g. the keeper's own init health would be negative
            d = out.details
            self.liability_moved += d["liab_transfer"]
            self.asset_moved += d["asset_transfer"]
            self.asset_to_keepers += d["asset_to_liquidator"]
            self.asset_fees += d["asset_liquidation_fee"]
            loss = borrower_loss(d["asset_transfer"], self.engine.prices[self.collateral],
                                 self.coll_unit, d["liab_transfer"],
                                 self.engine.prices[self.quote], self.quote_unit)
            paid = d["liab_transfer"] / self.quote_unit * quote_price
            self.count_liquidation(account, i, paid, loss)
            self.ltv_log.append({"account": account, "step": i, "ltv_before": before,
                                 "ltv_after": self.account_ltv(account)})
            # The keeper paid the quote out of its deposit and holds the asset: it
            # withdraws it (without borrowing) and sells it.
            proceeds = 0.0
            got = d["asset_to_liquidator"]
            if got and self.apply(MangoWithdraw(keeper.spec.id, self.collateral, got,
                                                allow_borrow=False)).accepted:
                self.asset_withdrawn += got
                proceeds = self.sell_collateral(got, i)
            keeper.capital += proceeds - paid - gas
            keeper.profit += proceeds - paid - gas
            keeper.gas_spent += gas
            keeper.actions += 1
            if self.bankrupt(account):
                self.settle_bankruptcy(keeper, account, i)

    def account_ltv(self, account: str) -> float:
        """Quote owed over the collateral's value at the engine's prices."""
        held = self.book_now().account(account).tokens
        owed = max(0, -held.get(self.quote, 0))
        coll = self.usd(max(0, held.get(self.collateral, 0)), self.collateral)
        debt = self.usd(owed, self.quote)
        return debt / coll if coll else (float("inf") if debt else 0.0)

    def family_summary(self) -> dict[str, Any]:
        """Totals and what moved. Conservation (native units, exact): the quote's balances
        sum to ``keeper_deposits - borrowed + insurance_paid + socialized_outside`` (a
        liquidation moves quote from the keeper to the account; a bankruptcy brings in the
        insurance fund's payment and credits the socialized loss to the account, which the
        engine's depositors pay but for the outside depositors' share); the collateral's
        balances plus the banks' collected fees sum to ``collateral_in -
        asset_withdrawn``."""
        book = self.book_now()
        q = sum(x.tokens.get(self.quote, 0) for x in book.accounts.values())
        c = sum(x.tokens.get(self.collateral, 0) for x in book.accounts.values())
        u, cu = self.quote_unit, self.coll_unit
        return {
            "family": "mango-v4", "quote": self.quote,
            "borrowed": self.borrowed / u, "liability_transferred": self.liability_moved / u,
            "collateral_transferred": self.asset_moved / cu,
            "collateral_withdrawn": self.asset_withdrawn / cu,
            "accounts_in_debt": len(self.debtors()),
            "accounts_liquidatable": len(self.scan()),
            "accounts_being_liquidated": sum(x.being_liquidated
                                             for x in book.accounts.values()),
            "bankruptcies": self.bankruptcies, "insurance_paid": self.insurance_paid / u,
            "socialized_loss": self.socialized / u,
            "socialized_outside": self.socialized_outside / u,
            "exact": {"keeper_deposits": self.keeper_deposits, "borrowed": self.borrowed,
                      "quote_balances": q, "collateral_in": self.collateral_in,
                      "collateral_balances": c, "collateral_withdrawn": self.asset_withdrawn,
                      "collateral_fees": book.fees.get(self.collateral, 0),
                      "liability_transferred": self.liability_moved,
                      "collateral_transferred": self.asset_moved,
                      "collateral_to_keepers": self.asset_to_keepers,
                      "insurance_paid": self.insurance_paid, "socialized_loss": self.socialized,
                      "socialized_outside": self.socialized_outside},
        }

    def summary(self) -> dict[str, Any]:
        """The cascade's figures; ``insurance_fund_drawdown``: what token bankruptcies drew
        from the group's insurance fund (whole quote)."""
        out = super().summary()
        out["insurance_fund_drawdown"] = self.insurance_paid / self.quote_unit
        return out


FAMILY_RUNNERS[LiquidationMechanism.MANGO] = MangoCascadeRunner

__all__ = ["MangoCascadeRunner"]
