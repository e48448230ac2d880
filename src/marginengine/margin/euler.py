"""Euler v2 (Euler Vault Kit) account liquidity as pure functions: two LTVs and the ramp.

Each collateral of a vault has a *borrow LTV* (what new borrowing may use) and a
*liquidation LTV* (below which the account may be liquidated), both in basis points of
``CONFIG_SCALE = 1e4``, with ``borrowLTV <= liquidationLTV``. When governance lowers the
liquidation LTV it may *ramp* it: the LTV falls linearly from its current value to the
target over ``rampDuration`` seconds (``getLTV``: ``target + (initial - target) x
timeRemaining / rampDuration``, rounded down), so accounts are not made liquidatable at
once; the borrow LTV changes immediately.

An account's liquidity is the sum of each collateral's value times its LTV (``value x ltv
/ 1e4``, rounded down) against the value of its debt (rounded up to whole assets first).
Borrowing and withdrawing need ``collateral > liability`` at the borrow LTV (strictly);
an account is liquidatable when ``collateral <= liability`` at the liquidation LTV.

Source followed: euler-xyz/euler-vault-kit at commit
``5b98b42048ba11ae82fb62dfec06d1010c8e41e6`` (2025-03-05),
``src/EVault/shared/types/LTVConfig.sol`` (``getLTV``, ``setLTV``),
``src/EVault/shared/LiquidityUtils.sol`` (``calculateLiquidity``, ``checkLiquidity``,
``getCollateralValue``, ``getLiabilityValue``, ``checkNoCollateral``),
``src/EVault/modules/Governance.sol`` (``setLTV``, ``setMaxLiquidationDiscount``).

Prices: Euler asks an oracle (``getQuote``) for the value of an amount; here an amount is
valued as ``amount x price / 1e18`` rounded down, which is what the EVK's own test oracle
(``MockPriceOracle``) returns. The borrow side (the account status check and
``accountLiquidity(account, false)``) asks ``getQuotes`` instead and values collateral at
its *bid* and the liability at its *ask*; the liquidation side uses the mid price. A
collateral's ``bid`` and the debt's ``debt_ask_price`` default to the mid price (as the
mock's ``getQuotes`` does when no spread is set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from marginengine.decisions import Code, Refusal
from marginengine.margin.base import NO_DEBT_HEALTH, FamilyMargin, MarginKind, MarginState

#: ``Constants.CONFIG_SCALE``: LTVs and discounts in 1e4.
CONFIG_SCALE = 10_000
#: Price scale of the quotes (``MockPriceOracle``: value = amount x price / 1e18).
PRICE_SCALE = 10**18
#: ``Constants.MAX_SANE_AMOUNT``: ``type(uint112).max``, the width of ``Assets`` (cash, an
#: amount) and ``Shares`` (a balance, ``totalShares``); ``Owed`` (a debt, ``totalBorrows``)
#: holds as many assets at ``INTERNAL_DEBT_PRECISION_SHIFT`` more bits.
MAX_SANE_AMOUNT = 2**112 - 1


def amount_refusal(amounts: dict[str, int], debts: dict[str, int] | None = None
                   ) -> Refusal | None:
    """The first amount the vault cannot encode, or ``None``: ``TypesLib.toAssets`` and
    ``toShares`` revert ``E_AmountTooLargeToEncode`` above ``MAX_SANE_AMOUNT`` (the
    ``Assets``/``Shares`` sums of ``pullAssets``, ``increaseBalance`` cast back through
    them), ``toOwed`` ``E_DebtAmountTooLargeToEncode`` above ``MAX_SANE_DEBT_AMOUNT``
    (``src/EVault/shared/types/Types.sol``, ``Constants.sol``). ``amounts`` and ``debts``
    (in assets) name each value by its field, checked in order."""
    for code, values in ((Code.EULER_AMOUNT_TOO_LARGE, amounts),
                         (Code.EULER_DEBT_AMOUNT_TOO_LARGE, debts or {})):
        for name, value in values.items():
            if value > MAX_SANE_AMOUNT:
                return Refusal(code, f"{name}: {value} is beyond the vault's uint112 "
                                     f"(MAX_SANE_AMOUNT, 2**112 - 1)",
                               {"field": name, "value": value, "limit": MAX_SANE_AMOUNT})
    return None


def quote(amount: int, price: int) -> int:
    """Value of ``amount`` base units at ``price`` (unit of account per unit, x 1e18)."""
    return amount * price // PRICE_SCALE


@dataclass(frozen=True)
class LTVConfig:
    """``LTVConfig`` of one collateral.

    Attributes
    ----------
    borrow_ltv, liquidation_ltv
        In 1e4 (``0.9e4`` is 90%).
    initial_liquidation_ltv
        The liquidation LTV when the current ramp began.
    target_timestamp
        When the ramp ends (0: not a recognized collateral).
    ramp_duration
        Seconds the ramp lasts.
    """

    borrow_ltv: int = 0
    liquidation_ltv: int = 0
    initial_liquidation_ltv: int = 0
    target_timestamp: int = 0
    ramp_duration: int = 0

    def __post_init__(self) -> None:
        for name in ("borrow_ltv", "liquidation_ltv", "initial_liquidation_ltv"):
            value = getattr(self, name)
            if not 0 <= value <= CONFIG_SCALE:
                raise ValueError(f"{name}: must be in [0, 1e4], got {value}")
        if self.target_timestamp < 0 or self.ramp_duration < 0:
            raise ValueError("target_timestamp and ramp_duration: must be non-negative")

    @property
    def recognized(self) -> bool:
        """``isRecognizedCollateral``: an LTV was ever set."""
        return self.target_timestamp != 0

    def get_ltv(self, now: int, liquidation: bool) -> int:
        """``getLTV``: the borrow LTV, or the (ramping) liquidation LTV at ``now``."""
        if not liquidation:
            return self.borrow_ltv
        if now >= self.target_timestamp or self.liquidation_ltv >= self.initial_liquidation_ltv:
            return self.liquidation_ltv
        remaining = self.target_timestamp - now
        return (self.liquidation_ltv + (self.initial_liquidation_ltv - self.liquidation_ltv)
                * remaining // self.ramp_duration)


def set_ltv(current: LTVConfig, borrow_ltv: int, liquidation_ltv: int, ramp_duration: int,
            now: int) -> LTVConfig | Refusal:
    """``Governance.setLTV``: borrow LTV at most the liquidation LTV; ramp only downwards.

    The ramp starts from the liquidation LTV in force at ``now`` (``setLTV`` records
    ``initialLiquidationLTV = getLTV(true)``), so a ramp can be re-ramped mid-way.
    """
    for name, value in (("borrow_ltv", borrow_ltv), ("liquidation_ltv", liquidation_ltv)):
        if not 0 <= value <= CONFIG_SCALE:
            return Refusal(Code.EULER_CONFIG_AMOUNT_TOO_LARGE, f"{name} must be in [0, 1e4]",
                           {name: value})
    if ramp_duration < 0:
        return Refusal(Code.INVALID_ARGUMENT, "ramp_duration must be non-negative",
                       {"ramp_duration": ramp_duration})
    if borrow_ltv > liquidation_ltv:
        return Refusal(Code.EULER_LTV_BORROW, "borrow LTV above liquidation LTV",
                       {"borrow_ltv": borrow_ltv, "liquidation_ltv": liquidation_ltv})
    in_force = current.get_ltv(now, True)
    if liquidation_ltv >= in_force and ramp_duration > 0:
        return Refusal(Code.EULER_LTV_LIQUIDATION,
                       "a liquidation LTV at or above the current one takes effect at once "
                       "(ramp duration must be 0)",
                       {"liquidation_ltv": liquidation_ltv, "current": in_force})
    return LTVConfig(borrow_ltv, liquidation_ltv, in_force, now + ramp_duration, ramp_duration)


@dataclass(frozen=True)
class CollateralBalance:
    """One collateral of an account, with the borrowing vault's LTV config for it.

    Attributes
    ----------
    asset
        Its name (a vault's share token, for EVK collateral vaults).
    balance
        The account's balance (base units).
    price
        Unit of account per base unit, x 1e18 (the mid price, ``getQuote``).
    ltv
        The controlling vault's ``LTVConfig`` for this collateral.
    bid
        The bid price (``getQuotes``' first value) for the borrow-side valuation; ``None``:
        the mid price.
    """

    asset: str
    balance: int
    price: int
    ltv: LTVConfig
    bid: int | None = None


@dataclass(frozen=True)
class Liquidity:
    """``calculateLiquidity``: LTV-adjusted collateral value and liability value."""

    collateral_value: int
    liability_value: int

    @property
    def health_score(self) -> int | None:
        """``collateral x 1e18 / liability`` rounded down; ``None`` without liability."""
        if self.liability_value == 0:
            return None
        return self.collateral_value * PRICE_SCALE // self.liability_value


def collateral_value(c: CollateralBalance, now: int, liquidation: bool) -> int:
    """``getCollateralValue``: ``quote(balance) x ltv / 1e4``, zero if the LTV is zero;
    at the mid price for liquidation, else at the bid."""
    ltv = c.ltv.get_ltv(now, liquidation)
    if ltv == 0 or c.balance == 0:
        return 0
    price = c.price if liquidation or c.bid is None else c.bid
    return quote(c.balance, price) * ltv // CONFIG_SCALE


def calculate_liquidity(collaterals: Sequence[CollateralBalance], debt_assets: int,
                        debt_price: int, now: int, liquidation: bool,
                        debt_ask_price: int | None = None) -> Liquidity:
    """``calculateLiquidity``: the sum of adjusted collateral values and the debt's value.

    ``debt_assets`` is the account's debt in whole assets (Euler rounds the internal
    owed amount up: ``toAssetsUp``). ``getLiabilityValue`` quotes it at the mid price
    for liquidation, else at the ask (``debt_ask_price``, default the mid).
    """
    value = sum(collateral_value(c, now, liquidation) for c in collaterals)
    price = debt_price if liquidation or debt_ask_price is None else debt_ask_price
    return Liquidity(value, quote(debt_assets, price) if debt_assets else 0)


def check_liquidity(collaterals: Sequence[CollateralBalance], debt_assets: int,
                    debt_price: int, now: int, debt_ask_price: int | None = None
                    ) -> Refusal | None:
    """``checkLiquidity`` (the account status check after a borrow or withdrawal).

    No debt passes; otherwise the borrow-LTV-adjusted collateral (at bid prices) must
    *exceed* the liability (at the ask) (``E_AccountLiquidity``).
    """
    if debt_assets == 0:
        return None
    liq = calculate_liquidity(collaterals, debt_assets, debt_price, now, liquidation=False,
                              debt_ask_price=debt_ask_price)
    if liq.collateral_value > liq.liability_value:
        return None
    return Refusal(Code.EULER_ACCOUNT_LIQUIDITY, "collateral (at borrow LTV) does not exceed "
                   "the liability", {"collateral_value": liq.collateral_value,
                                     "liability_value": liq.liability_value})


def is_violator(collaterals: Sequence[CollateralBalance], debt_assets: int, debt_price: int,
                now: int) -> bool:
    """``calculateLiquidation``'s test: some liability and ``collateral <= liability`` at
    the (ramping) liquidation LTVs."""
    if debt_assets == 0:
        return False
    liq = calculate_liquidity(collaterals, debt_assets, debt_price, now, liquidation=True)
    return liq.liability_value > 0 and liq.collateral_value <= liq.liability_value


def family_margin(collaterals: Sequence[CollateralBalance], debt_assets: int,
                  debt_price: int, now: int, unit_scale: int = 1,
                  debt_ask_price: int | None = None) -> FamilyMargin:
    """The account's :class:`~marginengine.margin.base.FamilyMargin` by Euler's rules:
    initial at the borrow LTVs, maintenance at the liquidation LTVs, each health Euler's
    health score (``collateral x 1e18 / liability``, rounded down); liquidatable when
    :func:`is_violator`. ``unit_scale`` divides the unit of account into the margin
    interface's base-currency units (value rounded down, requirement up). The initial
    state values at bid and ask (``accountLiquidity(account, false)``), the maintenance
    state at mid prices."""
    states = []
    for kind, liquidation in ((MarginKind.INITIAL, False), (MarginKind.MAINTENANCE, True)):
        liq = calculate_liquidity(collaterals, debt_assets, debt_price, now, liquidation,
                                  debt_ask_price)
        health = liq.health_score
        states.append(MarginState(kind, liq.collateral_value // unit_scale,
                                  -(-liq.liability_value // unit_scale),
                                  NO_DEBT_HEALTH if health is None else health))
    return FamilyMargin(states[0], states[1],
                        is_violator(collaterals, debt_assets, debt_price, now))


__all__ = [
    "CONFIG_SCALE",
    "MAX_SANE_AMOUNT",
    "PRICE_SCALE",
    "CollateralBalance",
    "LTVConfig",
    "Liquidity",
    "amount_refusal",
    "calculate_liquidity",
    "check_liquidity",
    "collateral_value",
    "family_margin",
    "is_violator",
    "quote",
    "set_ltv",
]
