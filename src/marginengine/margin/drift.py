"""Drift v2 spot weights and the unrealized-PnL asset weight, in Drift's own integers.

Drift values a spot deposit at ``token value x asset weight`` and a borrow at ``token value
x liability weight`` (weights in ``SPOT_WEIGHT_PRECISION = 1e4``), with three adjustments:

- *size discount* of the asset weight (``calculate_size_discount_asset_weight``):
  ``min(w, 1.1e6 x 1e4 / (1e6 + isqrt(10 x size + 1) x imf_factor / 1e5))`` with the size in
  ``AMM_RESERVE_PRECISION`` (1e9) -- a large deposit counts for less;
- *size premium* of the liability weight (``calculate_size_premium_liability_weight``,
  bounded: ``max(w, 0.8 w + isqrt(10 x size + 1) x imf_factor / 1e7)``);
- *scaled initial asset weight* (``get_scaled_initial_asset_weight``): once the market's
  total deposits are worth ``scale_initial_asset_weight_start`` or more, the initial weight
  falls as ``w x start / deposit value``;

and for perp positions, positive unrealized PnL counts at the *unrealized-PnL asset weight*
(``get_unrealized_asset_weight``: the market's weight, scaled down by
``unrealized_pnl_max_imbalance / net user PnL`` when the AMM's users are net up more than
that, then size-discounted with ``unrealized_pnl_imf_factor``; negative PnL at 100%), and in
the *initial* requirement the weighted PnL is capped at ``MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN
= 100 USDC`` (``calculate_perp_position_value_and_pnl``). Every division floors (Rust's
unsigned division) except a borrow's token amount, rounded up.

A user in *high-leverage mode* (:class:`MarginMode`, ``User::is_high_leverage_mode``) counts
a perp market's ``high_leverage_margin_ratio_initial`` / ``_maintenance`` where the market
sets both (``PerpMarket::get_margin_ratio``; the initial ratio's size adjustment:
:func:`high_leverage_initial_margin_ratio_from_size`).

Source followed: drift-labs/protocol-v2 at commit ``0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62``
(2026-04-01), ``programs/drift/src/math/margin.rs``, ``programs/drift/src/state/spot_market.rs``
(``get_asset_weight``, ``get_scaled_initial_asset_weight``, ``get_liability_weight``),
``programs/drift/src/state/perp_market.rs`` (``get_unrealized_asset_weight``,
``get_margin_ratio``, ``is_high_leverage_mode_enabled``), ``state/user.rs``
(``MarginMode``, ``is_high_leverage_mode``),
``programs/drift/src/math/spot_balance.rs`` (``get_token_amount``, ``get_token_value``),
``programs/drift/src/math/constants.rs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from marginengine.fixedpoint import Rounding, div_toward_zero
from marginengine.margin.base import FamilyMargin, MarginKind, MarginState, health_of
from marginengine.margin.tiers import drift_size_premium_liability_weight

#: ``SPOT_WEIGHT_PRECISION`` (= ``MARGIN_PRECISION``).
SPOT_WEIGHT_PRECISION = 10_000
#: ``SPOT_IMF_PRECISION``.
SPOT_IMF_PRECISION = 1_000_000
#: ``AMM_RESERVE_PRECISION``.
AMM_RESERVE_PRECISION = 10**9
#: ``QUOTE_PRECISION`` and ``PRICE_PRECISION``.
QUOTE_PRECISION = PRICE_PRECISION = 10**6
#: ``AMM_TO_QUOTE_PRECISION_RATIO``.
AMM_TO_QUOTE_PRECISION_RATIO = AMM_RESERVE_PRECISION // QUOTE_PRECISION
#: ``SPOT_BALANCE_PRECISION`` and ``SPOT_CUMULATIVE_INTEREST_PRECISION``.
SPOT_BALANCE_PRECISION = 10**9
SPOT_CUMULATIVE_INTEREST_PRECISION = 10**10
#: ``MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN``: 100 USDC.
MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN = 100 * QUOTE_PRECISION


class MarginRequirementType(Enum):
    """Drift's ``MarginRequirementType``."""

    INITIAL = "initial"
    FILL = "fill"
    MAINTENANCE = "maintenance"


