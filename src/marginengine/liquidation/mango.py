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

Perp liquidation: ``perp_liq_base_or_positive_pnl`` (:func:`perp_liq_base_or_positive_pnl`:
base reduced at the oracle price and the base fee, positive pnl taken over) and
``perp_liq_negative_pnl_or_bankruptcy`` (:func:`perp_liq_negative_pnl_or_bankruptcy`:
negative pnl settled against the settle token, then the insurance fund, then socialized).

Token bankruptcy (``token_liq_bankruptcy``): once an account has no asset left that
token-with-token liquidation can take (:func:`after_phase2_refusal`), the group's
insurance fund pays the liquidator for each liability token it takes over at the oracle
price times ``1 + liab fee`` (in the insurance token, the price ratio; for a liability in
the insurance token itself the fund repays the borrow directly), rounded up to whole
insurance tokens and capped by the vault; when the vault is exhausted the rest of the loss
is socialized: the bank's deposit index drops by ``loss / indexed total deposits``
(:func:`token_liq_bankruptcy`, :func:`socialized_deposit_index`).

Source followed: blockworks-foundation/mango-v4 at commit
``1303a4a16228eb1e8e8d4f0eef724eaf63310c86`` (2024-09-04),
``programs/mango-v4/src/instructions/token_liq_with_token.rs`` (``token_liq_with_token``,
``liquidation_action``), ``programs/mango-v4/src/instructions/token_liq_bankruptcy.rs``,
``perp_liq_base_or_positive_pnl.rs`` and ``perp_liq_negative_pnl_or_bankruptcy.rs``
(their ``liquidation_action``), ``programs/mango-v4/src/state/perp_market.rs``
(``socialize_loss``),
``programs/mango-v4/src/health/cache.rs`` (``has_liq_spot_assets``,
``has_liq_spot_borrows``, ``require_after_phase2_liquidation``,
``spot_amount_taken_for_health_zero``, ``perp_max_settle``),
``programs/mango-v4/src/state/bank.rs`` (``deposit_internal``: dusting below one native),
``programs/mango-v4/src/state/mango_account.rs`` (``check_liquidatable``,
``maybe_recover_from_being_liquidated``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from marginengine.decisions import Code, Refusal
from marginengine.margin.mango import (
    I80F48_MAX as I80F48_MAX_RAW,
)
from marginengine.margin.mango import (
    ONE,
    HealthType,
    PerpInfo,
    TokenInfo,
    effective_token_balances,
    fx_div,
    fx_mul,
    fx_to_f64,
)

FRAC_BITS = 48


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


# ------------------------------------------------------------------ token bankruptcy
def _liq_end_balances(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo]) -> list[int]:
    return effective_token_balances(tokens, perps, HealthType.LIQUIDATION_END)


def has_liq_spot_assets(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo]) -> bool:
    """``HealthCache::has_liq_spot_assets``: a token with at least one native unit both on
    the spot position and in the liquidation-end effective balance (every bank allows
    asset liquidation here)."""
    return any(t.balance_spot >= ONE and b >= ONE
               for t, b in zip(tokens, _liq_end_balances(tokens, perps), strict=True))


def has_liq_spot_borrows(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo]) -> bool:
    """``HealthCache::has_liq_spot_borrows``: a token negative both on the spot position
    and in the liquidation-end effective balance."""
    return any(t.balance_spot < 0 and b < 0
               for t, b in zip(tokens, _liq_end_balances(tokens, perps), strict=True))


