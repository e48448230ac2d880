"""The state of the engine families with rules of their own beyond Morpho and Liquity
(Euler v2), and how it becomes the inputs of their pure rules.

A book is a frozen value, replaced (never mutated) by the family's handlers, so the
engine's one transaction journals it by keeping the old value. Its ``state_dict`` enters
the state hash. The functions here turn a book, the engine's prices and the clock into the
arguments of ``margin/euler.py`` and ``liquidation/euler.py``: there is no other copy of a
rule.

Prices: the engine's are USD with 8 decimals per whole token. Euler's quotes here are in
a unit of account of 18 decimals (USD x 1e18), so an Euler price per base unit (x 1e18) is
``price x 10^(28 - decimals)``, exact (``config.family_configs.EULER_MAX_DECIMALS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from marginengine.config import ProtocolConfig
from marginengine.config.family_configs import EulerConfig
from marginengine.errors import FieldError
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.liquidation.euler import EulerVault
from marginengine.margin import euler as euler_rules
from marginengine.margin.base import FamilyMargin

#: The unit of account's decimals (USD x 1e18) and its ratio to the engine's base currency.
EULER_UNIT_DECIMALS = 18
EULER_UNIT_SCALE: int = 10 ** (EULER_UNIT_DECIMALS - PRICE_DECIMALS)


@dataclass(frozen=True)
class EulerAccount:
    """One account in the Euler family: vault shares (a lender), debt (assets, no
    interest accrues: see docs/presets.md) and collateral balances."""

    shares: int = 0
    debt: int = 0
    collateral: Mapping[str, int] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """Whether nothing is held or owed."""
        return not (self.shares or self.debt or any(self.collateral.values()))


@dataclass(frozen=True)
class EulerBook:
    """The vault's totals, the LTV config of each collateral and the accounts."""

    vault: EulerVault
    ltvs: Mapping[str, euler_rules.LTVConfig]
    accounts: Mapping[str, EulerAccount]
    socialized: int = 0

    @classmethod
    def of(cls, cfg: EulerConfig, now: int) -> EulerBook:
        """The empty vault, each collateral's LTVs set (no ramp) at ``now``."""
        ltvs = {}
        for name, c in sorted(cfg.collaterals.items()):
            ltv = euler_rules.set_ltv(euler_rules.LTVConfig(), c.borrow_ltv_scaled,
                                      c.liquidation_ltv_scaled, 0, max(now, 1))
            assert isinstance(ltv, euler_rules.LTVConfig)  # the config checked the LTVs
            ltvs[name] = ltv
        return cls(EulerVault(0, 0, 0), ltvs, {})

    def account(self, account_id: str) -> EulerAccount:
        """``account_id``'s account (empty if it has none)."""
        return self.accounts.get(account_id, EulerAccount())

    def with_account(self, account_id: str, account: EulerAccount,
                     vault: EulerVault | None = None) -> EulerBook:
        """This book with ``account_id``'s account replaced (and the vault's totals)."""
        accounts = dict(self.accounts)
        accounts[account_id] = account
        return EulerBook(self.vault if vault is None else vault, self.ltvs, accounts,
                         self.socialized)

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash."""
        v = self.vault
        return {
            "vault": [v.cash, v.total_borrows, v.total_shares], "socialized": self.socialized,
            "ltvs": {n: [c.borrow_ltv, c.liquidation_ltv, c.initial_liquidation_ltv,
                         c.target_timestamp, c.ramp_duration]
                     for n, c in sorted(self.ltvs.items())},
            "accounts": {a: [x.shares, x.debt, {n: b for n, b in sorted(x.collateral.items())
                                                if b}]
                         for a, x in sorted(self.accounts.items()) if not x.is_empty()},
        }


#: The book of the protocol's family, when it has one of these.
FamilyBook = EulerBook


def new_family_book(config: ProtocolConfig, now: int) -> FamilyBook | None:
    """The protocol's family book, empty (``None`` unless its family has one)."""
    if config.euler is not None:
        return EulerBook.of(config.euler, now)
    return None


def family_margin_of(config: ProtocolConfig, book: FamilyBook, prices: Mapping[str, int],
                     now: int, account_id: str) -> FamilyMargin | None:
    """The account's margin by its family's rules (``None``: not an account of the book)."""
    return euler_family_margin(config, book, prices, now, account_id)


def euler_price(config: ProtocolConfig, prices: Mapping[str, int], asset: str) -> int:
    """Euler's price of one base unit of ``asset`` (unit of account x 1e18)."""
    if asset not in prices:
        raise FieldError("prices", f"no price has been set for {asset}")
    # amount x p / 1e18 = amount x price x 1e10 / 10^decimals: exact for at most 28 decimals.
    unit: int = 10 ** config.markets[asset].decimals
    return prices[asset] * EULER_UNIT_SCALE * 10**18 // unit


def euler_collaterals(config: ProtocolConfig, book: EulerBook, prices: Mapping[str, int],
                      account_id: str) -> list[euler_rules.CollateralBalance]:
    """The account's collaterals (every one it deposited, emptied or not: Euler's enabled
    collaterals), priced, with their LTV configs."""
    held = book.account(account_id).collateral
    return [euler_rules.CollateralBalance(name, held[name], euler_price(config, prices, name),
                                          book.ltvs[name])
            for name in sorted(held)]


def euler_family_margin(config: ProtocolConfig, book: EulerBook, prices: Mapping[str, int],
                        now: int, account_id: str) -> FamilyMargin | None:
    """The account's margin by Euler's rules (``None`` if it has no Euler account)."""
    if account_id not in book.accounts:
        return None
    cfg = config.euler
    assert cfg is not None
    debt = book.account(account_id).debt
    debt_price = euler_price(config, prices, cfg.vault) if debt else 0
    return euler_rules.family_margin(euler_collaterals(config, book, prices, account_id),
                                     debt, debt_price, now, EULER_UNIT_SCALE)


__all__ = [
    "EULER_UNIT_DECIMALS",
    "EULER_UNIT_SCALE",
    "EulerAccount",
    "EulerBook",
    "FamilyBook",
    "euler_collaterals",
    "euler_family_margin",
    "euler_price",
    "family_margin_of",
    "new_family_book",
]
