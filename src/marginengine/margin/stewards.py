"""Clamp a sequence of proposed parameter updates to Risk-Steward bounds, as a pure function.

The models of :mod:`marginengine.margin.adaptive` *propose*; this decides what the protocol
may accept, with the rules of Aave's ``RiskSteward`` (:mod:`marginengine.config.stewards`
cites them) and one difference: where the steward reverts an update that moves too far,
this **clamps** it to the bound (``current ± allowed``) and says so, so an automated model
still moves in the right direction at the allowed speed. Otherwise as the steward:

- ``debounce_not_respected``: an update of a parameter less than ``min_delay_seconds`` after
  the last *applied* update of the same parameter of the same asset is rejected;
- ``update_to_zero``: a proposed 0 is rejected (the steward never sets LTV, threshold,
  bonus or caps to 0), and so is a clamp that would land on 0;
- ``same_value``: a proposal equal to the current value (or clamped back onto it) is rejected;
- consistency, as Aave's ``PoolConfigurator.configureReserveAsCollateral`` requires:
  ``ltv <= liquidation_threshold`` (``ltv_above_threshold``) and
  ``threshold * (1 + bonus) <= 100%`` (``threshold_times_bonus_above_one``), and for a perp
  market's first tier ``maintenance <= initial <= 100%`` (``maintenance_above_initial``,
  ``fraction_above_one``), checked on the value after clamping; a failing update is
  rejected, not clamped further.

Values: LTV, threshold and bonus in bps (the bonus as the part above 100%, ``500`` for a 5%
bonus, as Aave's config engine takes it); caps in whole tokens. Times in seconds,
non-decreasing along the sequence. Each decision is a record with a code and a message, to
be logged as the event that changes the protocol (issue 12: an update changes the protocol
only as a logged event).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from marginengine.config.base import threshold_times_bonus_bps
from marginengine.config.stewards import PARAM_NAMES, ParamName, StewardBounds
from marginengine.errors import FieldError, field_path
from marginengine.fixedpoint import BPS, Rounding, div
from marginengine.margin.crowding import BookAccount

Status = Literal["accepted", "clamped", "rejected"]
Key = tuple[str, ParamName]


@dataclass(frozen=True)
class ProposedUpdate:
    """A model's proposal: set ``param`` of ``asset`` to ``value`` at ``time``."""

    asset: str
    param: ParamName
    value: int
    time: int


@dataclass(frozen=True)
class StewardDecision:
    """What became of one proposal.

    Attributes
    ----------
    proposal
        The proposal as made.
    status
        ``accepted`` (as proposed), ``clamped`` (moved to the bound) or ``rejected``.
    previous
        The parameter's value before.
    value
        The value now in force (``previous`` when rejected).
    code
        A stable code: ``ok``, ``clamped_to_max_change`` or the rejection's code.
    message
        For people.
    """

    proposal: ProposedUpdate
    status: Status
    previous: int
    value: int
    code: str
    message: str

    @property
    def applied(self) -> bool:
        """Whether the protocol's parameter changes."""
        return self.status != "rejected"


def allowed_change(current: int, max_change_bps: int, relative: bool) -> int:
    """The largest allowed difference from ``current``: absolute, or ``bps * current / 1e4``
    rounded down (``_updateWithinAllowedRange`` of Aave's steward)."""
    return div(max_change_bps * current, BPS, Rounding.DOWN) if relative else max_change_bps


