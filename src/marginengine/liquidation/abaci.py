"""Price curves of a Dutch auction: MakerDAO's ``abaci.sol``, behind one tiny interface.

An abacus answers one question: given the starting price ``top`` (ray) and the seconds
``dur`` since the auction started (or was last reset), what is the price now (ray)?
The Clipper (:mod:`marginengine.liquidation.dutch_auction`) asks it and nothing else, so
swapping the curve touches nothing else.

Every curve computes exactly as Maker's contracts do:

- :class:`LinearDecrease`: ``0`` once ``dur >= tau``, else
  ``rmul(top, (tau - dur) * RAY / tau)``. The factor is floored to a ray *first*, then the
  product is floored: two floors, not one.
- :class:`StairstepExponentialDecrease`: ``rmul(top, rpow(cut, dur / step))`` with integer
  (floored) ``dur / step``; ``rpow`` rounds each product half up.
- :class:`ExponentialDecrease`: ``rmul(top, rpow(cut, dur))``.

``rmul`` is ``x * y / RAY`` rounded down. Python ints do not overflow; Maker's contracts
revert on 256-bit overflow, which no realistic price reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from marginengine.fixedpoint import RAY, Rounding, ray_mul, rpow


@runtime_checkable
class Abacus(Protocol):
    """A price curve: the price (ray) ``dur`` seconds after an auction started at ``top``."""

    def price(self, top: int, dur: int) -> int:
        """Return the current price in ray.

        Parameters
        ----------
        top
            The starting price of the auction, in ray (DAI per unit of collateral).
        dur
            Whole seconds elapsed since the auction was kicked or last reset.
        """
        ...


def _check_price_inputs(curve: str, top: int, dur: int) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ValueError(f"{curve}.price: top must be a non-negative int (ray), got {top!r}")
    if isinstance(dur, bool) or not isinstance(dur, int) or dur < 0:
        raise ValueError(
            f"{curve}.price: dur must be a non-negative int of seconds, got {dur!r}"
        )


def _check_cut(curve: str, cut: int) -> None:
    # abaci.sol: file("cut") requires cut <= RAY ("...Decrease/cut-gt-RAY").
    if isinstance(cut, bool) or not isinstance(cut, int) or not 0 <= cut <= RAY:
        raise ValueError(
            f"{curve}: cut must be an int ray in [0, 1e27] (a per-step multiplier at most 1), "
            f"got {cut!r}"
        )


@dataclass(frozen=True)
class LinearDecrease:
    """Price falls linearly from ``top`` to zero over ``tau`` seconds.

    ``price = rmul(top, (tau - dur) * RAY / tau)`` (both divisions floored), and ``0`` from
    ``dur >= tau`` on (``abaci.sol``, ``LinearDecrease.price``).

    Attributes
    ----------
    tau
        Seconds after the start at which the price reaches zero (positive).
    """

    tau: int

    def __post_init__(self) -> None:
        if isinstance(self.tau, bool) or not isinstance(self.tau, int) or self.tau <= 0:
            raise ValueError(f"LinearDecrease: tau must be a positive int of seconds, got "
                             f"{self.tau!r}")

    def price(self, top: int, dur: int) -> int:
        """Return ``top * (tau - dur) / tau`` as Maker rounds it (ray), ``0`` after ``tau``."""
        _check_price_inputs("LinearDecrease", top, dur)
        if dur >= self.tau:
            return 0
        factor = (self.tau - dur) * RAY // self.tau
        return ray_mul(top, factor, Rounding.DOWN)


@dataclass(frozen=True)
class StairstepExponentialDecrease:
    """Price is multiplied by ``cut`` once every ``step`` seconds.

    ``price = rmul(top, rpow(cut, dur / step))`` with ``dur / step`` floored, so the price
    holds for ``step`` seconds and then drops (``abaci.sol``,
    ``StairstepExponentialDecrease.price``). ``cut = 0.99 * RAY`` is a 1% drop per step.

    Attributes
    ----------
    step
        Seconds between price drops (positive).
    cut
        Per-step multiplicative factor, ray, at most ``RAY``.
    """

    step: int
    cut: int

    def __post_init__(self) -> None:
        if isinstance(self.step, bool) or not isinstance(self.step, int) or self.step <= 0:
            raise ValueError(
                f"StairstepExponentialDecrease: step must be a positive int of seconds, got "
                f"{self.step!r}"
            )
        _check_cut("StairstepExponentialDecrease", self.cut)

    def price(self, top: int, dur: int) -> int:
        """Return ``top * cut ** (dur // step)`` as Maker rounds it (ray)."""
        _check_price_inputs("StairstepExponentialDecrease", top, dur)
        return ray_mul(top, rpow(self.cut, dur // self.step), Rounding.DOWN)


@dataclass(frozen=True)
class ExponentialDecrease:
    """Price is multiplied by ``cut`` every second.

    ``price = rmul(top, rpow(cut, dur))`` (``abaci.sol``, ``ExponentialDecrease.price``):
    the stair-step curve with ``step = 1``.

    Attributes
    ----------
    cut
        Per-second multiplicative factor, ray, at most ``RAY``.
    """

    cut: int

    def __post_init__(self) -> None:
        _check_cut("ExponentialDecrease", self.cut)

    def price(self, top: int, dur: int) -> int:
        """Return ``top * cut ** dur`` as Maker rounds it (ray)."""
        _check_price_inputs("ExponentialDecrease", top, dur)
        return ray_mul(top, rpow(self.cut, dur), Rounding.DOWN)
