"""Interest: the kinked rate model and index growth over time, in ray arithmetic.

Rates are yearly, in ray (1e27 = 100% a year). The rate model is Aave's
``DefaultReserveInterestRateStrategyV2``; the index growth is Aave's ``MathUtils``
(linear for supply, a three-term binomial expansion for borrow, written per second up to
v3.3 and over the whole period from v3.4) or, for Compound III,
simple interest per accrual, or exact per-second compounding with :func:`rpow`.
"""

from __future__ import annotations

import functools
from decimal import Decimal

from marginengine.config import InterestRateModel
from marginengine.config.families import Compounding
from marginengine.fixedpoint import BPS, RAY, Rounding, bps_mul, ray_div, ray_mul, rpow

SECONDS_PER_YEAR = 365 * 24 * 3600


@functools.lru_cache(maxsize=1024)
def _ray_fraction(value: Decimal) -> int:
    # Cached (equal Decimals give the same ray): rates() reads four per call, and every
    # event recomputes the rates of the reserves it touched.
    assert isinstance(value, Decimal)
    return int(value * RAY)


#: Per rate model object (by identity, held so its id cannot be reused): its four rays.
_model_rays: dict[int, tuple[InterestRateModel, tuple[int, int, int, int]]] = {}


def _rays(model: InterestRateModel) -> tuple[int, int, int, int]:
    """``(base, slope1, slope2, optimal)`` of ``model`` in ray, once per (frozen) model
    object: one lookup where four Decimal-keyed ones ran for every rate update (two per
    liquidation)."""
    cached = _model_rays.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    if len(_model_rays) >= 1024:  # many configurations (a sweep): start afresh
        _model_rays.clear()
    rays = (_ray_fraction(model.base), _ray_fraction(model.slope1),
            _ray_fraction(model.slope2), _ray_fraction(model.optimal_utilization))
    _model_rays[id(model)] = (model, rays)
    return rays


def utilization(total_debt: int, cash: int) -> int:
    """Borrow usage ratio ``debt / (cash + debt)`` in ray (Aave rounds half up)."""
    if total_debt == 0:
        return 0
    return ray_div(total_debt, cash + total_debt)


def rates(
    model: InterestRateModel, total_debt: int, cash: int, reserve_factor_bps: int,
    unbacked: int = 0,
) -> tuple[int, int]:
    """Return ``(borrow_rate, liquidity_rate)``, yearly, in ray.

    The borrow rate follows the borrow usage ``debt / (cash + debt)``; the supply
    (liquidity) rate is ``borrow_rate x supply_usage x (1 - reserve_factor)`` with the
    supply usage ``debt / (cash + debt + unbacked)``: Aave passes the reserve's deficit as
    ``unbacked`` (``DefaultReserveInterestRateStrategyV2.calculateInterestRates``,
    aave-dao/aave-v3-origin@4fbd7442), so written-off debt earns suppliers nothing.
    """
    base, slope1, slope2, optimal = _rays(model)
    if total_debt == 0:
        return base, 0
    usage = utilization(total_debt, cash)
    if usage > optimal:
        excess = ray_div(usage - optimal, RAY - optimal)
        borrow = base + slope1 + ray_mul(slope2, excess)
    else:
        borrow = base + ray_div(ray_mul(slope1, usage), optimal)
    supply_usage = usage if unbacked == 0 else ray_div(total_debt, cash + total_debt + unbacked)
    liquidity = bps_mul(ray_mul(borrow, supply_usage), BPS - reserve_factor_bps)
    return borrow, liquidity


def linear_interest(rate: int, seconds: int) -> int:
    """Growth factor (ray) of simple interest at a yearly ``rate`` over ``seconds``."""
    return RAY + rate * seconds // SECONDS_PER_YEAR


