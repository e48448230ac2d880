"""A stable price: follows the oracle, but only as fast as a growth cap allows.

The idea is Mango v4's stable price model, redone in exact integers. Two prices follow the
oracle:

- the *delay price*: the time-weighted average oracle price of each ``delay_interval``
  (one hour), each new hourly value allowed to move at most ``delay_growth_limit_bps`` from
  the previous one, and used ``delay_intervals`` (24) intervals later: a slow, day-old price;
- the *stable price*: moves toward the oracle price at each update, by at most
  ``stable_growth_limit_bps`` per second elapsed, a cap shrunk by the square of
  ``min(stable, delay) / max(stable, delay)``: the further the stable price has already run
  from the day-old price, the slower it runs further.

An attacker who pumps a thin market twenty-fold for a few minutes moves the stable price by
a few percent; a crash that lasts hours is followed within hours. Initial margin uses it on
the side that protects the protocol: collateral at ``min(oracle, stable)``
(:func:`collateral_price`), debt at ``max(oracle, stable)`` (:func:`debt_price`), so a pump
cannot be borrowed against and a dump cannot shrink debt.

Where this differs from Mango, and why: the bounds of one step are
``previous * (1 + g)`` and ``previous / (1 + g)`` (Mango uses ``1 - g`` for the lower one to
save a division; dividing keeps the bound positive and makes up and down moves symmetric in
ratio), each rounded toward the previous price so a step never exceeds its cap; the
interval average counts the same capped seconds in its numerator and its denominator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from marginengine.errors import ConfigError
from marginengine.fixedpoint import BPS, Rounding, div, mul_div
from marginengine.oracle.inputs import require_param, require_price, require_time


@dataclass(frozen=True, slots=True)
class StablePriceParams:
    """Speeds of the stable and delay prices (defaults: Mango v4's).

    Parameters
    ----------
    delay_interval
        Seconds averaged into one delay price (3,600).
    delay_intervals
        How many delay prices are kept; the delay is ``delay_interval * delay_intervals``
        (24 hours).
    delay_growth_limit_bps
        Largest move of one delay price from the previous one, in bps (600, 6% per hour).
    stable_growth_limit_bps
        Largest move of the stable price per second elapsed, in bps, before the
        disagreement factor (3, 0.03% per second: 1.8% per minute).
    min_update_interval
        Updates closer than this to the last one are ignored (10 s), so many small updates
        cannot add up to more than a few large ones.
    max_update_interval
        Seconds counted at most for one update (600 s), so one update after a long pause
        cannot jump far.

    Raises
    ------
    ConfigError
        If a value is not a positive int or ``min_update_interval > max_update_interval``.
    """

    delay_interval: int = 3600
    delay_intervals: int = 24
    delay_growth_limit_bps: int = 600
    stable_growth_limit_bps: int = 3
    min_update_interval: int = 10
    max_update_interval: int = 600

    def __post_init__(self) -> None:
        require_param(self.delay_interval, "delay_interval", 1, "seconds")
        require_param(self.delay_intervals, "delay_intervals", 1, "intervals")
        require_param(self.delay_growth_limit_bps, "delay_growth_limit_bps", 1, "bps")
        require_param(self.stable_growth_limit_bps, "stable_growth_limit_bps", 1, "bps")
        require_param(self.min_update_interval, "min_update_interval", 1, "seconds")
        require_param(self.max_update_interval, "max_update_interval", 1, "seconds")
        if self.min_update_interval > self.max_update_interval:
            raise ConfigError(
                [f"min_update_interval: {self.min_update_interval} s is more than "
                 f"max_update_interval ({self.max_update_interval} s)"]
            )


def growth_clamped(target: int, previous: int, growth_num: int, growth_den: int) -> int:
    """Clamp ``target`` to ``[previous / (1 + g), previous * (1 + g)]`` with ``g = num / den``.

    Both bounds round toward ``previous``, so the move never exceeds ``g``.

    Parameters
    ----------
    target
        Where the price would go.
    previous
        Where it is, positive.
    growth_num, growth_den
        The cap ``g`` as a fraction; ``growth_num >= 0``, ``growth_den > 0``.
    """
    upper = mul_div(previous, growth_den + growth_num, growth_den, Rounding.DOWN)
    lower = mul_div(previous, growth_den, growth_den + growth_num, Rounding.UP)
    return min(max(target, lower), upper)


@dataclass(frozen=True, slots=True)
class StablePrice:
    """The stable price of one market: an immutable value; :meth:`update` returns the next.

    Build one with :meth:`start`. Being a value, it goes into snapshots and state hashes as
    is, and a rejected update cannot have changed it.

    Parameters
    ----------
    params
        The speeds.
    price
        The stable price, USD with 8 decimals.
    last_update
        Time of the last update that counted, in seconds.
    delay_prices
        The kept delay prices, oldest first; ``delay_prices[0]`` is the delay price in use.
    accumulator, accumulated_time
        Sum of ``oracle price * seconds`` and of seconds in the current delay interval.
    """

    params: StablePriceParams
    price: int
    last_update: int
    delay_prices: tuple[int, ...]
    accumulator: int = 0
    accumulated_time: int = 0

    @classmethod
    def start(
        cls, time: int, oracle_price: int, params: StablePriceParams | None = None
    ) -> StablePrice:
        """Start at the oracle price: stable and every delay price equal to it.

        Raises
        ------
        OracleError
            If the time or the price is invalid.
        """
        params = params or StablePriceParams()
        time = require_time(time, "time")
        price = require_price(oracle_price, "oracle_price")
        return cls(params, price, time, (price,) * params.delay_intervals)

    @property
    def delay_price(self) -> int:
        """The day-old delay price the stable price's speed depends on."""
        return self.delay_prices[0]

    def update(self, time: int, oracle_price: int) -> StablePrice:
        """Move toward ``oracle_price`` as far as the caps allow.

        Parameters
        ----------
        time
            Seconds, not before :attr:`last_update`. Updates less than
            ``min_update_interval`` after the last one return ``self`` unchanged.
        oracle_price
            The oracle's price now, a positive int.

        Returns
        -------
        StablePrice
            The next state.

        Raises
        ------
        OracleError
            If the time is out of order or the price invalid.
        """
        time = require_time(time, "time", self.last_update)
        oracle = require_price(oracle_price, "oracle_price")
        p = self.params
        elapsed = time - self.last_update
        if elapsed < p.min_update_interval:
            return self
        seconds = min(elapsed, p.max_update_interval)

        accumulator = self.accumulator + oracle * seconds
        accumulated_time = self.accumulated_time + seconds
        delay_prices = self.delay_prices
        crossed = time // p.delay_interval - self.last_update // p.delay_interval
        if crossed > 0:
            # Close the interval: its average, capped against the newest delay price, fills
            # one slot per interval crossed (every slot after a full day's silence).
            average = div(accumulator, accumulated_time, Rounding.HALF_UP)
            newest = growth_clamped(average, delay_prices[-1], p.delay_growth_limit_bps, BPS)
            filled = min(crossed, p.delay_intervals)
            delay_prices = delay_prices[filled:] + (newest,) * filled
            accumulator = accumulated_time = 0

        low, high = sorted((self.price, delay_prices[0]))
        cap_num = p.stable_growth_limit_bps * seconds * low * low
        cap_den = BPS * high * high
        stable = growth_clamped(oracle, self.price, cap_num, cap_den)
        return replace(
            self,
            price=stable,
            last_update=time,
            delay_prices=delay_prices,
            accumulator=accumulator,
            accumulated_time=accumulated_time,
        )


def collateral_price(oracle_price: int, stable_price: int) -> int:
    """Price to value collateral at for initial margin: the lower of oracle and stable.

    Raises
    ------
    OracleError
        If either price is not a positive int.
    """
    return min(require_price(oracle_price, "oracle_price"),
               require_price(stable_price, "stable_price"))


def debt_price(oracle_price: int, stable_price: int) -> int:
    """Price to value debt at for initial margin: the higher of oracle and stable.

    Raises
    ------
    OracleError
        If either price is not a positive int.
    """
    return max(require_price(oracle_price, "oracle_price"),
               require_price(stable_price, "stable_price"))
