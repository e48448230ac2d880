"""What the Drift v2 and Mango v4 cascade runners share: cross-margin accounts that deposit
the scenario's collateral and borrow the family's quote by withdrawing beyond their
deposit, with keepers holding quote deposits.

:class:`QuoteBorrowerRunner` opens that book through the family's own deposit and withdraw
events (:meth:`~QuoteBorrowerRunner.deposit_event`, :meth:`~QuoteBorrowerRunner.borrow_event`)
and keeps the set-up's counters the conservation checks read.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.engine.events import Event
from marginengine.fixedpoint import parse_units
from marginengine.sim.cascade import CascadeRunner
from marginengine.sim.cascade_config import CascadeFile
from marginengine.sim.family_cascade import FamilyRunner


class QuoteBorrowerRunner(FamilyRunner):
    """Accounts borrowing ``quote`` against the scenario's collateral (see the module
    docstring); the family says its events and its quote asset."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 quote: str, feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        super().__init__(spec, protocol, rng, feedback=feedback, log_path=log_path,
                         shared=shared)
        self.quote = quote
        self.quote_unit = protocol.markets[quote].unit
        self.keeper_deposits = 0
        self.collateral_in = 0
        self.borrowed = 0
        self.liability_moved = 0
        self.asset_moved = 0
        self.asset_withdrawn = 0

    @abstractmethod
    def deposit_event(self, account: str, asset: str, amount: int) -> Event:
        """The family's deposit of ``amount`` smallest units of ``asset``."""

    @abstractmethod
    def borrow_event(self, account: str, asset: str, amount: int) -> Event:
        """The family's withdrawal of ``amount`` of ``asset`` beyond the deposit (a borrow,
        refused by its initial check when the collateral does not cover it)."""

    @abstractmethod
    def debtors(self) -> list[str]:
        """Accounts that owe the quote, by id."""

    def setup(self) -> None:
        """Prices; the keepers' quote deposits; the book; the explicit accounts."""
        self.set_prices()
        spec = self.spec
        markets = self.protocol.markets
        for keeper in self.keepers:
            amount = int(keeper.capital * self.quote_unit)
            if amount > 0 and self.apply(self.deposit_event(keeper.spec.id, self.quote,
                                                            amount)).accepted:
                self.keeper_deposits += amount
        wanted = [(account, coll, 0, debt)
                  for account, coll, debt in self.draw_book(self.quote_unit)]
        for extra in spec.accounts:
            wanted.append((extra.id,
                           parse_units(extra.deposit.get(self.collateral, 0),
                                       markets[self.collateral].decimals),
                           parse_units(extra.deposit.get(self.quote, 0),
                                       markets[self.quote].decimals),
                           parse_units(extra.borrow.get(self.quote, 0),
                                       markets[self.quote].decimals)))
        for account, coll, cash, draw in wanted:
            if coll and self.apply(self.deposit_event(account, self.collateral,
                                                      coll)).accepted:
                self.collateral_in += coll
            if cash and self.apply(self.deposit_event(account, self.quote, cash)).accepted:
                self.keeper_deposits += cash
            if draw:
                if self.apply(self.borrow_event(account, self.quote, draw)).accepted:
                    self.borrowed += draw
                else:
                    self.rejected_setup += 1
        self.borrowers = self.debtors()


__all__ = ["QuoteBorrowerRunner"]