def compounded_interest(rate: int, seconds: int, how: Compounding) -> int:
    """Growth factor (ray) of the borrow index at a yearly ``rate`` over ``seconds``."""
    if seconds == 0 or rate == 0:
        return RAY
    if how is Compounding.LINEAR:
        return linear_interest(rate, seconds)
    if how is Compounding.EXACT:
        return rpow(RAY + rate // SECONDS_PER_YEAR, seconds)
    if how is Compounding.TAYLOR3_RATE_TIME:
        # v3.4+: the whole period's rate x first (floored), its square and cube by rayMul
        # (half up), nested as Horner's rule; larger than v3.3's n(n-1) form by the
        # n^2 - n(n-1) = n cross terms it drops.
        x = rate * seconds // SECONDS_PER_YEAR
        return RAY + x + ray_mul(x, x // 2 + ray_mul(x, x // 6))
    exp_minus_one = seconds - 1
    exp_minus_two = seconds - 2 if seconds > 2 else 0
    base_power_two = ray_mul(rate, rate) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    base_power_three = ray_mul(base_power_two, rate) // SECONDS_PER_YEAR
    second_term = seconds * exp_minus_one * base_power_two // 2
    third_term = seconds * exp_minus_one * exp_minus_two * base_power_three // 6
    return RAY + rate * seconds // SECONDS_PER_YEAR + second_term + third_term


def grow_index(index: int, factor: int) -> int:
    """Apply a growth factor to an index (Aave's ``rayMul``, half up)."""
    return ray_mul(factor, index, Rounding.HALF_UP)


# ---------------------------------------------------------------------- Compound III
# compound-finance/comet@d5a30b0a contracts/Comet.sol (getUtilization, getSupplyRate,
# getBorrowRate, accruedInterestIndices) and CometCore.sol (presentValue*): indices are
# fractions of BASE_INDEX_SCALE = 1e15, rates per second at FACTOR_SCALE = 1e18. The
# ledger keeps its indices in ray, so a Comet index is the ray index / 1e12 exactly.

#: Comet's ``BASE_INDEX_SCALE``.
COMET_INDEX_SCALE = 10**15
#: From a Comet index (1e15) to the ledger's ray index.
COMET_INDEX_TO_RAY = RAY // COMET_INDEX_SCALE
_FACTOR_SCALE = 10**18


def comet_utilization(total_supply: int, total_borrow: int) -> int:
    """``getUtilization``: ``totalBorrow x 1e18 / totalSupply`` (present values), floored;
    0 without supply."""
    if total_supply == 0:
        return 0
    return total_borrow * _FACTOR_SCALE // total_supply


def comet_rate(utilization: int, kink: int, base: int, slope_low: int, slope_high: int) -> int:
    """``getSupplyRate`` / ``getBorrowRate``: the per-second rate (1e18) at ``utilization``.

    ``base + mulFactor(slope_low, u)`` up to the kink (inclusive), then
    ``base + mulFactor(slope_low, kink) + mulFactor(slope_high, u - kink)``; each
    ``mulFactor`` floored. ``base`` and the slopes are per second, the kink a fraction.
    """
    if utilization <= kink:
        return base + slope_low * utilization // _FACTOR_SCALE
    return (base + slope_low * kink // _FACTOR_SCALE
            + slope_high * (utilization - kink) // _FACTOR_SCALE)


def comet_accrue_index(index: int, rate_per_second: int, seconds: int) -> int:
    """``accruedInterestIndices``: ``index + mulFactor(index, rate x seconds)``, floored.

    ``index`` is a Comet index (1e15 is one); simple interest over the elapsed time, so the
    index compounds only across accruals.
    """
    return index + index * (rate_per_second * seconds) // _FACTOR_SCALE


def comet_principal_after(principal: int, index: int, delta: int, borrow: bool) -> int:
    """The principal of a Comet base balance after ``delta`` of present value moves in
    (``delta > 0``) or out (``delta < 0``): ``updateBasePrincipal`` recomputes it from the
    new present value, never adds a delta of principal.

    ``presentValueSupply`` / ``presentValueBorrow`` floor ``principal x index / 1e15``;
    ``principalValueSupply`` floors ``present x 1e15 / index`` and
    ``principalValueBorrow`` rounds it up (compound-finance/comet@d5a30b0a
    contracts/CometCore.sol). So touching a balance can cost its holder a unit of
    principal, which adding ``delta / index`` to the old principal would not: at index
    1.640865532228085, a supply principal of 884,107,995,872 less 820,096,754 of present
    value is 883,608,200,648 (a delta would leave 883,608,200,649).

    Parameters
    ----------
    principal
        The old principal (a supply's, or a borrow's as a positive number).
    index
        The side's index in ray (the ledger's; a Comet index x 1e12, so the division is
        Comet's exactly).
    delta
        Present value added to the balance (a supply or a borrow), or taken from it
        (negative: a withdrawal or a repayment), in the base's smallest units.
    borrow
        Whether the balance is a borrow (its principal rounds up).

    Returns
    -------
    int
        The new principal; 0 when the new present value is 0 or below.
    """
    present = principal * index // RAY + delta
    if present <= 0:
        return 0
    if borrow:
        return -(-present * RAY // index)
    return present * RAY // index