def after_phase2_refusal(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo],
                         assets_liquidatable: bool | None = None) -> Refusal | None:
    """``require_after_phase2_liquidation`` (Serum3 and open taker fills are not modelled):
    the first of open perp orders, a possible token-with-token liquidation, a perp base
    position, positive perp pnl without base; ``None`` when the account is in the
    bankruptcy phase's reach. ``assets_liquidatable``, when given, replaces
    :func:`has_liq_spot_assets` (the engine's whole-unit test)."""
    if any(p.bids_base_lots or p.asks_base_lots for p in perps):
        return Refusal(Code.MANGO_HAS_OPEN_PERP_ORDERS, "the account has open perp orders")
    if assets_liquidatable is None:
        assets_liquidatable = has_liq_spot_assets(tokens, perps)
    if has_liq_spot_borrows(tokens, perps) and assets_liquidatable:
        return Refusal(Code.MANGO_HAS_LIQUIDATABLE_TOKEN_POSITION,
                       "the account still has an asset token_liq_with_token can take "
                       "against its borrows (not bankrupt)")
    if any(p.base_lots for p in perps):
        return Refusal(Code.MANGO_HAS_LIQUIDATABLE_PERP_BASE_POSITION,
                       "the account has a perp base position to liquidate first")
    if any(p.base_lots == 0 and p.quote > 0 for p in perps):
        return Refusal(Code.MANGO_HAS_LIQUIDATABLE_POSITIVE_PERP_PNL,
                       "the account has positive perp pnl to take over first")
    return None


def is_bankrupt(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo]) -> bool:
    """In the bankruptcy phase with a token liability to settle: past phase 2
    (:func:`after_phase2_refusal` is ``None``) and :func:`has_liq_spot_borrows`."""
    return after_phase2_refusal(tokens, perps) is None and has_liq_spot_borrows(tokens, perps)


def fx_ceil(raw: int) -> int:
    """``I80F48::ceil`` as an integer: the least integer not below ``raw / 2^48``."""
    return -((-raw) >> FRAC_BITS)


@dataclass(frozen=True)
class BankruptcyInsurance:
    """The insurance part of ``token_liq_bankruptcy`` (raw I80F48 unless said otherwise).

    Attributes
    ----------
    liab_to_insurance_with_fee
        Insurance tokens per liability token: ``liab price x (1 + liab fee) / insurance
        price`` (one when the liability is the insurance token).
    insurance_transfer
        Whole insurance tokens out of the vault (an integer, native units).
    insurance_fund_exhausted
        Whether the transfer emptied the vault (so the rest is socialized).
    liab_transfer
        The liability tokens bought with the insurance transfer, ``transfer / ratio``.
    liab_after
        The liqee's liability position after the insurance part (dusted to zero when it
        ends positive below one native unit, as ``deposit_with_dusting``).
    remaining_liab_loss
        What is still lost after the insurance part.
    """

    liab_to_insurance_with_fee: int
    insurance_transfer: int
    insurance_fund_exhausted: bool
    liab_transfer: int
    liab_after: int
    remaining_liab_loss: int


@dataclass(frozen=True)
class TokenBankruptcy:
    """``token_liq_bankruptcy``'s amounts: the insurance part, the loss socialized (the
    remaining loss once the fund is exhausted, else zero; raw) and the liability bank's
    deposit index before and after (raw)."""

    insurance: BankruptcyInsurance
    socialized_loss: int
    starting_deposit_index: int
    ending_deposit_index: int


def socialized_deposit_index(deposit_index: int, indexed_total_deposits: int,
                             loss: int) -> int:
    """Mango's socialized loss: the deposit index solving ``indexed deposits x (index -
    new index) = loss``, i.e. ``index - loss / indexed deposits`` (a quotient truncated
    toward zero; unchanged without a loss)."""
    if loss <= 0:
        return deposit_index
    return deposit_index - fx_div(loss, indexed_total_deposits)