def _check(i: int, p: ProposedUpdate, last_time: int | None) -> None:
    where = field_path("proposals", i)
    if not isinstance(p.asset, str) or not p.asset:
        raise FieldError(f"{where}.asset", f"must be a non-empty string (got {p.asset!r})")
    if p.param not in PARAM_NAMES:
        raise FieldError(f"{where}.param", f"must be one of {', '.join(PARAM_NAMES)} "
                         f"(got {p.param!r})")
    for name in ("value", "time"):
        v = getattr(p, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise FieldError(f"{where}.{name}", f"must be a non-negative int (got {v!r})")
    if last_time is not None and p.time < last_time:
        raise FieldError(f"{where}.time", f"{p.time} is before the previous proposal's "
                         f"{last_time} (out of order)")


def _consistent(values: Mapping[Key, int], asset: str) -> tuple[str, str] | None:
    ltv = values.get((asset, "ltv"))
    lt = values.get((asset, "liquidation_threshold"))
    bonus = values.get((asset, "liquidation_bonus"))
    if ltv is not None and lt is not None and ltv > lt:
        return "ltv_above_threshold", f"ltv {ltv} would exceed the threshold {lt}"
    # The configurator's check the steward's update goes through (percentMul, half up).
    if lt is not None and bonus is not None and \
            threshold_times_bonus_bps(lt, BPS + bonus) > BPS:
        return ("threshold_times_bonus_above_one",
                f"threshold {lt} x (1 + bonus {bonus}) would exceed 100% (Aave's "
                f"percentMul: {threshold_times_bonus_bps(lt, BPS + bonus)} bps)")
    mmf = values.get((asset, "maintenance_fraction"))
    imf = values.get((asset, "initial_fraction"))
    if mmf is not None and imf is not None and mmf > imf:
        return ("maintenance_above_initial",
                f"maintenance fraction {mmf} would exceed the initial fraction {imf}")
    if imf is not None and imf > BPS:
        return "fraction_above_one", f"initial fraction {imf} would exceed 100%"
    return None


def clamp_updates(
    current: Mapping[Key, int],
    proposals: Sequence[ProposedUpdate],
    bounds: StewardBounds,
    last_updated: Mapping[Key, int] | None = None,
) -> tuple[list[StewardDecision], dict[Key, int], dict[Key, int]]:
    """Decide a sequence of proposals against the bounds, in order.

    Parameters
    ----------
    current
        Value of every parameter a proposal may touch, by ``(asset, param)``.
    proposals
        The proposals, times non-decreasing.
    bounds
        The steward's bounds.
    last_updated
        Time of the last applied update per ``(asset, param)``; absent: never updated.

    Returns
    -------
    tuple
        ``(decisions, values, last_updated)``: one decision per proposal, and the values and
        update times after the sequence (new dicts; the inputs are not modified).

    Raises
    ------
    FieldError
        Naming ``proposals[i].field``, on a malformed proposal, a time out of order, or a
        parameter without a current value.
    """
    values = dict(current)
    times = dict(last_updated or {})
    decisions: list[StewardDecision] = []
    last_time: int | None = None
    for i, p in enumerate(proposals):
        _check(i, p, last_time)
        last_time = p.time
        key: Key = (p.asset, p.param)
        if key not in values:
            raise FieldError(field_path("proposals", i, "param"),
                             f"{p.asset}.{p.param} has no current value to move from")
        prev = values[key]
        bound = bounds.bound(p.param)

        def reject(code: str, message: str, p: ProposedUpdate = p, prev: int = prev) -> None:
            decisions.append(StewardDecision(p, "rejected", prev, prev, code, message))

        since = times.get(key)
        if since is not None and p.time - since < bound.min_delay_seconds:
            reject("debounce_not_respected",
                   f"{p.asset}.{p.param} was updated {p.time - since} s ago; the minimum "
                   f"delay is {bound.min_delay_seconds} s")
            continue
        if p.value == 0:
            reject("update_to_zero", f"{p.asset}.{p.param} may not be set to 0")
            continue
        allowed = allowed_change(prev, bound.max_change_bps, bound.relative)
        target = min(max(p.value, prev - allowed), prev + allowed)
        if target == prev:
            reject("same_value", f"{p.asset}.{p.param} would stay at {prev}")
            continue
        if target == 0:
            reject("update_to_zero", f"{p.asset}.{p.param} would be clamped to 0")
            continue
        trial = {**values, key: target}
        problem = _consistent(trial, p.asset)
        if problem is not None:
            reject(*problem)
            continue
        values[key] = target
        times[key] = p.time
        if target == p.value:
            decisions.append(StewardDecision(p, "accepted", prev, target, "ok", "accepted"))
        else:
            decisions.append(StewardDecision(
                p, "clamped", prev, target, "clamped_to_max_change",
                f"{p.asset}.{p.param} {prev} -> {p.value} moves more than {allowed}; "
                f"clamped to {target}",
            ))
    return decisions, values, times


@dataclass(frozen=True)
class ThresholdImpact:
    """The accounts a threshold update would make liquidatable, and their debt.

    Attributes
    ----------
    accounts
        Indices into the book, in order.
    debt_values
        Their debt values (base currency, 8 decimals).
    """

    accounts: tuple[int, ...]
    debt_values: tuple[int, ...]

    @property
    def total_debt(self) -> int:
        """The debt the update would put up for liquidation."""
        return sum(self.debt_values)


def newly_liquidatable(
    accounts: Sequence[BookAccount], price: int, base_unit: int, new_lt_bps: int
) -> ThresholdImpact:
    """List the accounts that a new liquidation threshold makes liquidatable at ``price``.

    An account is liquidatable when ``q * P * LT / u < D`` (health below 1), compared
    exactly in integers; it is listed when that holds at ``new_lt_bps`` but not at its own
    ``lt_bps`` today, so a proposal can show what it would cost borrowers before it is
    accepted.

    Raises
    ------
    FieldError
        If ``price``, ``base_unit`` or ``new_lt_bps`` is out of range.
    """
    for name, value, low, high in (("price", price, 1, None), ("base_unit", base_unit, 1, None),
                                   ("new_lt_bps", new_lt_bps, 0, BPS)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high
        ):
            raise FieldError(name, f"must be an int in {low}..{high or 'inf'} (got {value!r})")
    picked: list[int] = []
    debts: list[int] = []
    for i, a in enumerate(accounts):
        owed = a.debt_value * base_unit * BPS
        if a.debt_value == 0 or a.collateral * price * a.lt_bps < owed:
            continue  # nothing owed, or liquidatable already
        if a.collateral * price * new_lt_bps < owed:
            picked.append(i)
            debts.append(a.debt_value)
    return ThresholdImpact(tuple(picked), tuple(debts))
