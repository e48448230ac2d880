"""Fixed-spread liquidation with a close factor: Aave v3.3+'s ``LiquidationLogic``.

A liquidator repays part of one debt asset and receives collateral worth that repayment
plus a bonus; the protocol keeps a fee out of the bonus. The rules, as in Aave v3.3 to
v3.7 (aave-dao/aave-v3-origin, tags v3.3.0, v3.5.0 and the v3.7.0 commit 4fbd7442,
``src/contracts/protocol/libraries/logic/LiquidationLogic.sol``; each version's rounding
is a :class:`~marginengine.config.families.LiquidationRounding`):

- the close factor is 50% of the account's *total* debt value, raised to 100% when the
  health factor is at or below 0.95 or when the debt or the collateral of the liquidated
  reserves is worth less than ``min_base_max_close_factor_threshold`` (2,000 USD);
- a partial liquidation must leave at least ``min_leftover_base`` (1,000 USD) of both
  the debt and the collateral, or take all of one of them (the leftover-dust rule);
- when the liquidation takes the account's last collateral, every remaining debt becomes
  bad debt, burned into the reserve's deficit (the liquidated asset's: its debt less the
  repayment, :attr:`CloseFactorPlan.debt_left`); v3.7 judges "last collateral" on the
  scaled balance consumed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from marginengine.config import AaveRules, MarketConfig, ProtocolConfig
from marginengine.config.families import ROUNDING_V3_3, LiquidationRounding
from marginengine.decisions import Code
from marginengine.fixedpoint import BPS, RAY, WAD, Rounding, bps_div, bps_mul, div
from marginengine.ledger import Ledger
from marginengine.liquidation.base import LiquidationRefused
from marginengine.margin.emode import liquidation_bonus_bps


class CloseFactorInputs(NamedTuple):
    """Everything the rule needs, in native units (prices: base currency, 8 decimals).

    An immutable named tuple rather than a frozen dataclass: a cascade builds one per
    keeper's read of an account (thousands a run), and a frozen dataclass's ``__init__``
    sets each of its 13 fields through ``object.__setattr__`` (about 2.5 times the cost)."""

    health_factor: int
    total_debt_base: int
    total_collateral_base: int
    debt_balance: int
    collateral_balance: int
    debt_price: int
    debt_unit: int
    collateral_price: int
    collateral_unit: int
    liquidation_bonus_bps: int
    protocol_fee_bps: int
    #: The collateral's scaled balance and liquidity index (ray), for v3.7's
    #: scaled-consumption test of "no collateral left"; without them the value test.
    collateral_scaled: int | None = None
    collateral_index: int | None = None


@dataclass(frozen=True)
class CloseFactorPlan:
    """The amounts of one liquidation.

    Attributes
    ----------
    debt_repaid
        Debt the liquidator repays (debt-asset units).
    collateral_to_liquidator
        Collateral the liquidator receives (collateral-asset units).
    protocol_fee
        Collateral the protocol keeps out of the bonus.
    max_liquidatable_debt
        The close-factor cap on this liquidation (debt-asset units).
    close_factor_bps
        5000 or 10000: the close factor that applied.
    takes_all_collateral
        Whether the account is left with no collateral (so its debt becomes deficit).
    """

    debt_repaid: int
    collateral_to_liquidator: int
    protocol_fee: int
    max_liquidatable_debt: int
    close_factor_bps: int
    collateral_value_base: int
    takes_all_collateral: bool
    #: The liquidated asset's debt less the repayment: what becomes its deficit when the
    #: liquidation takes the last collateral (``_burnDebtTokens``' ``outstandingDebt``).
    debt_left: int = 0

    @property
    def collateral_seized(self) -> int:
        """Collateral leaving the account: the liquidator's part plus the protocol fee."""
        return self.collateral_to_liquidator + self.protocol_fee


class RuleIntegers(NamedTuple):
    """The integer constants of one :class:`~marginengine.config.AaveRules`, as its
    properties give them (see :func:`rule_integers`)."""

    #: ``min_base_max_close_factor_threshold_base`` (base units).
    small_position_base: int
    #: ``close_factor_hf_threshold_wad``.
    close_factor_hf_wad: int
    #: ``close_factor_bps``.
    close_factor_bps: int
    #: ``min_leftover_base_units`` (base units).
    min_leftover_base: int


