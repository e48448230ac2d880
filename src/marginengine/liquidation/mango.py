"""Mango v4 token-with-token liquidation (``token_liq_with_token``) as a pure rule, in I80F48.

A liqee whose maint health is negative (or who is still *being liquidated*: its
liquidation-end health has not come back above -1 native quote) gives the liquidator asset
tokens for liability tokens the liquidator pays in. The liquidator's asset amount is the
liability's oracle value in asset tokens times a fee factor: ``(1 + liab fee)(1 + asset
fee)`` to the liquidator, with the banks' platform fees added to the liqee's side
(``(1 + liab fee + liab platform fee)(1 + asset fee + asset platform fee)``; the difference
is the asset bank's collected fee). The liability transferred is the least of

- ``liab_needed``: what brings the liquidation-end health (init weights unscaled, oracle
  prices) to zero, ``-health / (liab price x init liab weight - adjusted liab price x init
  asset weight)``;
- ``liab_possible``: what the asset balance pays for, ``asset x asset price / adjusted liab
  price``;
- the liquidator's ``max_liab_transfer`` and the liability (both the spot balance and the
  health balance, which includes perp unsettled PnL in the token);

and the asset balance taken is bounded by the spot and health balances. Values are raw
I80F48 (``value x 2^48``); a product floors (:func:`~marginengine.margin.mango.fx_mul`), a
quotient truncates toward zero as the ``fixed`` crate's does (:func:`fx_div`).

Source followed: blockworks-foundation/mango-v4 at commit
``1303a4a16228eb1e8e8d4f0eef724eaf63310c86`` (2024-09-04),
``programs/mango-v4/src/instructions/token_liq_with_token.rs`` (``token_liq_with_token``,
``liquidation_action``), ``programs/mango-v4/src/state/mango_account.rs``
(``check_liquidatable``, ``maybe_recover_from_being_liquidated``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from marginengine.decisions import Code, Refusal
from marginengine.margin.mango import ONE, fx_mul, fx_to_f64

FRAC_BITS = 48


def fx_div(a: int, b: int) -> int:
    """I80F48 quotient ``(a << 48) / b``, truncated toward zero (``fixed``'s ``Div``)."""
    if b == 0:
        raise ZeroDivisionError("fx_div: division by zero")
    num = a << FRAC_BITS
    q = abs(num) // abs(b)
    return q if (num >= 0) == (b > 0) else -q


class CheckLiquidatable(Enum):
    """``CheckLiquidatable``: the answer of ``MangoAccount::check_liquidatable``."""

    NOT_LIQUIDATABLE = "NotLiquidatable"
    LIQUIDATABLE = "Liquidatable"
    BECAME_NOT_LIQUIDATABLE = "BecameNotLiquidatable"


def recovers(liq_end_health: int) -> bool:
    """``maybe_recover_from_being_liquidated``'s test: liquidation-end health above -1
    native quote (Mango's dust threshold instead of 0)."""
    return liq_end_health > -ONE


def check_liquidatable(being_liquidated: bool, maint_health: int,
                       liq_end_health: int) -> tuple[CheckLiquidatable, bool]:
    """``check_liquidatable``: the answer and the account's new being-liquidated flag.

    Being liquidated, the account stays liquidatable until its liquidation-end health
    recovers; otherwise it becomes liquidatable when its maint health is negative.
    """
    if being_liquidated:
        if recovers(liq_end_health):
            return CheckLiquidatable.BECAME_NOT_LIQUIDATABLE, False
        return CheckLiquidatable.LIQUIDATABLE, True
    if maint_health >= 0:
        return CheckLiquidatable.NOT_LIQUIDATABLE, False
    return CheckLiquidatable.LIQUIDATABLE, True


@dataclass(frozen=True)
class BankLiq:
    """One bank's side of the liquidation (raw I80F48).

    Attributes
    ----------
    oracle_price
        Native quote per native token (the liquidation-end price is the oracle price).
    init_asset_weight, init_liab_weight
        The unscaled init weights.
    liquidation_fee, platform_liquidation_fee
        The bank's fees (fractions).
    """

    oracle_price: int
    init_asset_weight: int
    init_liab_weight: int
    liquidation_fee: int = 0
    platform_liquidation_fee: int = 0


@dataclass(frozen=True)
class TokenLiq:
    """The amounts of a token-with-token liquidation (raw I80F48, native units).

    Attributes
    ----------
    liab_transfer
        Liability tokens the liquidator pays into the liqee's position.
    asset_transfer_from_liqee, asset_transfer_to_liqor
        Asset tokens the liqee gives up and the liquidator receives.
    asset_liquidation_fee
        Their difference, collected by the asset bank.
    liab_needed, liab_possible
        The two bounds (health to zero; what the asset balance pays for).
    """

    liab_transfer: int
    asset_transfer_from_liqee: int
    asset_transfer_to_liqor: int
    asset_liquidation_fee: int
    liab_needed: int
    liab_possible: int


def _require_gt(a: int, b: int, what: str) -> Refusal | None:
    if a > b:
        return None
    return Refusal(Code.MANGO_REQUIRE_GT_VIOLATED,
                   f"{what}: {fx_to_f64(a):.6f} is not above {fx_to_f64(b):.6f}",
                   {"left": a, "right": b})


def fee_factors(liab: BankLiq, asset: BankLiq) -> tuple[int, int]:
    """``(fee_factor_liqor, fee_factor_total)``: ``(1 + lf)(1 + af)`` and the same with the
    platform fees added to each bank's fee."""
    liqor = fx_mul(ONE + liab.liquidation_fee, ONE + asset.liquidation_fee)
    total = fx_mul(ONE + liab.liquidation_fee + liab.platform_liquidation_fee,
                   ONE + asset.liquidation_fee + asset.platform_liquidation_fee)
    return liqor, total


def asset_transfers(liab_transfer: int, liab: BankLiq, asset: BankLiq) -> tuple[int, int]:
    """``(from_liqee, to_liqor)``: the asset paid for ``liab_transfer`` liability tokens,
    ``liab x liab price / asset price`` times the total and the liquidator's fee factor."""
    ff_liqor, ff_total = fee_factors(liab, asset)
    base = fx_div(fx_mul(liab_transfer, liab.oracle_price), asset.oracle_price)
    return fx_mul(base, ff_total), fx_mul(base, ff_liqor)


def token_liq_with_token(liq_end_health: int, liab: BankLiq, liab_native: int,
                         liab_health_balance: int, asset: BankLiq, asset_native: int,
                         asset_health_balance: int, max_liab_transfer: int
                         ) -> TokenLiq | Refusal:
    """``liquidation_action`` of ``token_liq_with_token`` on a liquidatable liqee.

    Parameters
    ----------
    liq_end_health
        The liqee's liquidation-end health before the liquidation.
    liab, asset
        The two banks.
    liab_native, asset_native
        The liqee's spot balances (negative liability, positive asset).
    liab_health_balance, asset_health_balance
        Its effective (spot plus perp health unsettled PnL) balances of the two tokens at
        liquidation end.
    max_liab_transfer
        The liquidator's cap on the liability transferred.

    Returns
    -------
    TokenLiq | Refusal
        The amounts, or ``RequireGtViolated`` where Mango's ``require_gt!`` fails (no
        asset, no liability, nothing to liquidate).
    """
    for refusal in (_require_gt(asset_native, 0, "liqee asset position"),
                    _require_gt(0, liab_native, "liqee liability position (negated)")):
        if refusal is not None:
            return refusal
    _, ff_total = fee_factors(liab, asset)
    liab_price_adjusted = fx_mul(liab.oracle_price, ff_total)
    # Only while both the spot and the health balance are a liability / an asset: perp
    # losses must not escape into spot, nor a new liability appear once PnL settles.
    max_liab_liquidation = max(min(max_liab_transfer, -liab_native, -liab_health_balance), 0)
    max_asset_transfer = max(min(asset_native, asset_health_balance), 0)
    for refusal in (_require_gt(max_liab_liquidation, 0, "max liability liquidation"),
                    _require_gt(max_asset_transfer, 0, "max asset transfer")):
        if refusal is not None:
            return refusal
    # x = -health / (ilw x llep - iaw x lopa) (the source's derivation, alep == aop).
    denominator = (fx_mul(liab.oracle_price, liab.init_liab_weight)
                   - fx_mul(liab_price_adjusted, asset.init_asset_weight))
    liab_needed = fx_div(-liq_end_health, denominator)
    liab_possible = fx_div(fx_mul(max_asset_transfer, asset.oracle_price),
                           liab_price_adjusted)
    liab_transfer = max(min(liab_needed, liab_possible, max_liab_liquidation), 0)
    from_liqee, to_liqor = asset_transfers(liab_transfer, liab, asset)
    return TokenLiq(liab_transfer, from_liqee, to_liqor, from_liqee - to_liqor, liab_needed,
                    liab_possible)


__all__ = [
    "BankLiq",
    "CheckLiquidatable",
    "TokenLiq",
    "asset_transfers",
    "check_liquidatable",
    "fee_factors",
    "fx_div",
    "recovers",
    "token_liq_with_token",
]
