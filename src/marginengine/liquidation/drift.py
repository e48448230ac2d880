"""Drift v2 liquidation sizing: how much to take over to cover a margin shortage.

Drift liquidates only what restores the account: the base to close for a perp, or the
spot liability to transfer (with the asset paid for it) to cover the *margin shortage*
(maintenance requirement minus total collateral), at the liquidation multipliers
(``1 + fee`` on the asset taken, ``1 - fee`` on the liability) and net of the insurance
fund's fee. Every division floors (Rust's unsigned division) except where Drift rounds up
(``safe_div_ceil``), as noted.

Source followed: drift-labs/protocol-v2 at commit ``0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62``,
``programs/drift/src/math/liquidation.rs``
(``calculate_base_asset_amount_to_cover_margin_shortage``,
``calculate_liability_transfer_to_cover_margin_shortage``,
``calculate_liability_transfer_implied_by_asset_amount``,
``calculate_asset_transfer_for_liability_transfer``, ``calculate_perp_if_fee``,
``calculate_funding_rate_deltas_to_resolve_bankruptcy``), ``math/funding.rs``
(``calculate_funding_payment_in_quote_precision``), ``controller/liquidation.rs``
(``resolve_perp_bankruptcy``: the insurance fund's payment), ``math/bankruptcy.rs``
(``is_cross_margin_bankrupt``), ``math/constants.rs``; the spot bankruptcy:
``controller/liquidation.rs`` (``resolve_spot_bankruptcy``) and ``math/liquidation.rs``
(``calculate_cumulative_deposit_interest_delta_to_resolve_bankruptcy``); gradual
liquidation and the fee by slot: ``math/liquidation.rs`` (``calculate_max_pct_to_liquidate``,
``get_liquidation_fee``, ``LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS``),
``state/perp_market.rs`` (``get_max_liquidation_fee``; ``get_base_liquidator_fee``: the
high-leverage cap), ``math/constants.rs``
(``LIQUIDATION_PCT_PRECISION``, ``LIQUIDATION_FEE_INCREASE_PER_SLOT``,
``MAX_LIQUIDATION_MULTIPLIER``). Units: quote and
price 1e6, base 1e9, weights 1e4, fees and multipliers ``LIQUIDATION_FEE_PRECISION`` (1e6),
margin ratios 1e4.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``LIQUIDATION_FEE_PRECISION``.
LIQUIDATION_FEE_PRECISION = 1_000_000
#: ``LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO`` (1e6 / 1e4).
LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO = 100
PRICE_PRECISION = QUOTE_PRECISION = 1_000_000
SPOT_WEIGHT_PRECISION = 10_000
#: ``PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO``.
PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO = 10**9
#: Drift's ``u64::MAX`` / ``u128::MAX`` answers: "the whole position".
U64_MAX = 2**64 - 1
U128_MAX = 2**128 - 1
U32_MAX = 2**32 - 1
#: ``BASE_PRECISION``.
BASE_PRECISION = 10**9
#: ``FUNDING_RATE_BUFFER`` and ``FUNDING_RATE_TO_QUOTE_PRECISION_PRECISION_RATIO``
#: (funding rates in ``FUNDING_RATE_PRECISION`` = 1e9).
FUNDING_RATE_BUFFER = 1_000
FUNDING_RATE_TO_QUOTE_PRECISION_PRECISION_RATIO = 1_000
#: ``SPOT_CUMULATIVE_INTEREST_PRECISION``: a spot market's cumulative interest at 1.
SPOT_CUMULATIVE_INTEREST_PRECISION = 10**10
#: ``AMM_TO_QUOTE_PRECISION_RATIO`` (1e9 / 1e6).
AMM_TO_QUOTE_PRECISION_RATIO = 1_000
#: ``LIQUIDATION_PCT_PRECISION``: 100% of what covers the margin shortage.
LIQUIDATION_PCT_PRECISION = 10_000
#: ``LIQUIDATION_FEE_INCREASE_PER_SLOT``: 0.01 bps of ``LIQUIDATION_FEE_PRECISION`` a slot.
LIQUIDATION_FEE_INCREASE_PER_SLOT = LIQUIDATION_FEE_PRECISION // 1_000_000
#: ``LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS``: the fee stays at its base this long
#: ("~10 minutes").
LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS = 1_500
#: ``MAX_LIQUIDATION_MULTIPLIER``: a perp's liquidation fee grows to at most 3x its base.
MAX_LIQUIDATION_MULTIPLIER = 3


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _pow10(n: int) -> int:
    return int(10**n)


def base_asset_amount_to_cover_margin_shortage(
        margin_shortage: int, margin_ratio: int, liquidation_fee: int, if_liquidation_fee: int,
        oracle_price: int, quote_oracle_price: int = PRICE_PRECISION) -> int:
    """``calculate_base_asset_amount_to_cover_margin_shortage`` (base, 1e9).

    Closing base frees ``margin_ratio`` of its value but costs the liquidation fee and the
    insurance fund's fee; ``u64::MAX`` when closing cannot cover it.
    """
    ratio = margin_ratio * LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO
    if oracle_price == 0 or ratio <= liquidation_fee:
        return U64_MAX
    denominator = (oracle_price * quote_oracle_price // PRICE_PRECISION
                   * (ratio - liquidation_fee) // LIQUIDATION_FEE_PRECISION
                   - oracle_price * if_liquidation_fee // LIQUIDATION_FEE_PRECISION)
    return margin_shortage * PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO // denominator


def perp_if_fee(margin_shortage: int, user_base_asset_amount: int, margin_ratio: int,
                liquidator_fee: int, oracle_price: int, quote_oracle_price: int,
                max_if_liquidation_fee: int) -> int:
    """``calculate_perp_if_fee`` (``LIQUIDATION_FEE_PRECISION``): the insurance fund's fee.

    What the margin ratio (1e4) leaves after the liquidator's fee and the shortage per unit
    of position value, times 95% ("to avoid ... deposits == negative pnl leading to
    bankruptcy"), capped at the market's ``if_liquidation_fee``; 0 when nothing is left.
    """
    ratio = margin_ratio * LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO
    if (oracle_price <= 0 or quote_oracle_price <= 0 or ratio <= liquidator_fee
            or user_base_asset_amount == 0):
        return 0
    price = oracle_price * quote_oracle_price // PRICE_PRECISION
    per_value = (margin_shortage * BASE_PRECISION // user_base_asset_amount
                 * PRICE_PRECISION // price)
    per_value = min(per_value, U32_MAX)   # ``cast::<u32>().unwrap_or(u32::MAX)``
    implied = max(max(ratio - liquidator_fee, 0) - per_value, 0) * 19 // 20  # saturating
    return min(max_if_liquidation_fee, implied)


def spot_if_fee(margin_shortage: int, token_amount: int, asset_weight: int,
                asset_liquidation_multiplier: int, liability_weight: int,
                liability_liquidation_multiplier: int, liability_decimals: int,
                liability_price: int, max_if_fee: int) -> int:
    """``calculate_spot_if_fee`` (``LIQUIDATION_FEE_PRECISION``): the insurance fund's fee
    on a spot liquidation.

    What the liability weight (1e4, with the liquidation buffer) leaves above the asset
    weight at the liquidation multipliers and the shortage per unit of liability value,
    as a share of the liability weight, capped at the market's ``if_liquidation_fee``;
    0 when the asset weight is not below the liability weight, or the price, the amount or
    the liability multiplier is 0. Every division floors and every subtraction saturates
    at 0, as Drift's ``u128`` arithmetic.
    """
    if (asset_weight >= liability_weight or liability_price == 0 or token_amount == 0
            or liability_liquidation_multiplier == 0):
        return 0
    ratio = LIQUIDATION_FEE_PRECISION // SPOT_WEIGHT_PRECISION
    liability_weight *= ratio
    asset_weight *= ratio
    implied = max(liability_weight - asset_weight * asset_liquidation_multiplier
                  // liability_liquidation_multiplier, 0)
    per_value = (margin_shortage * LIQUIDATION_FEE_PRECISION * _pow10(liability_decimals)
                 // token_amount // liability_price)
    implied = max(implied - per_value, 0) * LIQUIDATION_FEE_PRECISION // liability_weight
    return min(max_if_fee, min(implied, U32_MAX))   # ``cast::<u32>().unwrap_or(u32::MAX)``


def liability_transfer_to_cover_margin_shortage(
        margin_shortage: int, asset_weight: int, asset_liquidation_multiplier: int,
        liability_weight: int, liability_liquidation_multiplier: int,
        liability_decimals: int, liability_price: int, if_liquidation_fee: int) -> int:
    """``calculate_liability_transfer_to_cover_margin_shortage`` (liability token units).

    ``u128::MAX`` when the asset's weight (times the multipliers' ratio) is not below the
    liability's: a transfer cannot improve the account. At least 1.
    """
    if asset_weight >= liability_weight:
        return U128_MAX
    if liability_decimals > 6:
        num_scale, den_scale = _pow10(liability_decimals - 6), 1
    else:
        num_scale, den_scale = 1, _pow10(6 - liability_decimals)
    liability_component = liability_weight * 10        # an extra 10 for precision (Drift)
    asset_component = (asset_weight * 10 * asset_liquidation_multiplier
                       // liability_liquidation_multiplier)
    if asset_component >= liability_component:
        return U128_MAX
    denominator = (liability_price * (liability_component - asset_component)
                   - liability_price * if_liquidation_fee // LIQUIDATION_FEE_PRECISION
                   * liability_weight * 10)
    transfer = (margin_shortage * num_scale * (PRICE_PRECISION * SPOT_WEIGHT_PRECISION * 10)
                // denominator // den_scale)
    return max(transfer, 1)


def liability_transfer_implied_by_asset_amount(
        asset_amount: int, asset_liquidation_multiplier: int, asset_decimals: int,
        asset_price: int, liability_liquidation_multiplier: int, liability_decimals: int,
        liability_price: int) -> int:
    """``calculate_liability_transfer_implied_by_asset_amount`` (both divisions round up)."""
    if liability_decimals > asset_decimals:
        num_scale, den_scale = _pow10(liability_decimals - asset_decimals), 1
    else:
        num_scale, den_scale = 1, _pow10(asset_decimals - liability_decimals)
    value = asset_amount * num_scale * asset_price * liability_liquidation_multiplier
    return _ceil(_ceil(value, liability_price * asset_liquidation_multiplier), den_scale)


def asset_transfer_for_liability_transfer(
        asset_amount: int, asset_liquidation_multiplier: int, asset_decimals: int,
        asset_price: int, liability_amount: int, liability_liquidation_multiplier: int,
        liability_decimals: int, liability_price: int) -> int:
    """``calculate_asset_transfer_for_liability_transfer`` (asset token units).

    At least 1; rounded to the whole asset balance when within 1 USD of it.
    """
    if asset_decimals > liability_decimals:
        num_scale, den_scale = _pow10(asset_decimals - liability_decimals), 1
    else:
        num_scale, den_scale = 1, _pow10(liability_decimals - asset_decimals)
    transfer = max(liability_amount * num_scale * liability_price * asset_liquidation_multiplier
                   // (asset_price * liability_liquidation_multiplier) // den_scale, 1)
    if asset_decimals > 6:
        value_num, value_den = _pow10(asset_decimals - 6), 1
    else:
        value_num, value_den = 1, _pow10(6 - asset_decimals)
    delta = abs(transfer - asset_amount)
    if delta * asset_price // PRICE_PRECISION * value_num // value_den < QUOTE_PRECISION:
        transfer = asset_amount
    return transfer


def is_cross_margin_bankrupt(spot: list[int], perps: list[tuple[int, int]]) -> bool:
    """``is_cross_margin_bankrupt``: a liability (a borrow, a negative perp quote) and
    nothing else -- no deposit, no perp base, no positive perp quote (open orders are not
    modelled). ``spot``: signed token amounts; ``perps``: ``(base, quote)``."""
    has_liability = False
    for amount in spot:
        if amount > 0:
            return False
        has_liability = has_liability or amount < 0
    for base, quote in perps:
        if base != 0 or quote > 0:
            return False
        has_liability = has_liability or quote < 0
    return has_liability


def perp_bankruptcy_if_payment(loss: int, insurance_fund_vault_balance: int,
                               max_insurance_withdraw: int) -> int:
    """``resolve_perp_bankruptcy``'s insurance payment (quote 1e6): the loss, at most the
    vault less 1 (``saturating_sub(1)``: "deposits in insurance vault always remains >=
    1") and what the market may still claim (``quote_max_insurance -
    quote_settled_insurance``)."""
    return min(abs(loss), max(insurance_fund_vault_balance - 1, 0), max_insurance_withdraw)


def funding_rate_delta_to_resolve_bankruptcy(loss: int, total_base_asset_amount: int) -> int:
    """``calculate_funding_rate_deltas_to_resolve_bankruptcy`` (``FUNDING_RATE_PRECISION``):
    the loss per base of every open position (longs and shorts), rounded up; added to the
    longs' cumulative funding rate and taken from the shorts'.

    Raises
    ------
    ValueError
        ``total_base_asset_amount`` is 0 (Drift's ``CantResolvePerpBankruptcy``).
    """
    if total_base_asset_amount == 0:
        raise ValueError("total_base_asset_amount: 0, no position to socialize the loss over")
    return (_ceil(abs(loss) * BASE_PRECISION, total_base_asset_amount)
            * FUNDING_RATE_TO_QUOTE_PRECISION_PRECISION_RATIO)


def funding_payment(funding_rate_delta: int, base_asset_amount: int) -> int:
    """``calculate_funding_payment_in_quote_precision`` (quote 1e6, signed: received):
    ``|delta| x |base| / PRICE_PRECISION / FUNDING_RATE_BUFFER`` (floored), longs pay a
    positive delta and receive a negative one, shorts the reverse, then ``/
    AMM_TO_QUOTE_PRECISION_RATIO`` truncated toward zero."""
    if funding_rate_delta == 0 or base_asset_amount == 0:
        return 0
    magnitude = (abs(funding_rate_delta) * abs(base_asset_amount) // PRICE_PRECISION
                 // FUNDING_RATE_BUFFER)
    sign = (-1 if base_asset_amount > 0 else 1) * (1 if funding_rate_delta > 0 else -1)
    payment = magnitude // AMM_TO_QUOTE_PRECISION_RATIO   # |x| / r, then the sign
    return sign * payment


#: ``SHARE_OF_FEES_ALLOCATED_TO_DRIFT_NUMERATOR / _DENOMINATOR``: the half of a perp
#: market's exchange fees the funding imbalance may not spend (``get_total_fee_lower_bound``).
SHARE_OF_FEES_ALLOCATED_TO_DRIFT = (1, 2)
#: ``QUOTE_TO_BASE_AMT_FUNDING_PRECISION``: ``AMM_RESERVE_PRECISION x FUNDING_RATE_PRECISION
#: / QUOTE_PRECISION`` (1e12).
QUOTE_TO_BASE_AMT_FUNDING_PRECISION = BASE_PRECISION * PRICE_PRECISION * FUNDING_RATE_BUFFER \
    // QUOTE_PRECISION


def _trunc_div(a: int, b: int) -> int:
    """Rust's signed division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def perp_fee_pool(total_fee_minus_distributions: int, total_exchange_fee: int,
                  total_liquidation_fee: int = 0, total_fee_withdrawn: int = 0) -> int:
    """``math/repeg.rs`` ``calculate_fee_pool`` (quote 1e6): what the AMM's fees hold above
    the lower bound ``total_exchange_fee x 1/2 + total_liquidation_fee -
    total_fee_withdrawn`` (floored), 0 when they hold less."""
    num, den = SHARE_OF_FEES_ALLOCATED_TO_DRIFT
    bound = total_exchange_fee * num // den + total_liquidation_fee - total_fee_withdrawn
    return max(total_fee_minus_distributions - bound, 0)