#: The last rules read and their integers: a run reads one rules object throughout.
_last_rules: tuple[AaveRules, RuleIntegers] | None = None


def rule_integers(rules: AaveRules) -> RuleIntegers:
    """``rules``' integer constants, read from its properties once per rules object.

    Each property multiplies a Decimal (and the close factor parses it) at every read, and
    the rule reads three of them per plan and per float bound (tens of thousands of times
    in a cascade). ``AaveRules`` is frozen, so the same object always gives the same
    integers; any other object (a copy with an update included) is read afresh."""
    global _last_rules
    last = _last_rules
    if last is not None and last[0] is rules:
        return last[1]
    ints = RuleIntegers(rules.min_base_max_close_factor_threshold_base,
                        rules.close_factor_hf_threshold_wad, rules.close_factor_bps,
                        rules.min_leftover_base_units)
    _last_rules = (rules, ints)
    return ints


def require_liquidatable(health_factor: int) -> None:
    """``validateLiquidationCall``'s health check (HF below 1), or raise
    :class:`LiquidationRefused` (``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``). Aave checks it
    before the collateral flag and the debt (aave-dao/aave-v3-origin@4fbd7442
    ``ValidationLogic.sol``), so a handler asks it first."""
    if health_factor >= WAD:
        raise LiquidationRefused(
            f"health factor {health_factor / WAD:.4f} is not below 1",
            Code.HEALTH_FACTOR_NOT_BELOW_THRESHOLD, {"health_factor": health_factor},
        )


def max_liquidatable_debt(inputs: CloseFactorInputs, rules: AaveRules,
                          rounding: LiquidationRounding = ROUNDING_V3_3) -> tuple[int, int]:
    """Return ``(max debt units one liquidation may repay, close factor in bps)``."""
    debt_base = div(inputs.debt_balance * inputs.debt_price, inputs.debt_unit,
                    rounding.debt_base)
    collateral_base = inputs.collateral_balance * inputs.collateral_price // inputs.collateral_unit
    ints = rule_integers(rules)
    threshold = ints.small_position_base
    if (
        collateral_base >= threshold
        and debt_base >= threshold
        and inputs.health_factor > ints.close_factor_hf_wad
    ):
        cap_base = bps_mul(inputs.total_debt_base, ints.close_factor_bps)
        if debt_base > cap_base:
            return cap_base * inputs.debt_unit // inputs.debt_price, ints.close_factor_bps
    return inputs.debt_balance, BPS


