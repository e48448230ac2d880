"""The scenario-grid math of Derive's (Lyra v2) portfolio margin, PMRM_2, as array kernels.

The reference is ``derivexyz/v2-core``, ``src/risk-managers/PMRMLib_2.sol`` (functions
``_addVolShocks``, ``_getExpiryShockedMTM``, ``_addStaticDiscount``,
``_addBasisContingency``, ``getScenarioPnL``, ``_getShockedPerpPnL``) and the worked cases
of ``test/risk-managers/unit-tests/PMRM_2/portfolio_cases/*.json``. This module holds only
the pure math (layer 3): shocks, the instruments x scenarios matrix of shocked values,
the per-expiry discounting and the basis contingency. Positions, collateral, contingencies
per account and margin modes belong to the margin layer.

Definitions (Derive's, in floats; times in seconds, years of 365 days):

- **Scenario**: a spot shock multiplier (1.18 is +18%), a volatility direction (up, none,
  down) and a dampening factor (tail scenarios count at a fraction).
- **Vol shock term structure**: with tte the seconds to expiry,
  ``m = (30 days / max(tte, dte_floor)) ** p``, p the short-term power if tte <= 30 days
  else the long-term power; up multiplier ``1 + vol_range_up * m``, down
  ``max(0, 1 - vol_range_down * m)``. A vol-up scenario values each option at
  ``max(min_vol_up, vol * up)`` (Derive's ``minVolUpShock``), vol-down at ``vol * down``.
- **Shocked forward**: ``F' = variable * spot_shock + fixed``, where the fixed portion is
  the part of the settlement average already observed (0 before the settlement window).
  The discount factor of the expiry is not shocked.
- **Static discount**: the shocked mark-to-market of one expiry, if >= 0, is multiplied by
  ``long_base * exp(-tau (r long_mult + long_add))``; if < 0 by
  ``min(1 / D, short_base / exp(-tau (r short_mult + short_add)))``. The scenario P&L of
  the expiry is ``(discounted shocked MtM - MtM) * dampening``: so even the unshocked
  scenario charges the static discount.
- **Rates**: Derive floors every expiry's rate at 0 when it builds the portfolio
  (``PMRM_2._initialiseExpiries``); these functions take the rate as given, so a caller
  following Derive passes ``max(r, 0)``.
- **Basis contingency** of an expiry: ``min(MtM_up - MtM, MtM_down - MtM, 0) *
  (add + mult * tau)``, with MtM_up and MtM_down the undiscounted values at the basis
  spot shocks with no vol shock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from marginengine.errors import FieldError
from marginengine.pricing.black76 import price
from marginengine.pricing.inputs import FloatArray, bool_array, float_array

#: Derive annualises with 365-day years (``Black76.annualise``).
SECONDS_PER_YEAR = 365 * 86_400
THIRTY_DAYS = 30 * 86_400

#: Volatility directions of a scenario (Derive's ``VolShockDirection`` Up, None, Down).
VOL_DOWN, VOL_NONE, VOL_UP = -1, 0, 1
#: The vol-shock directions as portfolio configs name them (Derive's "up", "none", "down").
VOL_DIRECTIONS = {"up": VOL_UP, "none": VOL_NONE, "down": VOL_DOWN}


def _non_negative(field: str, value: float) -> float:
    return float(float_array(field, value, minimum=0.0))


@dataclass(frozen=True)
class VolShockParams:
    """Derive's ``VolShockParameters`` (fractions as floats, the floor in seconds).

    Raises
    ------
    FieldError
        A negative or non-finite parameter, named ``vol_shock.<field>``.
    """

    vol_range_up: float
    vol_range_down: float
    short_term_power: float
    long_term_power: float
    dte_floor_seconds: float
    min_vol_up: float

    def __post_init__(self) -> None:
        for name in ("vol_range_up", "vol_range_down", "short_term_power", "long_term_power",
                     "dte_floor_seconds", "min_vol_up"):
            _non_negative(f"vol_shock.{name}", getattr(self, name))


@dataclass(frozen=True)
class StaticDiscountParams:
    """The static-discount part of Derive's ``MarginParameters``.

    Raises
    ------
    FieldError
        A negative or non-finite parameter, named ``static_discount.<field>``.
    """

    long_base: float
    long_rate_mult: float
    long_rate_add: float
    short_base: float
    short_rate_mult: float
    short_rate_add: float

    def __post_init__(self) -> None:
        for name in ("long_base", "long_rate_mult", "long_rate_add", "short_base",
                     "short_rate_mult", "short_rate_add"):
            _non_negative(f"static_discount.{name}", getattr(self, name))


@dataclass(frozen=True)
class BasisContingencyParams:
    """Derive's ``BasisContingencyParameters``.

    Raises
    ------
    FieldError
        ``basis.spot_up`` not above 1, ``basis.spot_down`` not in [0, 1), or a factor
        negative.
    """

    spot_up: float
    spot_down: float
    add_factor: float
    mult_factor: float

    def __post_init__(self) -> None:
        if not float(float_array("basis.spot_up", self.spot_up)) > 1.0:
            raise FieldError("basis.spot_up", f"must be > 1 (got {self.spot_up!r})")
        down = _non_negative("basis.spot_down", self.spot_down)
        if not down < 1.0:
            raise FieldError("basis.spot_down", f"must be < 1 (got {self.spot_down!r})")
        _non_negative("basis.add_factor", self.add_factor)
        _non_negative("basis.mult_factor", self.mult_factor)


@dataclass(frozen=True)
class Scenarios:
    """A grid of scenarios as three aligned arrays.

    Attributes
    ----------
    spot_shock
        Multipliers of spot (> 0 finite), one per scenario.
    vol_shock
        :data:`VOL_DOWN`, :data:`VOL_NONE` or :data:`VOL_UP` per scenario.
    dampening
        Weight of each scenario's P&L (>= 0; Derive's tail scenarios use fractions).
    """

    spot_shock: FloatArray
    vol_shock: np.ndarray
    dampening: FloatArray

    @classmethod
    def of(cls, spot_shock: ArrayLike, vol_shock: ArrayLike,
           dampening: ArrayLike | None = None) -> Scenarios:
        """Validated scenarios (dampening 1 when not given).

        Raises
        ------
        FieldError
            ``scenarios.spot_shock``, ``scenarios.vol_shock`` or ``scenarios.dampening``
            invalid, or of different lengths (``scenarios``).
        """
        spot = float_array("scenarios.spot_shock", spot_shock, minimum=0.0, strict=True).ravel()
        vol = np.asarray(vol_shock).ravel()
        if not np.issubdtype(vol.dtype, np.integer) or not np.isin(vol, (-1, 0, 1)).all():
            raise FieldError("scenarios.vol_shock", "must be -1 (down), 0 (none) or 1 (up) "
                                                    "per scenario")
        damp = (np.ones_like(spot) if dampening is None else
                float_array("scenarios.dampening", dampening, minimum=0.0).ravel())
        if not spot.size == vol.size == damp.size:
            raise FieldError("scenarios", f"spot_shock, vol_shock and dampening must have one "
                                          f"value per scenario ({spot.size}, {vol.size}, "
                                          f"{damp.size})")
        if spot.size == 0:
            raise FieldError("scenarios", "must hold at least one scenario")
        return cls(spot, vol.astype(np.int8), damp)


def vol_shock_multipliers(sec_to_expiry: ArrayLike, params: VolShockParams
                          ) -> tuple[FloatArray, FloatArray]:
    """Up and down volatility multipliers per expiry (the (30 days / tte)^power rule).

    Parameters
    ----------
    sec_to_expiry
        Seconds to expiry (>= 0).
    params
        The vol-shock parameters.

    Returns
    -------
    tuple
        ``(up, down)`` arrays of the shape of ``sec_to_expiry``.
    """
    tte = float_array("sec_to_expiry", sec_to_expiry, minimum=0.0)
    floor = np.maximum(tte, params.dte_floor_seconds)
    # A zero floor and an expired option would divide by zero: one second is the least.
    ratio = THIRTY_DAYS / np.maximum(floor, 1.0)
    power = np.where(tte <= THIRTY_DAYS, params.short_term_power, params.long_term_power)
    mult = ratio ** power
    up: FloatArray = 1.0 + params.vol_range_up * mult
    down: FloatArray = np.maximum(0.0, 1.0 - params.vol_range_down * mult)
    return up, down


def shocked_vols(vol: ArrayLike, sec_to_expiry: ArrayLike, scenarios: Scenarios,
                 params: VolShockParams) -> FloatArray:
    """Each instrument's volatility in each scenario: instruments x scenarios.

    ``max(min_vol_up, vol * up)`` in vol-up scenarios, ``vol * down`` in vol-down ones,
    ``vol`` otherwise.
    """
    v = float_array("vol", vol, minimum=0.0).ravel()
    up, down = vol_shock_multipliers(sec_to_expiry, params)
    up, down = np.broadcast_to(up.ravel(), v.shape), np.broadcast_to(down.ravel(), v.shape)
    direction = scenarios.vol_shock[None, :]
    out: FloatArray = np.where(direction == VOL_UP,
                               np.maximum(params.min_vol_up, (v * up)[:, None]),
                               np.where(direction == VOL_DOWN, (v * down)[:, None], v[:, None]))
    return out


def scenario_values(forward_variable: ArrayLike, forward_fixed: ArrayLike, strike: ArrayLike,
                    sec_to_expiry: ArrayLike, vol: ArrayLike, rate: ArrayLike,
                    is_call: ArrayLike, scenarios: Scenarios, params: VolShockParams
                    ) -> FloatArray:
    """The instruments x scenarios matrix of shocked Black-76 values per unit of option.

    Parameters
    ----------
    forward_variable, forward_fixed
        The shocked and the unshocked portions of each option's forward (their sum is the
        forward; ``forward_fixed`` is 0 outside the settlement window).
    strike, sec_to_expiry, vol, rate, is_call
        Per instrument; ``rate`` gives the (unshocked) discount exp(-r tau).
    scenarios, params
        The grid and the vol-shock rule.

    Returns
    -------
    numpy.ndarray
        ``(instruments, scenarios)``: the present value of one option in each scenario.
        Positions times this matrix, summed per expiry, are the shocked expiry MtMs
        that :func:`expiry_scenario_pnl` discounts.
    """
    fv = float_array("forward_variable", forward_variable, minimum=0.0).ravel()
    ff = float_array("forward_fixed", forward_fixed, minimum=0.0).ravel()
    k = float_array("strike", strike, minimum=0.0, strict=True).ravel()
    tte = float_array("sec_to_expiry", sec_to_expiry, minimum=0.0).ravel()
    r = float_array("rate", rate).ravel()
    call = bool_array("is_call", is_call).ravel()
    try:
        fv, ff, k, tte, r, call = np.broadcast_arrays(fv, ff, k, tte, r, call)
    except ValueError:
        raise FieldError("shape", "the instrument arrays do not have one value each") from None
    vols = shocked_vols(np.broadcast_to(float_array("vol", vol, minimum=0.0).ravel(), k.shape),
                        tte, scenarios, params)
    forward = fv[:, None] * scenarios.spot_shock[None, :] + ff[:, None]
    if (forward <= 0.0).any():
        raise FieldError("forward_variable", "the shocked forward must stay > 0 (a zero "
                                             "forward or a spot shock of 0)")
    return price(forward, k[:, None], (tte / SECONDS_PER_YEAR)[:, None], vols, r[:, None],
                 call[:, None])


def perp_scenario_pnl(perp_price: ArrayLike, scenarios: Scenarios) -> FloatArray:
    """P&L of one unit long of each perp in each scenario, dampened: instruments x
    scenarios ``(spot_shock - 1) * perp_price * dampening`` (Derive's
    ``_getShockedPerpPnL``; the perp's mark value itself does not move)."""
    p = float_array("perp_price", perp_price, minimum=0.0).ravel()
    out: FloatArray = (p[:, None] * (scenarios.spot_shock - 1.0)[None, :]
                       * scenarios.dampening[None, :])
    return out


def static_discounts(sec_to_expiry: ArrayLike, rate: ArrayLike, params: StaticDiscountParams
                     ) -> tuple[FloatArray, FloatArray]:
    """The static discounts of each expiry: ``(positive, negative)`` multipliers.

    Derive's ``_addStaticDiscount``: the positive one dampens a long expiry's value, the
    negative one inflates a short expiry's liability, capped at 1 / D (the undiscounted
    value).
    """
    tau = float_array("sec_to_expiry", sec_to_expiry, minimum=0.0) / SECONDS_PER_YEAR
    r = float_array("rate", rate)
    pos: FloatArray = params.long_base * np.exp(-tau * (r * params.long_rate_mult
                                                        + params.long_rate_add))
    neg = params.short_base / np.exp(-tau * (r * params.short_rate_mult + params.short_rate_add))
    capped: FloatArray = np.minimum(1.0 / np.exp(-r * tau), neg)
    return pos, capped


def expiry_scenario_pnl(shocked_mtm: ArrayLike, mtm: ArrayLike, discount_pos: ArrayLike,
                        discount_neg: ArrayLike, scenarios: Scenarios) -> FloatArray:
    """Scenario P&L of expiries: ``(static-discounted shocked MtM - MtM) * dampening``.

    Parameters
    ----------
    shocked_mtm
        ``(..., scenarios)``: the value of an expiry's options (positions times
        :func:`scenario_values`, summed over the expiry) in each scenario.
    mtm
        ``(...)``: the unshocked value of the same options.
    discount_pos, discount_neg
        ``(...)``: the expiry's static discounts (:func:`static_discounts`).
    scenarios
        For the dampening.

    Returns
    -------
    numpy.ndarray
        ``(..., scenarios)``; summed over expiries (and perps, and risk-cancelling
        collateral) it is the scenario P&L whose minimum sets the margin.
    """
    shocked = float_array("shocked_mtm", shocked_mtm)
    base = float_array("mtm", mtm)[..., None]
    pos = float_array("discount_pos", discount_pos, minimum=0.0)[..., None]
    neg = float_array("discount_neg", discount_neg, minimum=0.0)[..., None]
    discounted = shocked * np.where(shocked >= 0.0, pos, neg)
    out: FloatArray = (discounted - base) * scenarios.dampening
    return out


def basis_contingency(mtm: ArrayLike, mtm_up: ArrayLike, mtm_down: ArrayLike,
                      sec_to_expiry: ArrayLike, params: BasisContingencyParams) -> FloatArray:
    """Basis (forward) contingency per expiry, <= 0 (Derive's ``_addBasisContingency``).

    ``min(mtm_up - mtm, mtm_down - mtm, 0) * (add_factor + mult_factor * tau)``, with
    ``mtm_up`` and ``mtm_down`` the undiscounted expiry values at the basis spot shocks
    (no vol shock, no static discount). The portfolio's contingency is the sum over
    expiries; it competes with the scenarios for the minimum.
    """
    base = float_array("mtm", mtm)
    up = float_array("mtm_up", mtm_up)
    down = float_array("mtm_down", mtm_down)
    tau = float_array("sec_to_expiry", sec_to_expiry, minimum=0.0) / SECONDS_PER_YEAR
    loss = np.minimum(np.minimum(up - base, down - base), 0.0)
    out: FloatArray = loss * (params.add_factor + params.mult_factor * tau)
    return out


def basis_scenarios(params: BasisContingencyParams) -> Scenarios:
    """The three scenarios the basis contingency values: spot up, spot down, unshocked
    (Derive's ``getBasisContingencyScenarios``), no vol shock, no dampening."""
    return Scenarios.of([params.spot_up, params.spot_down, 1.0], [VOL_NONE] * 3)


def sum_by_expiry(values: ArrayLike, amounts: ArrayLike, expiry_index: ArrayLike,
                  expiries: int) -> FloatArray:
    """Sum ``amounts * values`` over the options of each expiry of one portfolio.

    Parameters
    ----------
    values
        ``(instruments,)`` or ``(instruments, scenarios)`` values per unit.
    amounts
        ``(instruments,)`` signed amounts held (negative: short).
    expiry_index
        ``(instruments,)`` the expiry (0 .. ``expiries`` - 1) of each instrument.
    expiries
        Number of expiries.

    Returns
    -------
    numpy.ndarray
        ``(expiries,)`` or ``(expiries, scenarios)``: the (shocked) MtM per expiry, the
        input of :func:`expiry_scenario_pnl` and :func:`basis_contingency`.
    """
    v = float_array("values", values)
    amt = float_array("amounts", amounts).ravel()
    idx = np.asarray(expiry_index).ravel()
    if not np.issubdtype(idx.dtype, np.integer) or ((idx < 0) | (idx >= expiries)).any():
        raise FieldError("expiry_index", f"must be ints in [0, {expiries})")
    if v.shape[0] != amt.size or idx.size != amt.size:
        raise FieldError("amounts", f"values, amounts and expiry_index must have one row per "
                                    f"instrument ({v.shape[0]}, {amt.size}, {idx.size})")
    weighted = v * (amt if v.ndim == 1 else amt[:, None])
    out: FloatArray = np.zeros((expiries, *v.shape[1:]))
    np.add.at(out, idx, weighted)
    return out