def funding_rate_from_pnl_limit(pnl_limit: int, base_asset_amount: int) -> int:
    """``calculate_funding_rate_from_pnl_limit`` (``FUNDING_RATE_PRECISION``, 1e9): the rate
    at which ``base_asset_amount`` (1e9) receives ``pnl_limit`` (quote 1e6; a negative limit
    biased by 1 toward zero), truncated toward zero; 0 without base."""
    if base_asset_amount == 0:
        return 0
    biased = pnl_limit + 1 if pnl_limit < 0 else pnl_limit
    return _trunc_div(biased * QUOTE_TO_BASE_AMT_FUNDING_PRECISION, base_asset_amount)


@dataclass(frozen=True)
class FundingRates:
    """``calculate_funding_rate_long_short``'s result: the rates the longs and the shorts
    pay (``FUNDING_RATE_PRECISION``), the AMM's uncapped funding PnL (quote 1e6, positive:
    the protocol receives) and what its fees actually take (``capped_pnl``, added to
    ``total_fee_minus_distributions``; at least ``-fee_pool / 3``)."""

    long: int
    short: int
    uncapped_pnl: int
    capped_pnl: int


def funding_rate_long_short(funding_rate: int, base_asset_amount_with_amm: int,
                            base_asset_amount_long: int, base_asset_amount_short: int,
                            fee_pool: int) -> FundingRates:
    """``math/funding.rs`` ``calculate_funding_rate_long_short`` (rates 1e9, base 1e9,
    quote 1e6).

    The AMM's net position (``base_asset_amount_with_amm``) pays or receives the balanced
    ``funding_rate``: when it receives, or pays at most a third of the fee pool
    (:func:`perp_fee_pool`; ``calculate_capped_funding_rate``), both sides pay the
    balanced rate. Otherwise the receiving side's rate is capped to what the paying side
    pays plus that third (:func:`funding_rate_from_pnl_limit`) and the fees pay the third.

    Raises
    ------
    ValueError
        ``fee_pool`` negative.
    """
    if fee_pool < 0:
        raise ValueError(f"fee_pool: must be at least 0 (got {fee_pool})")
    uncapped = -funding_payment(funding_rate, base_asset_amount_with_amm)
    if uncapped >= 0:
        return FundingRates(funding_rate, funding_rate, uncapped, uncapped)
    limit = -(fee_pool // 3)                     # "limit to 1/3 of current fee pool"
    capped_pnl = max(uncapped, limit)
    capped_rate = funding_rate
    if uncapped < limit:
        paying = base_asset_amount_long if funding_rate > 0 else base_asset_amount_short
        from_users = funding_payment(funding_rate, paying)
        limit -= abs(from_users)
        receiving = base_asset_amount_long if funding_rate < 0 else base_asset_amount_short
        capped_rate = funding_rate_from_pnl_limit(limit, receiving)
    return FundingRates(capped_rate if funding_rate < 0 else funding_rate,
                        capped_rate if funding_rate > 0 else funding_rate,
                        uncapped, capped_pnl)


def spot_bankruptcy_if_payment(borrow_amount: int, insurance_fund_vault_balance: int) -> int:
    """``resolve_spot_bankruptcy``'s insurance payment (the borrow's token units): the
    borrow, at most the market's insurance vault less 1 (``saturating_sub(1)``: "so
    insurance_fund_vault_balance always stays >= 1")."""
    return min(borrow_amount, max(insurance_fund_vault_balance - 1, 0))


def cumulative_deposit_interest_delta_to_resolve_bankruptcy(
        loss: int, cumulative_deposit_interest: int, total_deposits: int) -> int:
    """``calculate_cumulative_deposit_interest_delta_to_resolve_bankruptcy``
    (``SPOT_CUMULATIVE_INTEREST_PRECISION``): what the market's cumulative deposit
    interest falls by so its deposits (``total_deposits`` token units) lose ``loss``:
    ``cumulative_deposit_interest x loss / total_deposits``, rounded up; 0 when there are
    no deposits (Drift's ``.or(Ok(0))`` on the division by zero)."""
    if total_deposits <= 0:
        return 0
    return _ceil(cumulative_deposit_interest * loss, total_deposits)


def deposit_after_interest_delta(amount: int, cumulative_deposit_interest: int,
                                 delta: int) -> int:
    """A deposit of ``amount`` tokens once the cumulative deposit interest falls by
    ``delta``: ``amount x (cumulative - delta) / cumulative``, rounded down (a deposit's
    token amount is its scaled balance times the interest, floored: ``get_token_amount``).

    Raises
    ------
    ValueError
        ``delta`` is above ``cumulative_deposit_interest`` (Drift's ``safe_sub`` fails:
        ``MathError``).
    """
    if delta > cumulative_deposit_interest:
        raise ValueError(f"delta: {delta} is above the cumulative deposit interest "
                         f"{cumulative_deposit_interest}")
    return amount * (cumulative_deposit_interest - delta) // cumulative_deposit_interest


def max_pct_to_liquidate(margin_shortage: int, slots_elapsed: int,
                         liquidation_margin_freed: int, initial_pct_to_liquidate: int,
                         liquidation_duration: int) -> int:
    """``calculate_max_pct_to_liquidate`` (``LIQUIDATION_PCT_PRECISION``, 1e4): the share
    of what covers the margin shortage (quote 1e6) that one liquidation may move.

    All of it when the shortage is under $50 ("if margin shortage is tiny, accelerate
    liquidation"). Else the share of the shortage at the liquidation's start that may be
    freed by now, ``initial_pct_to_liquidate + slots_elapsed x 1e4 /
    liquidation_duration`` (floored; all of it when the duration is 0: Drift's division by
    zero ``unwrap_or(LIQUIDATION_PCT_PRECISION)``), at most 100%, of the shortage now plus
    ``liquidation_margin_freed`` (the margin freed since the start), floored, less what was
    freed (saturating at 0), as a share of the shortage now (floored).
    ``slots_elapsed``: ``slot - user.last_active_slot``, the slots since the liquidation
    started.

    Raises
    ------
    ValueError
        ``slots_elapsed`` is negative (Drift's ``safe_sub`` fails) or ``margin_shortage``
        is 0 (Drift's division by zero).
    """
    if margin_shortage < 50 * QUOTE_PRECISION:
        return LIQUIDATION_PCT_PRECISION
    if slots_elapsed < 0:
        raise ValueError(f"slots_elapsed: {slots_elapsed} is negative (the slot is before "
                         "the liquidation's start)")
    if liquidation_duration == 0:
        pct_freeable = LIQUIDATION_PCT_PRECISION
    else:
        pct_freeable = slots_elapsed * LIQUIDATION_PCT_PRECISION // liquidation_duration
    pct_freeable = min(pct_freeable + initial_pct_to_liquidate, LIQUIDATION_PCT_PRECISION)
    total_margin_shortage = margin_shortage + liquidation_margin_freed
    max_margin_freed = total_margin_shortage * pct_freeable // LIQUIDATION_PCT_PRECISION
    margin_freeable = max(max_margin_freed - liquidation_margin_freed, 0)
    return margin_freeable * LIQUIDATION_PCT_PRECISION // margin_shortage


def liquidation_fee(base_liquidation_fee: int, max_liquidation_fee: int,
                    last_active_user_slot: int, current_slot: int) -> int:
    """``get_liquidation_fee`` (``LIQUIDATION_FEE_PRECISION``): a perp liquidator's fee.

    The base fee within ``LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS`` (1,500) of the
    liquidation's start (``last_active_user_slot``); after it, the base plus 0.01 bps for
    every slot since the start (the grace period's slots count too), at most
    ``max_liquidation_fee``.

    Raises
    ------
    ValueError
        ``current_slot`` is before ``last_active_user_slot`` (Drift's ``safe_sub`` fails).
    """
    slots_elapsed = current_slot - last_active_user_slot
    if slots_elapsed < 0:
        raise ValueError(f"current_slot: {current_slot} is before the liquidation's start "
                         f"{last_active_user_slot}")
    if slots_elapsed < LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS:
        return base_liquidation_fee
    increase = min(slots_elapsed * LIQUIDATION_FEE_INCREASE_PER_SLOT, U32_MAX)  # unwrap_or
    fee = min(base_liquidation_fee + increase, U32_MAX)                          # saturating
    return min(fee, max_liquidation_fee)


def max_perp_liquidation_fee(liquidator_fee: int, margin_ratio_maintenance: int) -> int:
    """``PerpMarket::get_max_liquidation_fee`` (``LIQUIDATION_FEE_PRECISION``): three times
    the base liquidator fee, at most the maintenance margin ratio (1e4, times 100)."""
    return min(liquidator_fee * MAX_LIQUIDATION_MULTIPLIER,
               margin_ratio_maintenance * LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO)


def base_perp_liquidator_fee(liquidator_fee: int, high_leverage_margin_ratio_maintenance: int,
                             high_leverage: bool) -> int:
    """``PerpMarket::get_base_liquidator_fee`` (``LIQUIDATION_FEE_PRECISION``): the market's
    ``liquidator_fee``; when ``high_leverage`` (the user is in high-leverage mode for the
    maintenance requirement and the market enables the mode), at most 80% of the
    high-leverage maintenance ratio (1e4, times 100)."""
    if not high_leverage:
        return liquidator_fee
    ratio = min(high_leverage_margin_ratio_maintenance * LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO,
                U32_MAX)                                           # saturating_mul
    return min(liquidator_fee, ratio - ratio // 5)


def slot_at(seconds: int, slot_ms: int) -> int:
    """The slot of the engine's clock ``seconds`` at ``slot_ms`` milliseconds a slot
    (floored): the engine counts seconds, Drift counts Solana slots (about 400 ms)."""
    return seconds * 1000 // slot_ms


__all__ = [
    "LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS",
    "LIQUIDATION_FEE_INCREASE_PER_SLOT",
    "LIQUIDATION_FEE_PRECISION",
    "LIQUIDATION_PCT_PRECISION",
    "MAX_LIQUIDATION_MULTIPLIER",
    "QUOTE_TO_BASE_AMT_FUNDING_PRECISION",
    "SHARE_OF_FEES_ALLOCATED_TO_DRIFT",
    "SPOT_CUMULATIVE_INTEREST_PRECISION",
    "U64_MAX",
    "U128_MAX",
    "FundingRates",
    "asset_transfer_for_liability_transfer",
    "base_asset_amount_to_cover_margin_shortage",
    "base_perp_liquidator_fee",
    "cumulative_deposit_interest_delta_to_resolve_bankruptcy",
    "deposit_after_interest_delta",
    "funding_payment",
    "funding_rate_delta_to_resolve_bankruptcy",
    "funding_rate_from_pnl_limit",
    "funding_rate_long_short",
    "is_cross_margin_bankrupt",
    "liability_transfer_implied_by_asset_amount",
    "liability_transfer_to_cover_margin_shortage",
    "liquidation_fee",
    "max_pct_to_liquidate",
    "max_perp_liquidation_fee",
    "perp_bankruptcy_if_payment",
    "perp_fee_pool",
    "perp_if_fee",
    "slot_at",
    "spot_bankruptcy_if_payment",
    "spot_if_fee",
]