def plan_liquidation(
    inputs: CloseFactorInputs, debt_to_cover: int, rules: AaveRules,
    rounding: LiquidationRounding = ROUNDING_V3_3,
) -> CloseFactorPlan:
    """Compute one liquidation as Aave v3 does, or raise :class:`LiquidationRefused`.

    ``rounding`` is the version's rounding of each step (``config.rules.
    liquidation_rounding``; the default is v3.3's).

    Parameters
    ----------
    inputs
        The account's figures and the two assets' prices and parameters.
    debt_to_cover
        The most debt the liquidator offers to repay; the close factor and the available
        collateral may lower it.
    rules
        The protocol-wide constants (close factor, thresholds).
    """
    require_liquidatable(inputs.health_factor)
    if inputs.debt_balance == 0:
        raise LiquidationRefused("the account has no debt in this asset",
                                 Code.SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER)
    if inputs.collateral_balance == 0:
        raise LiquidationRefused("the account has no collateral in this asset",
                                 Code.COLLATERAL_CANNOT_BE_LIQUIDATED)
    max_debt, close_factor = max_liquidatable_debt(inputs, rules, rounding)
    actual_debt = min(debt_to_cover, max_debt)

    # Collateral worth the debt, plus the bonus (Aave's _calculateAvailableCollateralToLiquidate).
    base_collateral = div(
        inputs.debt_price * actual_debt * inputs.collateral_unit,
        inputs.collateral_price * inputs.debt_unit,
        Rounding.DOWN,
    )
    max_collateral = bps_mul(base_collateral, inputs.liquidation_bonus_bps,
                             rounding.max_collateral)
    if max_collateral > inputs.collateral_balance:
        collateral = inputs.collateral_balance
        debt_needed = bps_div(
            div(
                inputs.collateral_price * collateral * inputs.debt_unit,
                inputs.debt_price * inputs.collateral_unit,
                Rounding.DOWN,
            ),
            inputs.liquidation_bonus_bps,
            rounding.debt_needed,
        )
    else:
        collateral = max_collateral
        debt_needed = actual_debt
    collateral_value = collateral * inputs.collateral_price // inputs.collateral_unit
    fee = 0
    if inputs.protocol_fee_bps:
        bonus = collateral - bps_div(collateral, inputs.liquidation_bonus_bps,
                                     rounding.bonus_base)
        fee = bps_mul(bonus, inputs.protocol_fee_bps, rounding.protocol_fee)
    to_liquidator = collateral - fee
    if debt_needed == 0 or to_liquidator == 0:
        raise LiquidationRefused("the amount to liquidate rounds to zero", Code.INVALID_AMOUNT)

    # The leftover-dust rule of v3.3.
    if debt_needed < inputs.debt_balance and collateral < inputs.collateral_balance:
        debt_left = div((inputs.debt_balance - debt_needed) * inputs.debt_price,
                        inputs.debt_unit, rounding.debt_base)
        coll_left = (
            (inputs.collateral_balance - collateral)
            * inputs.collateral_price
            // inputs.collateral_unit
        )
        floor = rule_integers(rules).min_leftover_base
        if debt_left < floor or coll_left < floor:
            raise LiquidationRefused(
                f"would leave dust: {debt_left / 1e8:,.2f} USD of debt and "
                f"{coll_left / 1e8:,.2f} USD of collateral, below the "
                f"{floor / 1e8:,.0f} USD minimum; repay all the debt or take all the collateral",
                Code.MUST_NOT_LEAVE_DUST,
                {"debt_left_base": debt_left, "collateral_left_base": coll_left,
                 "min_leftover_base": floor},
            )
    return CloseFactorPlan(
        debt_repaid=debt_needed,
        collateral_to_liquidator=to_liquidator,
        protocol_fee=fee,
        max_liquidatable_debt=max_debt,
        close_factor_bps=close_factor,
        collateral_value_base=collateral_value,
        takes_all_collateral=_no_collateral_left(inputs, rounding, to_liquidator, fee,
                                                 collateral_value),
        debt_left=inputs.debt_balance - debt_needed,
    )


def quote_offers(inputs: CloseFactorInputs, min_leftover_base: int) -> tuple[int, ...]:
    """The offers a keeper's quote tries, largest first: the first that
    :func:`plan_liquidation` allows is the largest liquidation allowed now.

    - the whole debt (the close factor may lower it);
    - what leaves exactly ``min_leftover_base`` of this debt, when the close factor's
      cap would leave less (v3.3's leftover-dust rule refuses the cap, allows this);
    - what leaves at least ``min_leftover_base`` of this collateral, when the cap would
      seize all but dust of it yet cannot take all of it: the largest ``d`` whose
      collateral with the bonus, ``percentMul(d x debt price / collateral price, bonus)``,
      is at most the balance less ``ceil(min_leftover_base x unit / price)``. Without it
      an account whose largest collateral the close factor leaves as dust (for instance
      3,000 USD of WETH against 2,500 USDC allowed: 375 USD left) was quoted as refused
      although every smaller liquidation leaving 1,000 USD is allowed.

    Offers of zero or less are left out.
    """
    return tuple(offers_largest_first(inputs, min_leftover_base))


