"""Morpho Blue markets as pure functions: shares, interest, the health check.

One isolated market (one loan token, one collateral token, one oracle, one LLTV) and its
positions, exactly as ``Morpho.sol`` keeps them: supply and borrow are held in *shares*,
converted to assets with OpenZeppelin's virtual-shares method (``VIRTUAL_SHARES = 1e6``,
``VIRTUAL_ASSETS = 1``), and every conversion rounds in the protocol's favour:

============  ===================  =====================
action        given assets         given shares
============  ===================  =====================
supply        shares rounded down  assets rounded up
withdraw      shares rounded up    assets rounded down
borrow        shares rounded up    assets rounded down
repay         shares rounded down  assets rounded up
============  ===================  =====================

A position is healthy when ``collateral x price / 1e36 x lltv`` (both rounded down) covers
the borrowed assets rounded up (``_isHealthy``). Every function takes the market and the
position as values and returns new values (or a :class:`~marginengine.decisions.Refusal`
with Morpho's own error string); nothing here needs an engine.

Source followed: morpho-org/morpho-blue at commit
``3085651a79553bbabbfd8be309c262dab45b686e`` -- ``src/Morpho.sol`` (``supply``,
``withdraw``, ``borrow``, ``repay``, ``supplyCollateral``, ``withdrawCollateral``,
``_accrueInterest``, ``_isHealthy``), ``src/libraries/SharesMathLib.sol``,
``src/libraries/MathLib.sol``, ``src/libraries/ConstantsLib.sol``,
``src/libraries/UtilsLib.sol``. Units are Morpho's: token base units for assets, shares
as minted, wad (1e18) for LLTV, fee and rates, the oracle price scaled by 1e36 (the price
of one collateral base unit in loan base units, times 1e36).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from marginengine.decisions import Code, Refusal
from marginengine.fixedpoint import WAD, Rounding, mul_div

#: ``SharesMathLib.VIRTUAL_SHARES``.
VIRTUAL_SHARES = 10**6
#: ``SharesMathLib.VIRTUAL_ASSETS``.
VIRTUAL_ASSETS = 1
#: ``ConstantsLib.ORACLE_PRICE_SCALE``.
ORACLE_PRICE_SCALE = 10**36
#: ``ConstantsLib.MAX_FEE`` (25%).
MAX_FEE = 25 * WAD // 100
#: ``type(uint128).max``: every total and every borrow share count is a ``uint128``.
MAX_UINT128 = 2**128 - 1


# ---- MathLib ---------------------------------------------------------------------------

def mul_div_down(x: int, y: int, d: int) -> int:
    """``MathLib.mulDivDown``: ``x * y / d`` rounded down."""
    return mul_div(x, y, d, Rounding.DOWN)


def mul_div_up(x: int, y: int, d: int) -> int:
    """``MathLib.mulDivUp``: ``(x * y + d - 1) / d``, i.e. rounded up."""
    return mul_div(x, y, d, Rounding.UP)


def w_mul_down(x: int, y: int) -> int:
    """``MathLib.wMulDown``: ``x * y / WAD`` rounded down."""
    return mul_div(x, y, WAD, Rounding.DOWN)


def w_div_down(x: int, y: int) -> int:
    """``MathLib.wDivDown``: ``x * WAD / y`` rounded down."""
    return mul_div(x, WAD, y, Rounding.DOWN)


def w_div_up(x: int, y: int) -> int:
    """``MathLib.wDivUp``: ``x * WAD / y`` rounded up."""
    return mul_div(x, WAD, y, Rounding.UP)


def w_taylor_compounded(x: int, n: int) -> int:
    """``MathLib.wTaylorCompounded``: ``e^(x n) - 1`` to three terms, each rounded down.

    Parameters
    ----------
    x
        Rate per second (wad).
    n
        Seconds elapsed.
    """
    first = x * n
    second = mul_div_down(first, first, 2 * WAD)
    third = mul_div_down(second, first, 3 * WAD)
    return first + second + third


# ---- SharesMathLib ---------------------------------------------------------------------

def to_shares_down(assets: int, total_assets: int, total_shares: int) -> int:
    """``toSharesDown``: ``assets x (shares + 1e6) / (assets_total + 1)`` rounded down."""
    return mul_div_down(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    """``toSharesUp``: as :func:`to_shares_down`, rounded up."""
    return mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    """``toAssetsDown``: ``shares x (assets_total + 1) / (shares_total + 1e6)`` rounded down."""
    return mul_div_down(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def to_assets_up(shares: int, total_assets: int, total_shares: int) -> int:
    """``toAssetsUp``: as :func:`to_assets_down`, rounded up."""
    return mul_div_up(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


# ---- state -----------------------------------------------------------------------------

@dataclass(frozen=True)
class MarketParams:
    """A market's immutable parameters (``MarketParams``; the tokens and IRM by name).

    Attributes
    ----------
    lltv
        Liquidation loan-to-value, wad, below 1e18 (``createMarket`` requires an enabled
        LLTV; Morpho's governance enables values such as 0.86e18 or 0.945e18).
    """

    lltv: int

    def __post_init__(self) -> None:
        if not 0 <= self.lltv < WAD:
            raise ValueError(f"lltv: must be in [0, 1e18), got {self.lltv}")


@dataclass(frozen=True)
class Market:
    """A market's totals (``Market`` in ``IMorpho.sol``), all ``uint128`` in Morpho.

    Attributes
    ----------
    total_supply_assets, total_supply_shares, total_borrow_assets, total_borrow_shares
        The totals, in loan-token base units and shares.
    last_update
        Timestamp (seconds) of the last accrual.
    fee
        Share of interest minted to the fee recipient (wad, at most ``MAX_FEE``).
    """

    total_supply_assets: int = 0
    total_supply_shares: int = 0
    total_borrow_assets: int = 0
    total_borrow_shares: int = 0
    last_update: int = 0
    fee: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.fee <= MAX_FEE:
            # setFee: "max fee exceeded"
            raise ValueError(f"fee: must be in [0, 0.25e18], got {self.fee}")
        for name in ("total_supply_assets", "total_supply_shares", "total_borrow_assets",
                     "total_borrow_shares", "last_update"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be non-negative, got {getattr(self, name)}")


@dataclass(frozen=True)
class Position:
    """One account's position in one market (``Position`` in ``IMorpho.sol``).

    Attributes
    ----------
    supply_shares, borrow_shares
        Shares of the loan token supplied and borrowed.
    collateral
        Collateral, in collateral-token base units (not shares: collateral earns nothing).
    """

    supply_shares: int = 0
    borrow_shares: int = 0
    collateral: int = 0


@dataclass(frozen=True)
class Moved:
    """What an action moved and the state after it.

    Attributes
    ----------
    market, position
        The market and the position after the action.
    assets, shares
        Assets transferred and shares minted or burned (both as Morpho returns them).
    """

    market: Market
    position: Position
    assets: int
    shares: int


# ---- checks ----------------------------------------------------------------------------

def _exactly_one_zero(assets: int, shares: int) -> Refusal | None:
    # UtilsLib.exactlyOneZero: give assets or shares, never both, never neither.
    if assets < 0 or shares < 0:
        field, value = ("assets", assets) if assets < 0 else ("shares", shares)
        return Refusal(Code.INVALID_AMOUNT, f"{field}: must be non-negative (got {value})",
                       {"assets": assets, "shares": shares})
    if (assets == 0) == (shares == 0):
        return Refusal(Code.MORPHO_INCONSISTENT_INPUT,
                       f"assets and shares: give exactly one of them, the other zero (got "
                       f"assets {assets}, shares {shares})",
                       {"assets": assets, "shares": shares})
    return None


def _given(assets: int, shares: int) -> str:
    """The field the caller gave (after :func:`_exactly_one_zero`): a refusal of the amount
    names it, whichever of assets and shares the rule converted it to."""
    return "assets" if assets > 0 else "shares"


def _uint128(market: Market) -> Refusal | None:
    # UtilsLib.toUint128 on every total: "max uint128 exceeded".
    for name in ("total_supply_assets", "total_supply_shares", "total_borrow_assets",
                 "total_borrow_shares"):
        value = getattr(market, name)
        if value > MAX_UINT128:
            return Refusal(Code.MORPHO_MAX_UINT128_EXCEEDED,
                           f"market: {name} would exceed 2^128 - 1", {name: value})
    return None


def borrowed_assets(position: Position, market: Market) -> int:
    """The position's debt in assets, rounded up (``toAssetsUp``, as ``_isHealthy``)."""
    return to_assets_up(position.borrow_shares, market.total_borrow_assets,
                        market.total_borrow_shares)


def supplied_assets(position: Position, market: Market) -> int:
    """The position's supply in assets, rounded down (what ``withdraw`` of all shares pays)."""
    return to_assets_down(position.supply_shares, market.total_supply_assets,
                          market.total_supply_shares)


def max_borrow(position: Position, price: int, params: MarketParams) -> int:
    """``collateral.mulDivDown(price, ORACLE_PRICE_SCALE).wMulDown(lltv)``, in loan units."""
    return w_mul_down(mul_div_down(position.collateral, price, ORACLE_PRICE_SCALE), params.lltv)


def is_healthy(position: Position, market: Market, price: int, params: MarketParams) -> bool:
    """``_isHealthy``: no borrow shares, or ``max_borrow >= borrowed`` (rounded up).

    Rounds in favour of the protocol: one may not borrow exactly ``max_borrow`` but one
    unit less (Morpho's own comment on ``_isHealthy``).
    """
    if position.borrow_shares == 0:
        return True
    return max_borrow(position, price, params) >= borrowed_assets(position, market)


def health_factor(position: Position, market: Market, price: int,
                  params: MarketParams) -> int | None:
    """``max_borrow / borrowed`` as a wad rounded down, ``None`` without debt.

    Not in ``Morpho.sol`` (which only answers healthy or not); this is the figure of
    Morpho's documentation and ``MorphoBalancesLib``-based integrations, for display and
    for the risk book. The decision is :func:`is_healthy`.
    """
    debt = borrowed_assets(position, market)
    if position.borrow_shares == 0 or debt == 0:
        return None
    return w_div_down(max_borrow(position, price, params), debt)


# ---- interest ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Accrual:
    """The result of ``_accrueInterest``.

    Attributes
    ----------
    market
        The market after accrual (``last_update`` moved to ``now``).
    interest
        Interest added to both borrow and supply totals (loan units).
    fee_shares
        Supply shares minted to the fee recipient.
    """

    market: Market
    interest: int
    fee_shares: int


def accrue_interest(market: Market, borrow_rate: int, now: int) -> Accrual:
    """``_accrueInterest`` with the IRM's ``borrowRate`` (wad per second) given.

    ``interest = totalBorrowAssets.wMulDown(wTaylorCompounded(rate, elapsed))`` is added to
    both totals; the fee part is minted as supply shares to the fee recipient at the
    share price *before* the fee (``feeAmount.toSharesDown(totalSupplyAssets - feeAmount,
    totalSupplyShares)``), so the recipient is paid from the suppliers' interest.
    """
    if now < market.last_update:
        raise ValueError(f"now: {now} is before the market's last update {market.last_update}")
    if borrow_rate < 0:
        raise ValueError(f"borrow_rate: must be non-negative, got {borrow_rate}")
    elapsed = now - market.last_update
    if elapsed == 0:
        return Accrual(market, 0, 0)
    interest = w_mul_down(market.total_borrow_assets, w_taylor_compounded(borrow_rate, elapsed))
    supply_assets = market.total_supply_assets + interest
    fee_shares = 0
    if market.fee != 0:
        fee_amount = w_mul_down(interest, market.fee)
        fee_shares = to_shares_down(fee_amount, supply_assets - fee_amount,
                                    market.total_supply_shares)
    after = replace(market, total_borrow_assets=market.total_borrow_assets + interest,
                    total_supply_assets=supply_assets,
                    total_supply_shares=market.total_supply_shares + fee_shares,
                    last_update=now)
    return Accrual(after, interest, fee_shares)


def accrual_refusal(accrual: Accrual) -> Refusal | None:
    """Whether ``_accrueInterest`` would revert: ``interest.toUint128()`` ("max uint128
    exceeded"), then the ``uint128`` totals it adds to (checked adds; the engine names
    them with the same code), or ``None``. Morpho accrues first in every entry point, so
    an accrual beyond the widths refuses the action that asks for it."""
    if accrual.interest > MAX_UINT128:
        return Refusal(Code.MORPHO_MAX_UINT128_EXCEEDED,
                       "market: the accrued interest would exceed 2^128 - 1",
                       {"interest": accrual.interest})
    return _uint128(accrual.market)


# ---- actions (interest is accrued by the caller first, as every Morpho entry point does) --

def supply(market: Market, position: Position, assets: int = 0,
           shares: int = 0) -> Moved | Refusal:
    """``supply``: assets -> shares rounded down, or shares -> assets rounded up."""
    bad = _exactly_one_zero(assets, shares)
    if bad:
        return bad
    if assets > 0:
        shares = to_shares_down(assets, market.total_supply_assets, market.total_supply_shares)
    else:
        assets = to_assets_up(shares, market.total_supply_assets, market.total_supply_shares)
    after = replace(market, total_supply_shares=market.total_supply_shares + shares,
                    total_supply_assets=market.total_supply_assets + assets)
    bad = _uint128(after)
    if bad:
        return bad
    return Moved(after, replace(position, supply_shares=position.supply_shares + shares),
                 assets, shares)


def withdraw(market: Market, position: Position, assets: int = 0,
             shares: int = 0) -> Moved | Refusal:
    """``withdraw``: assets -> shares rounded up, or shares -> assets rounded down.

    Refused when the position has fewer shares (Solidity underflow) or when the market
    would lend more than it holds (``insufficient liquidity``).
    """
    bad = _exactly_one_zero(assets, shares)
    if bad:
        return bad
    field = _given(assets, shares)
    if assets > 0:
        shares = to_shares_up(assets, market.total_supply_assets, market.total_supply_shares)
    else:
        assets = to_assets_down(shares, market.total_supply_assets, market.total_supply_shares)
    if shares > position.supply_shares:
        return Refusal(Code.SHARES_EXCEED_BALANCE,
                       f"{field}: withdrawing {shares} supply shares of "
                       f"{position.supply_shares} held",
                       {"shares": shares, "held": position.supply_shares})
    after = replace(market, total_supply_shares=market.total_supply_shares - shares,
                    total_supply_assets=market.total_supply_assets - assets)
    if after.total_borrow_assets > after.total_supply_assets:
        return Refusal(Code.MORPHO_INSUFFICIENT_LIQUIDITY,
                       f"{field}: the withdrawal would leave the market's borrows above its "
                       f"supply",
                       {"total_borrow_assets": after.total_borrow_assets,
                        "total_supply_assets": after.total_supply_assets})
    return Moved(after, replace(position, supply_shares=position.supply_shares - shares),
                 assets, shares)


def borrow(market: Market, position: Position, price: int, params: MarketParams,
           assets: int = 0, shares: int = 0) -> Moved | Refusal:
    """``borrow``: assets -> shares rounded up, or shares -> assets rounded down.

    Refused when the position is unhealthy afterwards (``insufficient collateral``) or the
    market would lend more than it holds (``insufficient liquidity``), in that order.
    """
    bad = _exactly_one_zero(assets, shares)
    if bad:
        return bad
    field = _given(assets, shares)
    if assets > 0:
        shares = to_shares_up(assets, market.total_borrow_assets, market.total_borrow_shares)
    else:
        assets = to_assets_down(shares, market.total_borrow_assets, market.total_borrow_shares)
    after = replace(market, total_borrow_shares=market.total_borrow_shares + shares,
                    total_borrow_assets=market.total_borrow_assets + assets)
    moved = replace(position, borrow_shares=position.borrow_shares + shares)
    bad = _uint128(after)
    if bad:
        return bad
    if not is_healthy(moved, after, price, params):
        return Refusal(Code.MORPHO_INSUFFICIENT_COLLATERAL,
                       f"{field}: the position would be unhealthy after the borrow",
                       {"borrowed": borrowed_assets(moved, after),
                        "max_borrow": max_borrow(moved, price, params)})
    if after.total_borrow_assets > after.total_supply_assets:
        return Refusal(Code.MORPHO_INSUFFICIENT_LIQUIDITY,
                       f"{field}: the market has not enough supply",
                       {"total_borrow_assets": after.total_borrow_assets,
                        "total_supply_assets": after.total_supply_assets})
    return Moved(after, moved, assets, shares)


def repay(market: Market, position: Position, assets: int = 0,
          shares: int = 0) -> Moved | Refusal:
    """``repay``: assets -> shares rounded down, or shares -> assets rounded up.

    ``totalBorrowAssets`` is reduced with ``zeroFloorSub``: repaying every share may pay one
    unit more than the total (Morpho: "`assets` may be greater than `totalBorrowAssets` by 1").
    """
    bad = _exactly_one_zero(assets, shares)
    if bad:
        return bad
    field = _given(assets, shares)
    if assets > 0:
        shares = to_shares_down(assets, market.total_borrow_assets, market.total_borrow_shares)
    else:
        assets = to_assets_up(shares, market.total_borrow_assets, market.total_borrow_shares)
    if shares > position.borrow_shares:
        return Refusal(Code.SHARES_EXCEED_BALANCE,
                       f"{field}: repaying {shares} borrow shares of "
                       f"{position.borrow_shares} owed",
                       {"shares": shares, "owed": position.borrow_shares})
    after = replace(market, total_borrow_shares=market.total_borrow_shares - shares,
                    total_borrow_assets=max(0, market.total_borrow_assets - assets))
    return Moved(after, replace(position, borrow_shares=position.borrow_shares - shares),
                 assets, shares)


def supply_collateral(position: Position, assets: int) -> Position | Refusal:
    """``supplyCollateral`` (no accrual needed: collateral earns nothing)."""
    if assets <= 0:
        return Refusal(Code.MORPHO_ZERO_ASSETS,
                       f"assets: collateral amount must be positive (got {assets})",
                       {"assets": assets})
    if position.collateral + assets > MAX_UINT128:
        return Refusal(Code.MORPHO_MAX_UINT128_EXCEEDED,
                       "assets: the position's collateral would exceed 2^128 - 1",
                       {"collateral": position.collateral + assets})
    return replace(position, collateral=position.collateral + assets)


def withdraw_collateral(market: Market, position: Position, price: int, params: MarketParams,
                        assets: int) -> Position | Refusal:
    """``withdrawCollateral``: the position must stay healthy."""
    if assets <= 0:
        return Refusal(Code.MORPHO_ZERO_ASSETS,
                       f"assets: collateral amount must be positive (got {assets})",
                       {"assets": assets})
    if assets > position.collateral:
        return Refusal(Code.ASSETS_EXCEED_BALANCE,
                       f"assets: withdrawing {assets} collateral of {position.collateral} "
                       f"held",
                       {"assets": assets, "held": position.collateral})
    after = replace(position, collateral=position.collateral - assets)
    if not is_healthy(after, market, price, params):
        return Refusal(Code.MORPHO_INSUFFICIENT_COLLATERAL,
                       "assets: the position would be unhealthy after the withdrawal",
                       {"borrowed": borrowed_assets(after, market),
                        "max_borrow": max_borrow(after, price, params)})
    return after


__all__ = [
    "MAX_FEE",
    "MAX_UINT128",
    "ORACLE_PRICE_SCALE",
    "VIRTUAL_ASSETS",
    "VIRTUAL_SHARES",
    "Accrual",
    "Market",
    "MarketParams",
    "Moved",
    "Position",
    "accrual_refusal",
    "accrue_interest",
    "borrow",
    "borrowed_assets",
    "health_factor",
    "is_healthy",
    "max_borrow",
    "mul_div_down",
    "mul_div_up",
    "repay",
    "supplied_assets",
    "supply",
    "supply_collateral",
    "to_assets_down",
    "to_assets_up",
    "to_shares_down",
    "to_shares_up",
    "w_div_down",
    "w_div_up",
    "w_mul_down",
    "w_taylor_compounded",
    "withdraw",
    "withdraw_collateral",
]
