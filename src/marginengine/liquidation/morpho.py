"""Morpho Blue liquidation as a pure function: incentive, seizure, bad-debt realization.

``liquidate(marketParams, borrower, seizedAssets, repaidShares, data)``: anyone may repay an
unhealthy borrower's debt (up to all of it: there is no close factor) and seize collateral
worth the repaid assets times the *liquidation incentive factor*

    LIF = min(MAX_LIQUIDATION_INCENTIVE_FACTOR, WAD / (WAD - LIQUIDATION_CURSOR x (WAD - lltv)))

with ``MAX_LIQUIDATION_INCENTIVE_FACTOR = 1.15e18`` and ``LIQUIDATION_CURSOR = 0.3e18``
(``cursor.wMulDown(WAD - lltv)`` then ``WAD.wDivDown(...)``: both rounded down).

The liquidator names either the collateral to seize or the borrow shares to repay:

- ``seizedAssets`` given: ``repaidShares = seized.mulDivUp(price, 1e36).wDivUp(LIF)
  .toSharesUp(...)`` -- every step rounded up, against the liquidator;
- ``repaidShares`` given: ``seizedAssets = repaid.toAssetsDown(...).wMulDown(LIF)
  .mulDivDown(1e36, price)`` -- every step rounded down, against the liquidator;

then ``repaidAssets = repaidShares.toAssetsUp(...)``. When the borrower's collateral reaches
zero, the rest of its debt is *bad debt realized at once*: ``min(totalBorrowAssets,
remainingShares.toAssetsUp(...))`` is taken off both ``totalBorrowAssets`` and
``totalSupplyAssets``, so every supplier of the market loses pro rata through the share
price; the borrower's shares are burned.

Source followed: morpho-org/morpho-blue at commit
``3085651a79553bbabbfd8be309c262dab45b686e``, ``src/Morpho.sol`` (``liquidate``),
``src/libraries/ConstantsLib.sol``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from marginengine.decisions import Code, Refusal
from marginengine.fixedpoint import WAD
from marginengine.margin.morpho import (
    ORACLE_PRICE_SCALE,
    Market,
    MarketParams,
    Position,
    borrowed_assets,
    is_healthy,
    max_borrow,
    mul_div_down,
    mul_div_up,
    to_assets_down,
    to_assets_up,
    to_shares_up,
    w_div_down,
    w_div_up,
    w_mul_down,
)

#: ``ConstantsLib.MAX_LIQUIDATION_INCENTIVE_FACTOR``.
MAX_LIQUIDATION_INCENTIVE_FACTOR = 115 * WAD // 100
#: ``ConstantsLib.LIQUIDATION_CURSOR``.
LIQUIDATION_CURSOR = 3 * WAD // 10


def liquidation_incentive_factor(lltv: int) -> int:
    """``min(1.15e18, WAD.wDivDown(WAD - 0.3e18.wMulDown(WAD - lltv)))``, a wad.

    Examples
    --------
    >>> liquidation_incentive_factor(86 * 10**16)
    1043841336116910229
    """
    if not 0 <= lltv < WAD:
        raise ValueError(f"lltv: must be in [0, 1e18), got {lltv}")
    return min(MAX_LIQUIDATION_INCENTIVE_FACTOR,
               w_div_down(WAD, WAD - w_mul_down(LIQUIDATION_CURSOR, WAD - lltv)))


@dataclass(frozen=True)
class MorphoLiquidation:
    """The outcome of one ``liquidate`` (the fields of Morpho's ``Liquidate`` event).

    Attributes
    ----------
    market, position
        The market and the borrower's position after the liquidation.
    repaid_assets, repaid_shares
        Loan assets the liquidator pays and borrow shares burned by that payment.
    seized_assets
        Collateral transferred to the liquidator.
    bad_debt_assets, bad_debt_shares
        Debt realized as a loss to the suppliers (zero unless the collateral ran out).
    incentive_factor
        The LIF applied (wad).
    """

    market: Market
    position: Position
    repaid_assets: int
    repaid_shares: int
    seized_assets: int
    bad_debt_assets: int
    bad_debt_shares: int
    incentive_factor: int


def liquidate(market: Market, position: Position, price: int, params: MarketParams,
              seized_assets: int = 0, repaid_shares: int = 0) -> MorphoLiquidation | Refusal:
    """Apply Morpho's ``liquidate`` to one borrower (interest accrued by the caller).

    Parameters
    ----------
    market, position
        The market's totals and the borrower's position.
    price
        The oracle's price (collateral in loan units, scaled by 1e36); positive.
    params
        The market's LLTV.
    seized_assets, repaid_shares
        Exactly one positive: collateral to seize, or borrow shares to repay.

    Returns
    -------
    MorphoLiquidation or Refusal
        ``inconsistent input``, ``position is healthy``, or the underflow codes when the
        liquidator asks for more collateral or shares than the borrower has.
    """
    if price <= 0:
        return Refusal(Code.INVALID_ARGUMENT, f"price: must be positive (got {price})",
                       {"price": price})
    if seized_assets < 0 or repaid_shares < 0:
        field, value = (("seized_assets", seized_assets) if seized_assets < 0
                        else ("repaid_shares", repaid_shares))
        return Refusal(Code.INVALID_AMOUNT, f"{field}: must be non-negative (got {value})",
                       {"seized_assets": seized_assets, "repaid_shares": repaid_shares})
    if (seized_assets == 0) == (repaid_shares == 0):
        return Refusal(Code.MORPHO_INCONSISTENT_INPUT,
                       f"seized_assets and repaid_shares: give exactly one of them, the other "
                       f"zero (got seized_assets {seized_assets}, repaid_shares "
                       f"{repaid_shares})",
                       {"seized_assets": seized_assets, "repaid_shares": repaid_shares})
    # A refusal of the amount names the field the liquidator gave.
    field = "seized_assets" if seized_assets > 0 else "repaid_shares"
    if is_healthy(position, market, price, params):
        return Refusal(Code.MORPHO_HEALTHY_POSITION, "borrower: the position is healthy",
                       {"borrowed": borrowed_assets(position, market),
                        "max_borrow": max_borrow(position, price, params)})
    lif = liquidation_incentive_factor(params.lltv)
    tba, tbs = market.total_borrow_assets, market.total_borrow_shares
    if seized_assets > 0:
        quoted = mul_div_up(seized_assets, price, ORACLE_PRICE_SCALE)
        repaid_shares = to_shares_up(w_div_up(quoted, lif), tba, tbs)
    else:
        seized_assets = mul_div_down(w_mul_down(to_assets_down(repaid_shares, tba, tbs), lif),
                                     ORACLE_PRICE_SCALE, price)
    repaid_assets = to_assets_up(repaid_shares, tba, tbs)
    if repaid_shares > position.borrow_shares:
        return Refusal(Code.SHARES_EXCEED_BALANCE,
                       f"{field}: repaying {repaid_shares} borrow shares of "
                       f"{position.borrow_shares} owed",
                       {"repaid_shares": repaid_shares, "owed": position.borrow_shares})
    if seized_assets > position.collateral:
        return Refusal(Code.ASSETS_EXCEED_BALANCE,
                       f"{field}: seizing {seized_assets} collateral of "
                       f"{position.collateral} held",
                       {"seized_assets": seized_assets, "held": position.collateral})
    # zeroFloorSub: repaidAssets may exceed totalBorrowAssets by one unit.
    after = replace(market, total_borrow_shares=tbs - repaid_shares,
                    total_borrow_assets=max(0, tba - repaid_assets))
    borrower = replace(position, borrow_shares=position.borrow_shares - repaid_shares,
                       collateral=position.collateral - seized_assets)
    bad_assets = bad_shares = 0
    if borrower.collateral == 0:
        bad_shares = borrower.borrow_shares
        bad_assets = min(after.total_borrow_assets,
                         to_assets_up(bad_shares, after.total_borrow_assets,
                                      after.total_borrow_shares))
        after = replace(after,
                        total_borrow_assets=after.total_borrow_assets - bad_assets,
                        total_supply_assets=after.total_supply_assets - bad_assets,
                        total_borrow_shares=after.total_borrow_shares - bad_shares)
        borrower = replace(borrower, borrow_shares=0)
    return MorphoLiquidation(after, borrower, repaid_assets, repaid_shares, seized_assets,
                             bad_assets, bad_shares, lif)


__all__ = [
    "LIQUIDATION_CURSOR",
    "MAX_LIQUIDATION_INCENTIVE_FACTOR",
    "MorphoLiquidation",
    "liquidate",
    "liquidation_incentive_factor",
]