def offers_largest_first(inputs: CloseFactorInputs, min_leftover_base: int) -> Iterator[int]:
    """:func:`quote_offers`, one at a time: each offer is computed when the one before it
    was refused (a keeper's first offer, the whole debt, is allowed for most accounts)."""
    if inputs.debt_balance > 0:
        yield inputs.debt_balance
    debt_floor = -(-min_leftover_base * inputs.debt_unit // inputs.debt_price)
    leaving_debt = inputs.debt_balance - debt_floor
    if leaving_debt > 0:
        yield leaving_debt
    coll_floor = -(-min_leftover_base * inputs.collateral_unit // inputs.collateral_price)
    most_collateral = inputs.collateral_balance - coll_floor
    if most_collateral > 0 and inputs.liquidation_bonus_bps > 0:
        # The largest base collateral whose bonus-scaled amount stays within the most
        # collateral (percentMul of at most that value rounds to at most it), then the
        # largest debt whose base collateral (rounded down) is at most that.
        base = most_collateral * BPS // inputs.liquidation_bonus_bps
        debt = base * inputs.collateral_price * inputs.debt_unit // (
            inputs.debt_price * inputs.collateral_unit)
        leaving_collateral = min(debt, leaving_debt)
        if leaving_collateral > 0:
            yield leaving_collateral


def _no_collateral_left(inputs: CloseFactorInputs, rounding: LiquidationRounding,
                        to_liquidator: int, fee: int, collateral_value: int) -> bool:
    """Aave's ``hasNoCollateralLeft``: the liquidation consumes all the account's
    collateral value (so its remaining debt becomes deficit).

    v3.3 and v3.5 compare the base value of the seized amount; v3.7 that of the scaled
    balance consumed, each part ``rayDivCeil`` and the sum capped at the balance, read
    back ``rayMulFloor`` (aave-dao/aave-v3-origin@4fbd7442 ``LiquidationLogic.sol``).
    """
    if (not rounding.scaled_consumption or inputs.collateral_scaled is None
            or inputs.collateral_index is None):
        return inputs.total_collateral_base == collateral_value
    index = inputs.collateral_index
    consumed = div(to_liquidator * RAY, index, Rounding.UP) + div(fee * RAY, index, Rounding.UP)
    consumed = min(consumed, inputs.collateral_scaled)
    consumed_value = (consumed * index // RAY) * inputs.collateral_price // inputs.collateral_unit
    return consumed_value == inputs.total_collateral_base


#: Per market configuration object (by identity, the object held so its id cannot be
#: reused): ``(unit, liquidation_bonus_bps, liquidation_protocol_fee_bps)``.
_market_integers: dict[int, tuple[MarketConfig, tuple[int, int, int]]] = {}


def _market_ints(market: MarketConfig) -> tuple[int, int, int]:
    """``market``'s unit, bonus and fee in basis points, read from its properties once per
    (frozen) configuration object: each property computes a power or parses a Decimal,
    and every read of a keeper's inputs and every ``Liquidate`` asks for them."""
    cached = _market_integers.get(id(market))
    if cached is not None and cached[0] is market:
        return cached[1]
    if len(_market_integers) >= 1024:  # many configurations (a sweep): start afresh
        _market_integers.clear()
    ints = (market.unit, market.liquidation_bonus_bps, market.liquidation_protocol_fee_bps)
    _market_integers[id(market)] = (market, ints)
    return ints


def close_factor_inputs(config: ProtocolConfig, ledger: Ledger, prices: Mapping[str, int],
                        account_id: str, health_factor: int, total_debt_base: int,
                        total_collateral_base: int, debt_asset: str,
                        collateral_asset: str,
                        balances: tuple[int, int] | None = None) -> CloseFactorInputs:
    """The :class:`CloseFactorInputs` of one account, debt asset and collateral asset, from
    the ledger, the prices and the account's data (Aave's ``getUserAccountData``).

    ``balances``: the account's debt in ``debt_asset`` and supply of
    ``collateral_asset`` as the ledger reads them now, if the caller has just read them
    (else read here)."""
    markets = config.markets
    debt_unit = _market_ints(markets[debt_asset])[0]
    collateral_unit, bonus_bps, fee_bps = _market_ints(markets[collateral_asset])
    debt_balance, collateral_balance = balances if balances is not None else (
        ledger.debt_of(account_id, debt_asset), ledger.supply_of(account_id, collateral_asset))
    category_id = ledger.emode_of(account_id)
    if category_id:
        # executeLiquidationCall: the e-mode category's bonus for a category collateral.
        bonus_bps = liquidation_bonus_bps(markets[collateral_asset], collateral_asset,
                                          config.emode_category(category_id))
    return CloseFactorInputs(
        health_factor=health_factor,
        total_debt_base=total_debt_base,
        total_collateral_base=total_collateral_base,
        debt_balance=debt_balance,
        collateral_balance=collateral_balance,
        debt_price=prices[debt_asset],
        debt_unit=debt_unit,
        collateral_price=prices[collateral_asset],
        collateral_unit=collateral_unit,
        liquidation_bonus_bps=bonus_bps,
        protocol_fee_bps=fee_bps,
        collateral_scaled=ledger.scaled_supply_of(account_id, collateral_asset),
        collateral_index=ledger.reserves[collateral_asset].liquidity_index,
    )