def bankruptcy_insurance(liab_native: int, liab_health_balance: int, liab_price: int,
                         liab_liquidation_fee: int, insurance_price: int | None,
                         max_liab_transfer: int, insurance_vault: int
                         ) -> BankruptcyInsurance | Refusal:
    """The insurance part of ``token_liq_bankruptcy`` on an account past phase 2 (see
    :func:`after_phase2_refusal`).

    Parameters
    ----------
    liab_native, liab_health_balance
        The liqee's spot liability and its liquidation-end effective balance (raw, both
        negative, else ``RequireGtViolated``).
    liab_price, liab_liquidation_fee
        The liability bank's oracle price and liquidation fee (raw).
    insurance_price
        The insurance token's oracle price (raw); ``None`` when the liability *is* the
        insurance token (the fund repays the borrow, no liquidator is involved).
    max_liab_transfer
        The liquidator's cap on the liability taken over (raw).
    insurance_vault
        Whole insurance tokens available (0 when the bank is not eligible for the group
        insurance fund).
    """
    for refusal in (_require_gt(0, liab_native, "liqee liability position (negated)"),
                    _require_gt(0, liab_health_balance,
                                "liqee liability health balance (negated)")):
        if refusal is not None:
            return refusal
    remaining = min(-liab_native, -liab_health_balance)
    ratio = (ONE if insurance_price is None
             else fx_div(fx_mul(liab_price, ONE + liab_liquidation_fee), insurance_price))
    unrounded = min(remaining, max_liab_transfer)
    insurance_transfer = max(min(fx_ceil(fx_mul(unrounded, ratio)), insurance_vault), 0)
    exhausted = insurance_transfer == insurance_vault
    # v3's rule, kept by Mango (its AUDIT note): the liability bought back from the rounded
    # insurance amount, which may exceed max_liab_transfer by the ceil.
    liab_transfer = fx_div(insurance_transfer << FRAC_BITS, ratio)
    liab_after = liab_native
    if insurance_transfer > 0:
        liab_after = liab_native + liab_transfer
        if 0 <= liab_after < ONE:
            liab_after = 0   # deposit_with_dusting: below one native unit is dust
        remaining -= liab_after - liab_native
    return BankruptcyInsurance(ratio, insurance_transfer, exhausted, liab_transfer,
                               liab_after, remaining)


def token_liq_bankruptcy(liab_native: int, liab_health_balance: int, liab_price: int,
                         liab_liquidation_fee: int, insurance_price: int | None,
                         max_liab_transfer: int, insurance_vault: int, deposit_index: int,
                         indexed_total_deposits: int) -> TokenBankruptcy | Refusal:
    """``token_liq_bankruptcy``: :func:`bankruptcy_insurance`, then, once the vault is
    exhausted, the remaining loss socialized by :func:`socialized_deposit_index`
    (``deposit_index`` and ``indexed_total_deposits``: the liability bank's, raw, after
    the insurance part)."""
    part = bankruptcy_insurance(liab_native, liab_health_balance, liab_price,
                                liab_liquidation_fee, insurance_price, max_liab_transfer,
                                insurance_vault)
    if isinstance(part, Refusal):
        return part
    remaining = part.remaining_liab_loss
    socialized = remaining if part.insurance_fund_exhausted and remaining > 0 else 0
    return TokenBankruptcy(part, socialized, deposit_index,
                           socialized_deposit_index(deposit_index, indexed_total_deposits,
                                                    socialized))