class MarginMode(Enum):
    """A user's ``MarginMode`` (``state/user.rs``): high-leverage mode counts a perp market's
    ``high_leverage_margin_ratio_initial`` / ``_maintenance`` where the market has both;
    ``HIGH_LEVERAGE_MAINTENANCE`` (a user leaving the mode with positions still open) only
    for the maintenance requirement."""

    DEFAULT = "default"
    HIGH_LEVERAGE = "high_leverage"
    HIGH_LEVERAGE_MAINTENANCE = "high_leverage_maintenance"

    def is_high_leverage(self, kind: MarginRequirementType) -> bool:
        """``User::is_high_leverage_mode(margin_type)``."""
        return self is MarginMode.HIGH_LEVERAGE or (
            kind is MarginRequirementType.MAINTENANCE
            and self is MarginMode.HIGH_LEVERAGE_MAINTENANCE)


#: ``PERCENTAGE_PRECISION``.
PERCENTAGE_PRECISION = 1_000_000


def high_leverage_initial_margin_ratio_from_size(pre_size_adj_margin_ratio: int,
                                                 size_adj_margin_ratio: int,
                                                 default_margin_ratio: int) -> int:
    """``calc_high_leverage_mode_initial_margin_ratio_from_size`` (ratios 1e4).

    A high-leverage user's initial (or fill) ratio: the market's ordinary ratio
    (``pre_size_adj_margin_ratio``) and its unbounded size premium
    (``size_adj_margin_ratio``, below the ratio for small sizes) give a discount
    ``1 - (pre - adj) / (pre / 5)`` (``PERCENTAGE_PRECISION``, saturating at 0), and the
    ratio is ``max(pre - hlm, 1) x discount + hlm`` (``hlm``: the high-leverage ratio,
    ``default_margin_ratio``); the high-leverage ratio itself when the premium equals the
    ordinary ratio, the premium when above it. Divisions floor (``get_proportion_u128``).

    Raises
    ------
    ValueError
        ``pre_size_adj_margin_ratio`` below 5 with a smaller premium (Drift divides by
        ``pre / 5``: a division by zero).
    """
    if size_adj_margin_ratio < pre_size_adj_margin_ratio:
        fifth = pre_size_adj_margin_ratio // 5
        if fifth == 0:
            raise ValueError(f"pre_size_adj_margin_ratio: {pre_size_adj_margin_ratio} / 5 "
                             "is 0 (Drift's division by zero)")
        discount = max(PERCENTAGE_PRECISION - (pre_size_adj_margin_ratio - size_adj_margin_ratio)
                       * PERCENTAGE_PRECISION // fifth, 0)
        delta = max(pre_size_adj_margin_ratio - default_margin_ratio, 1)
        return delta * discount // PERCENTAGE_PRECISION + default_margin_ratio
    if size_adj_margin_ratio == pre_size_adj_margin_ratio:
        return default_margin_ratio
    return size_adj_margin_ratio


def size_discount_asset_weight(size: int, imf_factor: int, asset_weight: int) -> int:
    """``calculate_size_discount_asset_weight`` (size in 1e9, weights in 1e4)."""
    if size < 0 or imf_factor < 0 or asset_weight < 0:
        raise ValueError("size, imf_factor and asset_weight: must be non-negative")
    if imf_factor == 0:
        return asset_weight
    size_sqrt = math.isqrt(size * 10 + 1)
    imf_numerator = SPOT_IMF_PRECISION + SPOT_IMF_PRECISION // 10
    discounted = imf_numerator * SPOT_WEIGHT_PRECISION // (
        SPOT_IMF_PRECISION + size_sqrt * imf_factor // 100_000)
    return min(asset_weight, discounted)


def to_amm_precision(size: int, decimals: int) -> int:
    """A token amount in ``AMM_RESERVE_PRECISION`` (``get_asset_weight``'s conversion)."""
    precision = int(10**decimals)
    if precision > AMM_RESERVE_PRECISION:
        return size // (precision // AMM_RESERVE_PRECISION)
    return size * AMM_RESERVE_PRECISION // precision


def token_amount(balance: int, decimals: int, cumulative_interest: int, borrow: bool) -> int:
    """``get_token_amount``: scaled balance x cumulative interest; a borrow rounds up."""
    precision_decrease = int(10 ** (19 - decimals))
    product = balance * cumulative_interest
    if borrow:
        return -(-product // precision_decrease)
    return product // precision_decrease


def token_value(amount: int, decimals: int, oracle_price: int) -> int:
    """``get_token_value``: ``amount x price / 10^decimals``, floored toward minus infinity."""
    unit = int(10**decimals)
    return amount * oracle_price // unit


@dataclass(frozen=True)
class SpotMarket:
    """The fields of Drift's ``SpotMarket`` the weights use.

    Attributes
    ----------
    decimals
        Token decimals.
    initial_asset_weight, maintenance_asset_weight
        Asset weights (1e4).
    initial_liability_weight, maintenance_liability_weight
        Liability weights (1e4).
    imf_factor
        Size factor (1e6); 0 disables both size adjustments.
    scale_initial_asset_weight_start
        Deposit value (quote, 1e6) above which the initial weight is scaled down; 0 never.
    deposit_balance, cumulative_deposit_interest
        The market's scaled deposits (1e9) and deposit index (1e10), for the scaled weight.
    """

    decimals: int
    initial_asset_weight: int = 0
    maintenance_asset_weight: int = 0
    initial_liability_weight: int = 0
    maintenance_liability_weight: int = 0
    imf_factor: int = 0
    scale_initial_asset_weight_start: int = 0
    deposit_balance: int = 0
    cumulative_deposit_interest: int = SPOT_CUMULATIVE_INTEREST_PRECISION

    def __post_init__(self) -> None:
        if not 0 <= self.decimals <= 19:
            raise ValueError(f"decimals: must be in [0, 19], got {self.decimals}")
        for name in ("initial_asset_weight", "maintenance_asset_weight",
                     "initial_liability_weight", "maintenance_liability_weight", "imf_factor",
                     "scale_initial_asset_weight_start", "deposit_balance"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be non-negative, got {getattr(self, name)}")

    def deposits(self) -> int:
        """``get_deposits``: total deposits in tokens (rounded down)."""
        return token_amount(self.deposit_balance, self.decimals,
                            self.cumulative_deposit_interest, borrow=False)

    def scaled_initial_asset_weight(self, oracle_price: int) -> int:
        """``get_scaled_initial_asset_weight``."""
        start = self.scale_initial_asset_weight_start
        if start == 0:
            return self.initial_asset_weight
        value = token_value(self.deposits(), self.decimals, oracle_price)
        if value < start:
            return self.initial_asset_weight
        return self.initial_asset_weight * start // value

    def asset_weight(self, size: int, oracle_price: int, kind: MarginRequirementType) -> int:
        """``get_asset_weight``: the default weight for ``kind``, size-discounted."""
        if kind is MarginRequirementType.INITIAL:
            default = self.scaled_initial_asset_weight(oracle_price)
        elif kind is MarginRequirementType.FILL:
            default = (self.scaled_initial_asset_weight(oracle_price)
                       + self.maintenance_asset_weight) // 2
        else:
            default = self.maintenance_asset_weight
        sized = size_discount_asset_weight(to_amm_precision(size, self.decimals),
                                           self.imf_factor, default)
        return min(sized, default)

    def liability_weight(self, size: int, kind: MarginRequirementType) -> int:
        """``get_liability_weight``: the default weight for ``kind``, size-premium bounded."""
        if kind is MarginRequirementType.INITIAL:
            default = self.initial_liability_weight
        elif kind is MarginRequirementType.FILL:
            default = (self.initial_liability_weight + self.maintenance_liability_weight) // 2
        else:
            default = self.maintenance_liability_weight
        sized = drift_size_premium_liability_weight(
            to_amm_precision(size, self.decimals), self.imf_factor, default,
            SPOT_WEIGHT_PRECISION)
        return max(sized, default)


@dataclass(frozen=True)
class PerpPnlWeights:
    """The unrealized-PnL fields of Drift's ``PerpMarket``.

    Attributes
    ----------
    unrealized_pnl_initial_asset_weight, unrealized_pnl_maintenance_asset_weight
        Weights (1e4) of positive unrealized PnL.
    unrealized_pnl_imf_factor
        Size factor (1e6) of the PnL discount.
    unrealized_pnl_max_imbalance
        Net user PnL (quote, 1e6) above which the initial weight is scaled down; 0 never.
    """

    unrealized_pnl_initial_asset_weight: int = 0
    unrealized_pnl_maintenance_asset_weight: int = SPOT_WEIGHT_PRECISION
    unrealized_pnl_imf_factor: int = 0
    unrealized_pnl_max_imbalance: int = 0

    def asset_weight(self, unrealized_pnl: int, kind: MarginRequirementType,
                     net_user_pnl: int = 0) -> int:
        """``get_unrealized_asset_weight`` (``net_user_pnl``: ``calculate_net_user_pnl``).

        Parameters
        ----------
        unrealized_pnl
            The position's unrealized PnL plus unsettled funding (quote, 1e6), signed.
        kind
            Initial, fill or maintenance.
        net_user_pnl
            The AMM's net user PnL at the last oracle price (quote, 1e6).
        """
        initial_side = kind is not MarginRequirementType.MAINTENANCE
        weight = (self.unrealized_pnl_initial_asset_weight if initial_side
                  else self.unrealized_pnl_maintenance_asset_weight)
        if weight > 0 and initial_side and self.unrealized_pnl_max_imbalance > 0 \
                and net_user_pnl > self.unrealized_pnl_max_imbalance:
            weight = weight * self.unrealized_pnl_max_imbalance // abs(net_user_pnl)
        if unrealized_pnl <= 0:
            return SPOT_WEIGHT_PRECISION
        if not initial_side:
            return self.unrealized_pnl_maintenance_asset_weight
        if weight == 0:
            return 0
        return size_discount_asset_weight(abs(unrealized_pnl) * AMM_TO_QUOTE_PRECISION_RATIO,
                                          self.unrealized_pnl_imf_factor, weight)

    def weighted_pnl(self, unrealized_pnl: int, kind: MarginRequirementType,
                     quote_price: int = PRICE_PRECISION, net_user_pnl: int = 0) -> int:
        """The PnL the margin system counts (``calculate_perp_position_value_and_pnl``).

        ``pnl x weight / 1e4`` then ``x quote price / 1e6`` (Rust's signed division
        truncates toward zero), capped at 100 USDC for the initial requirement.
        """
        weight = self.asset_weight(unrealized_pnl, kind, net_user_pnl)
        pnl = unrealized_pnl
        if weight != SPOT_WEIGHT_PRECISION:
            pnl = div_toward_zero(pnl * weight, SPOT_WEIGHT_PRECISION)
        if quote_price != PRICE_PRECISION:
            pnl = div_toward_zero(pnl * quote_price, PRICE_PRECISION)
        if kind is MarginRequirementType.INITIAL:
            pnl = min(pnl, MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN)
        return pnl


#: ``MARGIN_PRECISION`` (perp margin ratios, 1e4).
MARGIN_PRECISION = 10_000


@dataclass(frozen=True)
class PerpMarketMargin:
    """The margin fields of Drift's ``PerpMarket`` (ratios in ``MARGIN_PRECISION``).

    Attributes
    ----------
    margin_ratio_initial, margin_ratio_maintenance
        Margin ratios without size premium (1e4).
    imf_factor
        Size premium factor (1e6).
    pnl
        The unrealized-PnL weights.
    """

    margin_ratio_initial: int
    margin_ratio_maintenance: int
    imf_factor: int = 0
    pnl: PerpPnlWeights = PerpPnlWeights()
    #: ``high_leverage_margin_ratio_initial`` / ``_maintenance`` (1e4); high-leverage mode
    #: is enabled in the market only when both are above 0
    #: (``is_high_leverage_mode_enabled``).
    high_leverage_margin_ratio_initial: int = 0
    high_leverage_margin_ratio_maintenance: int = 0

    @property
    def high_leverage_enabled(self) -> bool:
        """``PerpMarket::is_high_leverage_mode_enabled``."""
        return (self.high_leverage_margin_ratio_initial > 0
                and self.high_leverage_margin_ratio_maintenance > 0)

    @staticmethod
    def _default(initial: int, maintenance: int, kind: MarginRequirementType) -> int:
        if kind is MarginRequirementType.INITIAL:
            return initial
        if kind is MarginRequirementType.FILL:
            return (initial + maintenance) // 2
        return maintenance

    def margin_ratio(self, size: int, kind: MarginRequirementType,
                     high_leverage: bool = False) -> int:
        """``PerpMarket::get_margin_ratio``: the default ratio for ``kind`` (fill: the
        mean), raised by the bounded size premium.

        For a user in high-leverage mode (``high_leverage``, ``User::is_high_leverage_mode``
        of ``kind``) in a market that enables it, the defaults are the high-leverage
        ratios; the maintenance ratio is raised by the bounded size premium as usual, the
        initial and fill ratios by :func:`high_leverage_initial_margin_ratio_from_size` of
        the *ordinary* ratio's unbounded premium ("use HLM maintenance margin but ordinary
        mode initial/fill margin for size adj calculation").
        """
        hlm = high_leverage and self.high_leverage_enabled
        if hlm:
            default = self._default(self.high_leverage_margin_ratio_initial,
                                    self.high_leverage_margin_ratio_maintenance, kind)
        else:
            default = self._default(self.margin_ratio_initial, self.margin_ratio_maintenance,
                                    kind)
        if hlm and kind is not MarginRequirementType.MAINTENANCE:
            pre = self._default(self.margin_ratio_initial, self.margin_ratio_maintenance, kind)
            adjusted = drift_size_premium_liability_weight(abs(size), self.imf_factor, pre,
                                                           MARGIN_PRECISION, bounded=False)
            return high_leverage_initial_margin_ratio_from_size(pre, adjusted, default)
        sized = drift_size_premium_liability_weight(abs(size), self.imf_factor, default,
                                                    MARGIN_PRECISION)
        return max(default, sized)


@dataclass(frozen=True)
class SpotBalance:
    """A spot position: signed token amount (native units) in a market at a price."""

    market: SpotMarket
    token_amount: int
    oracle_price: int


@dataclass(frozen=True)
class PerpBalance:
    """A perp position without open orders.

    Attributes
    ----------
    market
        Its market's margin fields.
    base_asset_amount
        Signed base (``BASE_PRECISION`` 1e9).
    quote_asset_amount
        Signed quote (1e6), the entry cost with unsettled funding folded in.
    oracle_price
        ``PRICE_PRECISION`` (1e6).
    """

    market: PerpMarketMargin
    base_asset_amount: int
    quote_asset_amount: int
    oracle_price: int


@dataclass(frozen=True)
class MarginCalculation:
    """Total collateral and margin requirement of a cross-margin account (quote 1e6).

    With a margin buffer (``MarginContext::liquidation``), ``margin_requirement_plus_buffer``
    adds ``liability value x buffer / 1e4`` per liability and ``total_collateral_buffer``
    ``negative collateral x buffer / 1e4`` (``add_cross_margin_margin_requirement``,
    ``add_cross_margin_total_collateral`` in ``state/margin_calculation.rs``); both 0
    without one.
    """

    total_collateral: int
    margin_requirement: int
    margin_requirement_plus_buffer: int = 0
    total_collateral_buffer: int = 0

    @property
    def margin_shortage(self) -> int:
        """``cross_margin_margin_shortage``: requirement plus buffer minus total collateral
        plus buffer, at least 0 (Drift refuses the call without a buffer; here the
        requirement without one)."""
        if self.margin_requirement_plus_buffer == 0 and self.total_collateral_buffer == 0:
            return max(self.margin_requirement - self.total_collateral, 0)
        return max(self.margin_requirement_plus_buffer
                   - (self.total_collateral + self.total_collateral_buffer), 0)

    @property
    def free_collateral(self) -> int:
        """``total_collateral - margin_requirement`` (negative: below requirement)."""
        return self.total_collateral - self.margin_requirement

    @property
    def meets(self) -> bool:
        """``meets_margin_requirement``: ``total_collateral >= margin_requirement``."""
        return self.total_collateral >= self.margin_requirement

    @property
    def meets_with_buffer(self) -> bool:
        """``meets_cross_margin_requirement_with_buffer`` (``can_exit_cross_margin_
        liquidation``): total collateral plus its buffer at least the requirement plus
        its buffer (without a buffer: :attr:`meets`)."""
        if self.margin_requirement_plus_buffer == 0 and self.total_collateral_buffer == 0:
            return self.meets
        return (self.total_collateral + self.total_collateral_buffer
                >= self.margin_requirement_plus_buffer)


def weighted_spot_value(balance: SpotBalance, kind: MarginRequirementType) -> int:
    """``simulate_fills_both_sides`` without orders: token value x its weight / 1e4.

    The value floors toward minus infinity (``get_strict_token_value``), the weighting
    truncates toward zero (``i128::safe_div``).
    """
    m = balance.market
    value = token_value(balance.token_amount, m.decimals, balance.oracle_price)
    if value > 0:
        w = m.asset_weight(abs(balance.token_amount), balance.oracle_price, kind)
    elif value < 0:
        w = m.liability_weight(abs(balance.token_amount), kind)
    else:
        return 0
    return div_toward_zero(value * w, SPOT_WEIGHT_PRECISION)


def perp_margin(position: PerpBalance, kind: MarginRequirementType,
                margin_mode: MarginMode = MarginMode.DEFAULT) -> tuple[int, int]:
    """``calculate_perp_position_value_and_pnl`` (no orders, quote price 1): the margin
    requirement ``liability value x margin ratio / 1e4`` and the weighted unrealized PnL;
    the ratio is the high-leverage one when ``margin_mode`` is high-leverage for ``kind``."""
    base = position.base_asset_amount
    price = max(position.oracle_price, 0)
    liability = abs(base) * price // (PRICE_PRECISION * AMM_TO_QUOTE_PRECISION_RATIO)
    ratio = position.market.margin_ratio(base, kind, margin_mode.is_high_leverage(kind))
    requirement = liability * ratio // MARGIN_PRECISION
    pnl = div_toward_zero(base * price, AMM_RESERVE_PRECISION) + position.quote_asset_amount
    return requirement, position.market.pnl.weighted_pnl(pnl, kind)


def margin_calculation(spots: list[SpotBalance], perps: list[PerpBalance],
                       kind: MarginRequirementType, margin_buffer: int = 0,
                       margin_mode: MarginMode = MarginMode.DEFAULT) -> MarginCalculation:
    """``calculate_margin_requirement_and_total_collateral`` for spot balances and perp
    positions without open orders (strict prices equal to the oracle's).

    ``margin_buffer`` (1e4, ``MarginContext::liquidation``'s ``liquidation_margin_buffer_
    ratio``) fills the buffered figures of :class:`MarginCalculation`; 0 leaves them 0.
    ``margin_mode``: the user's (high-leverage ratios where it applies to ``kind``).
    """
    collateral = requirement = plus_buffer = collateral_buffer = 0
    for spot in spots:
        weighted = weighted_spot_value(spot, kind)
        if weighted > 0:
            collateral += weighted
        else:
            requirement += -weighted
            value = abs(token_value(spot.token_amount, spot.market.decimals,
                                    spot.oracle_price))
            plus_buffer += -weighted + value * margin_buffer // MARGIN_PRECISION
    for perp in perps:
        req, pnl = perp_margin(perp, kind, margin_mode)
        requirement += req
        collateral += pnl
        liability = (abs(perp.base_asset_amount) * max(perp.oracle_price, 0)
                     // (PRICE_PRECISION * AMM_TO_QUOTE_PRECISION_RATIO))
        plus_buffer += req + liability * margin_buffer // MARGIN_PRECISION
        if pnl < 0:
            collateral_buffer += div_toward_zero(pnl * margin_buffer, MARGIN_PRECISION)
    if margin_buffer == 0:
        plus_buffer = collateral_buffer = 0
    return MarginCalculation(collateral, requirement, plus_buffer, collateral_buffer)


def family_margin(spots: list[SpotBalance], perps: list[PerpBalance],
                  base_scale: int = 100,
                  margin_mode: MarginMode = MarginMode.DEFAULT) -> FamilyMargin:
    """The account's :class:`~marginengine.margin.base.FamilyMargin` by Drift's margin
    calculation: initial and maintenance total collateral against the margin requirement
    (quote 1e6 times ``base_scale``: the margin interface's base-currency units), health
    their ratio (0 when the collateral is not positive); liquidatable when the
    maintenance requirement is not met (``meets_margin_requirement`` false)."""
    states = []
    calcs = []
    for kind, mkind in ((MarginRequirementType.INITIAL, MarginKind.INITIAL),
                        (MarginRequirementType.MAINTENANCE, MarginKind.MAINTENANCE)):
        calc = margin_calculation(spots, perps, kind, margin_mode=margin_mode)
        calcs.append(calc)
        health = (health_of(calc.total_collateral, calc.margin_requirement, Rounding.DOWN)
                  if calc.total_collateral > 0 or calc.margin_requirement == 0 else 0)
        states.append(MarginState(mkind, calc.total_collateral * base_scale,
                                  calc.margin_requirement * base_scale, health))
    return FamilyMargin(states[0], states[1], not calcs[1].meets)


__all__ = [
    "AMM_RESERVE_PRECISION",
    "MARGIN_PRECISION",
    "MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN",
    "PERCENTAGE_PRECISION",
    "PRICE_PRECISION",
    "QUOTE_PRECISION",
    "SPOT_BALANCE_PRECISION",
    "SPOT_CUMULATIVE_INTEREST_PRECISION",
    "SPOT_IMF_PRECISION",
    "SPOT_WEIGHT_PRECISION",
    "MarginCalculation",
    "MarginMode",
    "MarginRequirementType",
    "PerpBalance",
    "PerpMarketMargin",
    "PerpPnlWeights",
    "SpotBalance",
    "SpotMarket",
    "family_margin",
    "high_leverage_initial_margin_ratio_from_size",
    "margin_calculation",
    "perp_margin",
    "size_discount_asset_weight",
    "to_amm_precision",
    "token_amount",
    "token_value",
    "weighted_spot_value",
]
