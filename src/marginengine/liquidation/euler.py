"""Euler v2 (EVK) liquidation as pure functions: discount, yield cap, debt socialization.

A liquidator takes over part of the violator's debt (``transferBorrow``) and receives
collateral (``enforceCollateralTransfer``) worth the repaid value divided by the
*discount factor*:

- health score ``HS = adjusted collateral x 1e18 / liability`` (liquidation LTVs, rounded
  down); the account is a violator when ``HS <= 1`` (``collateral <= liability``);
- ``discountFactor = max(HS, 1 - maxLiquidationDiscount)``, i.e. the discount is ``1 - HS``
  *capped* at the vault's ``maxLiquidationDiscount``;
- the whole liability may be repaid, for ``liability / discountFactor`` of collateral; when
  that exceeds the collateral's value the *yield is capped at the collateral's value* and
  the repay reduced to ``collateralValue x discountFactor``;
- a liquidator may repay less (``repayAssets``): the yield scales pro rata (rounded down);
- no liquidation within ``liquidationCoolOffTime`` seconds of the violator's last
  successful account status check (``E_LiquidationCoolOff``: a borrower cannot borrow
  and liquidate itself through another account in the same block);
- an account without debt is a no-op (whatever ``repayAssets``), a healthy one with
  debt allows a repay of zero only (``E_ExcessiveRepayAmount``);
- with no collateral left on any recognized collateral, the rest of the debt is
  *socialized* (written off, lowering every depositor's share value), unless the vault
  sets ``CFG_DONT_SOCIALIZE_DEBT`` or the liability was worth less than
  ``MIN_SOCIALIZATION_LIABILITY_VALUE = 1e6`` units of account.

Source followed: euler-xyz/euler-vault-kit at commit
``5b98b42048ba11ae82fb62dfec06d1010c8e41e6``, ``src/EVault/modules/Liquidation.sol``
(``calculateLiquidation``, ``calculateMaxLiquidation``, ``executeLiquidation``),
``src/EVault/shared/LiquidityUtils.sol`` (``checkNoCollateral``),
``src/EVault/shared/lib/ConversionHelpers.sol`` (``VIRTUAL_DEPOSIT_AMOUNT``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from marginengine.decisions import Code, Refusal
from marginengine.margin.euler import (
    CONFIG_SCALE,
    PRICE_SCALE,
    CollateralBalance,
    calculate_liquidity,
    quote,
)

#: ``LiquidationModule.MIN_SOCIALIZATION_LIABILITY_VALUE``.
MIN_SOCIALIZATION_LIABILITY_VALUE = 10**6
#: ``ConversionHelpers.VIRTUAL_DEPOSIT_AMOUNT``.
VIRTUAL_DEPOSIT_AMOUNT = 10**6


def discount_factor(health_score: int, max_liquidation_discount: int) -> int:
    """``max(HS, 1e18 - 1e18 x maxLiquidationDiscount / 1e4)`` (a wad)."""
    if not 0 <= max_liquidation_discount < CONFIG_SCALE:
        raise ValueError("max_liquidation_discount: must be in [0, 1e4) "
                         f"(E_BadMaxLiquidationDiscount), got {max_liquidation_discount}")
    minimum = PRICE_SCALE - PRICE_SCALE * max_liquidation_discount // CONFIG_SCALE
    return max(health_score, minimum)


@dataclass(frozen=True)
class LiquidationQuote:
    """``checkLiquidation``: the most that may be repaid and the yield for it.

    Attributes
    ----------
    max_repay
        Debt assets the liquidator may take over.
    max_yield
        Collateral balance it receives for ``max_repay``.
    liability_value
        The violator's liability value (liquidation pricing), for the socialization rule.
    discount_factor
        The discount factor applied (wad); 0 when the account is not a violator.
    """

    max_repay: int
    max_yield: int
    liability_value: int
    discount_factor: int


def in_liquidation_cool_off(now: int, last_status_check: int, cool_off_time: int) -> bool:
    """``isInLiquidationCoolOff``: ``now < lastAccountStatusCheck + liquidationCoolOffTime``."""
    if cool_off_time < 0:
        raise ValueError(f"cool_off_time: must be non-negative, got {cool_off_time}")
    return now < last_status_check + cool_off_time


def calculate_liquidation(collaterals: Sequence[CollateralBalance], collateral: str,
                          debt_assets: int, debt_price: int, max_liquidation_discount: int,
                          now: int, last_status_check: int = 0, cool_off_time: int = 0
                          ) -> LiquidationQuote | Refusal:
    """``calculateMaxLiquidation`` behind ``calculateLiquidation`` (checks in Euler's order:
    a recognized collateral, then the cool-off, then the debt).

    Returns a zero quote (not a refusal) for a healthy account or one without debt, as
    ``checkLiquidation`` does. ``last_status_check`` is the time of the violator's last
    successful account status check, ``cool_off_time`` the vault's
    ``liquidationCoolOffTime`` (0: none).
    """
    target = next((c for c in collaterals if c.asset == collateral), None)
    if target is None or not target.ltv.recognized:
        return Refusal(Code.EULER_BAD_COLLATERAL, f"{collateral} is not a recognized "
                       "collateral of the account", {"collateral": collateral})
    if in_liquidation_cool_off(now, last_status_check, cool_off_time):
        return Refusal(Code.EULER_LIQUIDATION_COOL_OFF, "the violator's last account status "
                       "check is within the liquidation cool-off time",
                       {"last_status_check": last_status_check,
                        "cool_off_time": cool_off_time, "now": now})
    if debt_assets == 0:
        return LiquidationQuote(0, 0, 0, 0)
    liq = calculate_liquidity(collaterals, debt_assets, debt_price, now, liquidation=True)
    if liq.collateral_value > liq.liability_value or liq.liability_value == 0:
        return LiquidationQuote(0, 0, liq.liability_value, 0)
    factor = discount_factor(liq.collateral_value * PRICE_SCALE // liq.liability_value,
                             max_liquidation_discount)
    balance = target.balance
    value = quote(balance, target.price)
    if value == 0:
        # Worthless (or unrepresentable) collateral is claimable with no repay.
        return LiquidationQuote(0, balance, liq.liability_value, factor)
    max_repay_value = liq.liability_value
    max_yield_value = max_repay_value * PRICE_SCALE // factor
    if value < max_yield_value:
        # Yield capped at the collateral's value; the repay shrinks to match.
        max_repay_value = value * factor // PRICE_SCALE
        max_yield_value = value
    repay = max_repay_value * debt_assets // liq.liability_value
    yield_balance = max_yield_value * balance // value
    return LiquidationQuote(repay, yield_balance, liq.liability_value, factor)


@dataclass(frozen=True)
class EulerLiquidation:
    """What one ``liquidate`` did.

    Attributes
    ----------
    repay
        Debt assets moved from the violator to the liquidator.
    yield_balance
        Collateral balance moved to the liquidator.
    socialized
        Debt assets written off (``DebtSocialized``), zero if none.
    violator_debt
        The violator's debt afterwards.
    collaterals
        The violator's collateral balances afterwards.
    """

    repay: int
    yield_balance: int
    socialized: int
    violator_debt: int
    collaterals: tuple[CollateralBalance, ...]


def liquidate(collaterals: Sequence[CollateralBalance], collateral: str, debt_assets: int,
              debt_price: int, max_liquidation_discount: int, now: int,
              repay_assets: int | None = None, min_yield_balance: int = 0,
              socialize_debt: bool = True, self_liquidation: bool = False,
              last_status_check: int = 0, cool_off_time: int = 0
              ) -> EulerLiquidation | Refusal:
    """``liquidate(violator, collateral, repayAssets, minYieldBalance)``.

    Parameters
    ----------
    collaterals
        The violator's enabled collaterals, with the controlling vault's LTV configs.
    collateral
        The collateral to seize.
    debt_assets, debt_price
        The violator's debt (whole assets, rounded up) and the debt asset's price.
    max_liquidation_discount
        The vault's ``maxLiquidationDiscount`` in 1e4.
    now
        Block timestamp (for the LTV ramp).
    repay_assets
        Debt to take over; ``None`` is ``type(uint256).max`` (the most allowed).
    min_yield_balance
        Slippage guard (``E_MinYield``).
    socialize_debt
        False when the vault sets ``CFG_DONT_SOCIALIZE_DEBT``.
    self_liquidation
        Whether the liquidator is the violator (``E_SelfLiquidation``).
    last_status_check, cool_off_time
        The violator's last successful account status check and the vault's
        ``liquidationCoolOffTime`` (``E_LiquidationCoolOff``).
    """
    if self_liquidation:
        return Refusal(Code.EULER_SELF_LIQUIDATION, "an account cannot liquidate itself", {})
    if repay_assets is not None and repay_assets < 0:
        return Refusal(Code.INVALID_AMOUNT, "repay_assets must be non-negative",
                       {"repay_assets": repay_assets})
    q = calculate_liquidation(collaterals, collateral, debt_assets, debt_price,
                              max_liquidation_discount, now, last_status_check, cool_off_time)
    if isinstance(q, Refusal):
        return q
    repay, yield_balance = q.max_repay, q.max_yield
    # calculateLiquidation returns before the desired-repay check when there is no debt.
    if repay_assets is not None and debt_assets > 0:
        if repay_assets > repay:
            return Refusal(Code.EULER_EXCESSIVE_REPAY_AMOUNT, "repay exceeds the maximum",
                           {"repay_assets": repay_assets, "max_repay": repay})
        if repay > 0:
            yield_balance = repay_assets * yield_balance // repay
            repay = repay_assets
    if min_yield_balance > yield_balance:
        return Refusal(Code.EULER_MIN_YIELD, "yield below the minimum asked",
                       {"yield": yield_balance, "min_yield_balance": min_yield_balance})
    after = tuple(replace(c, balance=c.balance - yield_balance) if c.asset == collateral
                  else c for c in collaterals)
    debt_after = debt_assets - repay
    socialized = 0
    no_collateral = all(c.balance == 0 for c in after if c.ltv.recognized)
    if (q.liability_value >= MIN_SOCIALIZATION_LIABILITY_VALUE and socialize_debt
            and debt_assets > repay and no_collateral):
        socialized = debt_after
        debt_after = 0
    return EulerLiquidation(repay, yield_balance, socialized, debt_after, after)


@dataclass(frozen=True)
class EulerVault:
    """A vault's totals for share accounting (``VaultCache``).

    Attributes
    ----------
    cash, total_borrows, total_shares
        Assets held, assets lent (rounded up), shares outstanding.
    """

    cash: int
    total_borrows: int
    total_shares: int

    def convert_to_assets(self, shares: int) -> int:
        """``toAssetsDown`` with the virtual deposit of 1e6 on both sides."""
        return (shares * (self.cash + self.total_borrows + VIRTUAL_DEPOSIT_AMOUNT)
                // (self.total_shares + VIRTUAL_DEPOSIT_AMOUNT))

    def convert_to_shares(self, assets: int, up: bool = False) -> int:
        """``toSharesDown`` (a deposit) or ``toSharesUp`` (a withdrawal) with the virtual
        deposit on both sides (``ConversionHelpers.conversionTotals``)."""
        num = assets * (self.total_shares + VIRTUAL_DEPOSIT_AMOUNT)
        den = self.cash + self.total_borrows + VIRTUAL_DEPOSIT_AMOUNT
        return -(-num // den) if up else num // den

    def socialize(self, amount: int) -> EulerVault:
        """``decreaseBorrow`` without assets coming in: every share is worth less."""
        if not 0 <= amount <= self.total_borrows:
            raise ValueError(f"amount: must be in [0, total_borrows], got {amount}")
        return replace(self, total_borrows=self.total_borrows - amount)


__all__ = [
    "MIN_SOCIALIZATION_LIABILITY_VALUE",
    "VIRTUAL_DEPOSIT_AMOUNT",
    "EulerLiquidation",
    "EulerVault",
    "LiquidationQuote",
    "calculate_liquidation",
    "discount_factor",
    "in_liquidation_cool_off",
    "liquidate",
]