def split_in_proportion(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """``amount`` (whole units) split in proportion to ``weights`` (positive): each
    holder's floor share, the remainder one unit each to the largest fractional parts
    (ties by name), so the shares sum to ``amount`` exactly (empty without weights)."""
    total = sum(weights.values())
    if amount <= 0 or total <= 0:
        return {}
    shares = {h: b * amount // total for h, b in weights.items()}
    rest = amount - sum(shares.values())
    by_fraction = sorted(weights, key=lambda h: (-(weights[h] * amount % total), h))
    for h in by_fraction[:rest]:
        shares[h] += 1
    return {h: s for h, s in shares.items() if s}


def socialize_loss(loss: int, holders: Mapping[str, int]) -> dict[str, int]:
    """Split a socialized ``loss`` (whole native units) across the bank's depositors in
    proportion to their deposits (what lowering the deposit index does), in whole units
    (:func:`split_in_proportion`), so the shares sum to ``loss`` exactly and none exceeds
    its deposit.

    Parameters
    ----------
    loss
        The loss, at most the deposits' total.
    holders
        Deposits (positive, native units) by holder.
    """
    total = sum(holders.values())
    if loss > total > 0:
        raise ValueError(f"loss: {loss} is above the deposits' total {total}")
    return split_in_proportion(loss, holders)


# ------------------------------------------------- perp base or positive pnl liquidation
def spot_amount_taken_for_health_zero(health: int, starting_spot: int,
                                      asset_weighted_price: int,
                                      liab_weighted_price: int) -> int:
    """``spot_amount_taken_for_health_zero`` (health/cache.rs): how much of a token can be
    taken from a balance of ``starting_spot`` before ``health`` reaches zero (raw)."""
    if health <= 0:
        return 0
    taken = 0
    if starting_spot > 0:
        if asset_weighted_price > 0:
            asset_max = fx_div(health, asset_weighted_price)
            if asset_max <= starting_spot:
                return asset_max
        taken = starting_spot
        health -= fx_mul(starting_spot, asset_weighted_price)
    if health > 0:
        if liab_weighted_price <= 0:
            raise ValueError("liab_weighted_price: must be positive")
        taken += fx_div(health, liab_weighted_price)
    return taken


def spot_amount_given_for_health_zero(health: int, starting_spot: int,
                                      asset_weighted_price: int,
                                      liab_weighted_price: int) -> int:
    """``spot_amount_given_for_health_zero``: how much of a token must be added to a
    balance of ``starting_spot`` to bring a negative ``health`` to zero (raw; the prices
    swap sides, as in the source)."""
    return spot_amount_taken_for_health_zero(-health, -starting_spot, liab_weighted_price,
                                             asset_weighted_price)


@dataclass(frozen=True)
class PerpLiqMarket:
    """A perp market's side of ``perp_liq_base_or_positive_pnl`` (raw I80F48 but the lot).

    Attributes
    ----------
    base_lot_size
        Native base units per lot (an integer).
    init_base_asset_weight, init_base_liab_weight, init_overall_asset_weight
        The init weights (liquidation end uses them unscaled).
    base_liquidation_fee, platform_liquidation_fee
        Fees on the base taken over (to the liquidator; to the market).
    positive_pnl_liquidation_fee
        The liquidator's discount on positive pnl it takes over.
    """

    base_lot_size: int
    init_base_asset_weight: int
    init_base_liab_weight: int
    init_overall_asset_weight: int
    base_liquidation_fee: int = 0
    platform_liquidation_fee: int = 0
    positive_pnl_liquidation_fee: int = 0


@dataclass(frozen=True)
class PerpBaseLiq:
    """The amounts of ``perp_liq_base_or_positive_pnl`` (raw I80F48 but the lots).

    Attributes
    ----------
    base_transfer
        Base lots into the liqee's position (the liquidator takes the opposite).
    quote_transfer_liqee, quote_transfer_liqor
        The perp quote each side records for them (the liqee at the fee factor with the
        platform fee, the liquidator at its own).
    platform_fee
        ``-(liqor + liqee)``: the market's accrued liquidation fee.
    pnl_transfer
        Positive perp pnl the liquidator takes over (out of the liqee's quote).
    token_transfer
        Settle tokens the liquidator pays the liqee for it: ``pnl x (1 - fee)``.
    """

    base_transfer: int
    quote_transfer_liqee: int
    quote_transfer_liqor: int
    platform_fee: int
    pnl_transfer: int
    token_transfer: int


def perp_liq_base_or_positive_pnl(market: PerpLiqMarket, settle: TokenInfo,
                                  settle_balance: int, liq_end_health: int, perp: PerpInfo,
                                  max_base_transfer: int, max_pnl_transfer: int
                                  ) -> PerpBaseLiq | Refusal:
    """``liquidation_action`` of ``perp_liq_base_or_positive_pnl`` on a liquidatable liqee:
    the base position reduced at the oracle price, adjusted by the base liquidation fee,
    and positive pnl taken over for settle tokens, in the source's five steps (reduce base
    while the unsettled health pnl is negative; settle positive pnl; reduce base while it
    is settleable; settle again; reduce base further when the overall asset weight is
    positive), each only as far as brings the liquidation-end health to zero.

    Parameters
    ----------
    market
        The perp market.
    settle, settle_balance
        The settle token's ``TokenInfo`` and the liqee's liquidation-end effective balance
        of it (raw).
    liq_end_health
        The liqee's liquidation-end health (raw).
    perp
        The liqee's ``PerpInfo`` in the market (its lots and oracle price).
    max_base_transfer
        Lots the liquidator takes at most (signed like the reduction: negative for a
        short liqee; ``SomeError`` on the wrong sign).
    max_pnl_transfer
        Native settle units of positive pnl at most (an integer, at least 0).
    """
    liq_end = HealthType.LIQUIDATION_END
    base_lots = perp.base_lots
    oracle_price_per_lot = fx_mul(market.base_lot_size << FRAC_BITS,
                                  perp.base_prices.oracle)
    if base_lots > 0:
        if max_base_transfer < 0:
            return Refusal(Code.MANGO_SOME_ERROR, "max_base_transfer can't be negative when "
                           "liqee's base_position is positive")
        direction = -1
        fee_liqor = ONE - market.base_liquidation_fee
        fee_all = fee_liqor - market.platform_liquidation_fee
        uhupnl_per_lot = fx_mul(oracle_price_per_lot, -market.init_base_asset_weight + fee_all)
    else:
        if max_base_transfer > 0:
            return Refusal(Code.MANGO_SOME_ERROR, "max_base_transfer can't be positive when "
                           "liqee's base_position is negative")
        direction = 1
        fee_liqor = ONE + market.base_liquidation_fee
        fee_all = fee_liqor + market.platform_liquidation_fee
        uhupnl_per_lot = fx_mul(oracle_price_per_lot, market.init_base_liab_weight - fee_all)
    if uhupnl_per_lot <= 0:
        # Mango's assert!: with these weights and fees a lot taken over gains no health.
        return Refusal(Code.MANGO_SOME_ERROR, "the perp market's base weights and "
                       "liquidation fees make reducing the base position gain no health",
                       {"uhupnl_per_lot": uhupnl_per_lot})
    if market.init_base_liab_weight <= 0 or settle.liab_weight(HealthType.LIQUIDATION_END) <= 0:
        return Refusal(Code.MANGO_REQUIRE_GT_VIOLATED, "liab weights must be positive")
    spot_gain_per_settled = ONE - market.positive_pnl_liquidation_fee
    overall = market.init_overall_asset_weight
    max_pnl = max_pnl_transfer << FRAC_BITS
    asset_wp = fx_mul(settle.asset_weight(liq_end), settle.prices.asset(liq_end))
    liab_wp = fx_mul(settle.liab_weight(liq_end), settle.prices.liab(liq_end))
    state = {"reduction": 0, "pnl": 0, "uhupnl": perp.unweighted_health_unsettled_pnl(liq_end),
             "health": liq_end_health, "settle": settle_balance}

    def rehealth(new_settle: int) -> int:
        return (state["health"] - settle.health_contribution(liq_end, state["settle"])
                + settle.health_contribution(liq_end, new_settle))

    def reduce_base(uhupnl_limit: int, expected_per_lot: int, actual_per_lot: int) -> None:
        given = spot_amount_given_for_health_zero(state["health"], state["settle"], asset_wp,
                                                  liab_wp)
        wanted = min(given, uhupnl_limit)
        lots = fx_ceil(fx_div(wanted, expected_per_lot)) if expected_per_lot > 0 else 0
        # overshoot by the ceil to aim for health >= 0, within the position and the cap
        lots = max(min(lots, abs(base_lots) - state["reduction"],
                       abs(max_base_transfer) - state["reduction"]), 0)
        new_settle = state["settle"] + actual_per_lot * lots
        state["health"] = rehealth(new_settle)
        state["settle"] = new_settle
        state["uhupnl"] += uhupnl_per_lot * lots
        state["reduction"] += lots

    def settle_pnl(per_settle: int) -> None:
        given = spot_amount_given_for_health_zero(state["health"], state["settle"], asset_wp,
                                                  liab_wp)
        amount = max(min(fx_div(given, per_settle), max_pnl - state["pnl"], state["uhupnl"]),
                     0)
        new_settle = state["settle"] + fx_mul(amount, per_settle)
        state["health"] = rehealth(new_settle)
        state["settle"] = new_settle
        state["uhupnl"] -= amount
        state["pnl"] += amount

    if state["uhupnl"] < 0:   # step 1: base reduction raises the negative hupnl directly
        reduce_base(-state["uhupnl"], uhupnl_per_lot, uhupnl_per_lot)
    if state["uhupnl"] >= 0 and spot_gain_per_settled > overall:   # step 2: pre-settle
        settle_pnl(spot_gain_per_settled - overall)
    if state["uhupnl"] >= 0 and state["pnl"] < max_pnl:   # step 3: settleable base
        reduce_base(max_pnl - state["pnl"], fx_mul(uhupnl_per_lot, spot_gain_per_settled),
                    fx_mul(uhupnl_per_lot, overall))
    if state["uhupnl"] >= 0 and spot_gain_per_settled > overall:   # step 4: post-settle
        settle_pnl(spot_gain_per_settled - overall)
    # step 5: with a positive overall weight, base reduction helps on its own; the -0.5
    # target avoids rounding trouble (any health above -1 ends being-liquidated).
    if state["health"] < -(ONE // 2) and overall > 0:
        per_lot = fx_mul(uhupnl_per_lot, overall)
        reduce_base(I80F48_MAX_RAW, per_lot, per_lot)
    base_transfer = direction * state["reduction"]
    quote_base = -(base_transfer * oracle_price_per_lot)
    quote_liqee = fx_mul(quote_base, fee_all)
    quote_liqor = fx_mul(-quote_base, fee_liqor)
    platform_fee = max(-quote_liqor - quote_liqee, 0)
    pnl = state["pnl"]
    token = fx_mul(pnl, spot_gain_per_settled) if pnl > 0 else 0
    return PerpBaseLiq(base_transfer, quote_liqee, quote_liqor, platform_fee, pnl, token)


# ------------------------------------------ perp negative pnl liquidation or bankruptcy
def perp_max_settle(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo],
                    settle_token_index: int) -> int:
    """``HealthCache::perp_max_settle``: how much negative perp pnl can be settled out of
    the settle token before the maint health, counting only the positive perp
    contributions, reaches zero (raw)."""
    maint = HealthType.MAINT
    index = {t.token_index: i for i, t in enumerate(tokens)}
    balances = [t.balance_spot for t in tokens]
    for perp in perps:
        contribution = perp.health_unsettled_pnl(maint)
        if contribution > 0:
            balances[index[perp.settle_token_index]] += contribution
    settle_health = sum(t.health_contribution(maint, b) for t, b in zip(tokens, balances,
                                                                         strict=True))
    settle = tokens[index[settle_token_index]]
    return spot_amount_taken_for_health_zero(
        settle_health, balances[index[settle_token_index]],
        fx_mul(settle.asset_weight(maint), settle.prices.asset(maint)),
        fx_mul(settle.liab_weight(maint), settle.prices.liab(maint)))


@dataclass(frozen=True)
class PerpNegativePnlLiq:
    """The amounts of ``perp_liq_negative_pnl_or_bankruptcy`` (raw I80F48 but the vault's).

    Attributes
    ----------
    settlement
        Negative pnl the liquidator takes over for the same settle tokens from the liqee.
    max_settlement
        What the liqee could settle (``perp_max_settle`` and its settle limit).
    insurance_transfer
        Whole insurance tokens from the vault to the liquidator (an integer).
    insurance_fund_exhausted
        Whether that emptied the vault (only then is the rest socialized).
    insurance_liab_transfer
        Negative pnl the liquidator takes over for them.
    liab_from_liqee
        The negative pnl that brings the liquidation-end health to zero (at most the pnl).
    socialized_loss
        What is left of it once the vault is exhausted: wiped from the liqee and socialized
        over the market's open interest.
    """

    settlement: int
    max_settlement: int
    insurance_transfer: int
    insurance_fund_exhausted: bool
    insurance_liab_transfer: int
    liab_from_liqee: int
    socialized_loss: int


def perp_liq_negative_pnl_or_bankruptcy(
        tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo], perp_at: int,
        settle_price: int, insurance_price: int, base_liquidation_fee: int,
        max_liab_transfer: int, insurance_vault: int,
        settle_limit: int | None = None) -> PerpNegativePnlLiq | Refusal:
    """``liquidation_action`` of ``perp_liq_negative_pnl_or_bankruptcy`` on a liquidatable
    liqee past phase 2 (no perp base): the liquidator first takes over negative pnl for
    settle tokens of the liqee, as far as ``perp_max_settle`` allows; then, if that
    settled all it could and pnl is still negative, takes over the part that brings the
    liquidation-end health to zero for insurance tokens at ``settle price x (1 + base
    liquidation fee) / insurance price`` (rounded up, at most the vault), and once the
    vault is exhausted the rest is socialized.

    Parameters
    ----------
    tokens, perps
        The liqee's health cache; ``perps[perp_at]`` the market liquidated.
    settle_price, insurance_price
        The settle and insurance tokens' oracle prices (raw).
    base_liquidation_fee
        The perp market's (raw).
    max_liab_transfer
        Native settle units the liquidator takes over at most (an integer).
    insurance_vault
        Whole insurance tokens available (0 for a market outside the group fund).
    settle_limit
        The liqee's available settle limit (native units; ``None``: unlimited, Mango's
        negative ``settle_pnl_limit_factor``).
    """
    perp = perps[perp_at]
    settle_index = perp.settle_token_index
    at = next(i for i, t in enumerate(tokens) if t.token_index == settle_index)
    settle = tokens[at]
    liq_end = HealthType.LIQUIDATION_END
    liq_end_health = sum(t.health_contribution(liq_end, b) for t, b in zip(
        tokens, effective_token_balances(tokens, perps, liq_end), strict=True))
    settle_balance = effective_token_balances(tokens, perps, liq_end)[at]
    max_settle = perp_max_settle(tokens, perps, settle_index)
    pnl = perp.quote + perp.base_lots * fx_mul(perp.base_lot_size << FRAC_BITS,
                                               perp.base_prices.oracle)
    if not pnl < 0:
        return Refusal(Code.MANGO_PROFITABILITY_MISMATCH,
                       f"the liqee's perp pnl {fx_to_f64(pnl):.6f} is not negative",
                       {"pnl": pnl})
    settleable = pnl if settle_limit is None else max(pnl, -(settle_limit << FRAC_BITS))
    max_settlement = max(min(max_settle, -settleable), 0)
    settlement = max(min(max_settlement, max_liab_transfer << FRAC_BITS), 0)
    pnl += settlement
    cap = (max_liab_transfer << FRAC_BITS) - settlement
    insurance_transfer, exhausted, insurance_liab, from_liqee, socialized = 0, False, 0, 0, 0
    if settlement == max_settlement and pnl < 0:
        # The settlement moved spot and pnl of the same token: the effective balance and
        # the liquidation-end health are those from before it.
        max_for_health = spot_amount_given_for_health_zero(
            liq_end_health, settle_balance, fx_mul(settle_price, settle.init_asset_weight),
            fx_mul(settle_price, settle.init_liab_weight))
        from_liqee = max(min(-pnl, max_for_health), 0)
        to_liqor = max(min(from_liqee, cap), 0)
        price_with_fee = fx_mul(settle_price, ONE + base_liquidation_fee)
        insurance_transfer = min(fx_ceil(fx_div(fx_mul(to_liqor, price_with_fee),
                                                insurance_price)), insurance_vault)
        exhausted = insurance_transfer == insurance_vault
        insurance_liab = min(fx_div(fx_mul(insurance_transfer << FRAC_BITS, insurance_price),
                                    price_with_fee), to_liqor)
        remaining = from_liqee - insurance_liab
        if exhausted and remaining > 0:
            socialized = remaining
    return PerpNegativePnlLiq(settlement, max_settlement, insurance_transfer, exhausted,
                              insurance_liab, from_liqee, socialized)


__all__ = [
    "BankLiq",
    "BankruptcyInsurance",
    "CheckLiquidatable",
    "PerpBaseLiq",
    "PerpLiqMarket",
    "PerpNegativePnlLiq",
    "TokenBankruptcy",
    "TokenLiq",
    "after_phase2_refusal",
    "asset_transfers",
    "bankruptcy_insurance",
    "check_liquidatable",
    "fee_factors",
    "fx_ceil",
    "fx_div",
    "has_liq_spot_assets",
    "has_liq_spot_borrows",
    "is_bankrupt",
    "perp_liq_base_or_positive_pnl",
    "perp_liq_negative_pnl_or_bankruptcy",
    "perp_max_settle",
    "recovers",
    "socialize_loss",
    "socialized_deposit_index",
    "split_in_proportion",
    "spot_amount_given_for_health_zero",
    "spot_amount_taken_for_health_zero",
    "token_liq_bankruptcy",
    "token_liq_with_token",
]
