"""A circuit breaker per market: pause what a bad price could hurt, until it has calmed down.

States, from least to most severe, and what each one pauses:

=====================  ======================================  =============================
state                  entered when                            paused
=====================  ======================================  =============================
NORMAL                 nothing is wrong                        nothing
BORROWING_PAUSED       the price moved more than               risk-increasing actions
                       ``pause_borrowing_move_bps`` within     (borrow, withdraw collateral)
                       ``window``
LIQUIDATIONS_PAUSED    the sources diverge (``DIVERGENT``)     those, and liquidations
HALTED                 no trustworthy price (``STALE``,        every price-dependent action
                       ``CLAMPED``, ``UNCERTAIN``,
                       ``INSUFFICIENT``) or a move beyond
                       ``halt_move_bps``
=====================  ======================================  =============================

A move is ``max / min - 1`` over the prices seen within the window, the same measure as the
sources' spread, so one threshold reads the same both ways: a fall from 100 to 80 and a rise
from 80 to 100 are both 25% moves.

Escalation is immediate. Each state is held until ``cool_off`` seconds have passed since its
condition was last seen; the breaker then steps down to the most severe state whose
condition was seen within the cool-off (``NORMAL`` if none). Each change is one
:class:`Transition` (from, to, time, reason), returned and kept in :attr:`CircuitBreaker.history`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from marginengine.errors import ConfigError, OracleError
from marginengine.fixedpoint import BPS, PRICE_DECIMALS, Rounding, div, format_units
from marginengine.oracle.aggregation import AggregatedPrice, spread_exceeds
from marginengine.oracle.inputs import require_param, require_price, require_time
from marginengine.oracle.status import PriceStatus


class BreakerState(Enum):
    """State of a market's circuit breaker (see the module docstring)."""

    NORMAL = "normal"
    BORROWING_PAUSED = "borrowing_paused"
    LIQUIDATIONS_PAUSED = "liquidations_paused"
    HALTED = "halted"

    @property
    def severity(self) -> int:
        """0 for ``NORMAL`` up to 3 for ``HALTED``."""
        return _ORDER.index(self)

    @property
    def allows_risk_increase(self) -> bool:
        """Whether borrowing and withdrawing collateral are allowed."""
        return self is BreakerState.NORMAL

    @property
    def allows_liquidation(self) -> bool:
        """Whether liquidations may run: severity at most ``BORROWING_PAUSED``'s."""
        # Its severity against the limit's, computed once (every Liquidate asks this of
        # each price it uses; the enum members are slow to read through their class).
        return _ORDER.index(self) <= _LIQUIDATION_SEVERITY


_ORDER: tuple[BreakerState, ...] = (
    BreakerState.NORMAL,
    BreakerState.BORROWING_PAUSED,
    BreakerState.LIQUIDATIONS_PAUSED,
    BreakerState.HALTED,
)
#: ``BreakerState.BORROWING_PAUSED.severity``: the most severe state liquidations run in.
_LIQUIDATION_SEVERITY = BreakerState.BORROWING_PAUSED.severity

#: Aggregate statuses that mean "no trustworthy price": the breaker halts on them.
_NO_PRICE = frozenset(
    {PriceStatus.STALE, PriceStatus.CLAMPED, PriceStatus.UNCERTAIN, PriceStatus.INSUFFICIENT}
)


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of state, with its cause.

    Parameters
    ----------
    time
        When, in seconds.
    from_state, to_state
        The states left and entered.
    reason
        Why, with the numbers.
    """

    time: int
    from_state: BreakerState
    to_state: BreakerState
    reason: str


@dataclass(frozen=True, slots=True)
class CircuitBreakerParams:
    """Thresholds of a circuit breaker.

    Parameters
    ----------
    window
        Seconds over which a price move is measured.
    pause_borrowing_move_bps
        A move (``max / min - 1``, bps) above this within ``window`` pauses borrowing.
    halt_move_bps
        A move above this halts the market; ``None`` for no halt on moves. Must be above
        ``pause_borrowing_move_bps``.
    cool_off
        Seconds a state is held after its condition was last seen.

    Raises
    ------
    ConfigError
        If a value is not a positive int or ``halt_move_bps <= pause_borrowing_move_bps``.
    """

    window: int = 3600
    pause_borrowing_move_bps: int = 2000
    halt_move_bps: int | None = None
    cool_off: int = 3600

    def __post_init__(self) -> None:
        require_param(self.window, "window", 1, "seconds")
        require_param(self.pause_borrowing_move_bps, "pause_borrowing_move_bps", 1, "bps")
        require_param(self.cool_off, "cool_off", 1, "seconds")
        if self.halt_move_bps is not None:
            require_param(self.halt_move_bps, "halt_move_bps", 1, "bps")
            if self.halt_move_bps <= self.pause_borrowing_move_bps:
                raise ConfigError(
                    [f"halt_move_bps: must be above pause_borrowing_move_bps "
                     f"({self.halt_move_bps} <= {self.pause_borrowing_move_bps})"]
                )


class CircuitBreaker:
    """The breaker of one market, driven by the aggregate price at each time.

    Parameters
    ----------
    params
        Thresholds, window and cool-off.
    """

    def __init__(self, params: CircuitBreakerParams | None = None) -> None:
        self.params = params or CircuitBreakerParams()
        self._state = BreakerState.NORMAL
        self._prices: deque[tuple[int, int]] = deque()
        self._last_seen: dict[BreakerState, tuple[int, str]] = {}
        self._clock: int | None = None
        self._history: list[Transition] = []

    @property
    def state(self) -> BreakerState:
        """The current state."""
        return self._state

    @property
    def history(self) -> tuple[Transition, ...]:
        """Every transition so far, oldest first."""
        return tuple(self._history)

    def update(
        self, time: int, status: PriceStatus, price: int | None = None, reason: str = ""
    ) -> Transition | None:
        """Feed the breaker the aggregate at ``time``; change state if a condition says so.

        Parameters
        ----------
        time
            Seconds, not before the last update.
        status
            The aggregate's status.
        price
            The aggregate price; required for ``FRESH`` and ``DIVERGENT`` (the only prices
            that enter the move window), ignored otherwise.
        reason
            The aggregate's reason, quoted in the transition.

        Returns
        -------
        Transition or None
            The change made, if any.

        Raises
        ------
        OracleError
            On a time out of order, a status that is not a :class:`PriceStatus`, or a missing
            or bad price where one is required; the breaker is then unchanged.
        """
        time = require_time(time, "time", self._clock)
        if not isinstance(status, PriceStatus):
            raise OracleError("status", f"must be a PriceStatus, not {type(status).__name__}")
        has_price = status in (PriceStatus.FRESH, PriceStatus.DIVERGENT)
        if has_price:
            price = require_price(price, "price")

        self._clock = time
        while self._prices and self._prices[0][0] < time - self.params.window:
            self._prices.popleft()
        if has_price:
            assert price is not None
            self._prices.append((time, price))
        for state, why in self._conditions(status, reason):
            self._last_seen[state] = (time, why)
        return self._settle(time)

    def tick(self, time: int) -> Transition | None:
        """Let time pass without a new price: states whose cool-off ended step down.

        Raises
        ------
        OracleError
            On a time before the last update; the breaker is then unchanged.
        """
        time = require_time(time, "time", self._clock)
        self._clock = time
        while self._prices and self._prices[0][0] < time - self.params.window:
            self._prices.popleft()
        return self._settle(time)

    def state_dict(self) -> dict[str, object]:
        """The breaker's whole state as plain data, for state hashes."""
        return {
            "state": self._state.value,
            "clock": self._clock,
            "prices": [list(p) for p in self._prices],
            "last_seen": {s.value: list(v) for s, v in sorted(
                self._last_seen.items(), key=lambda kv: kv[0].value)},
        }

    def update_with(self, aggregate: AggregatedPrice) -> Transition | None:
        """:meth:`update` with an aggregate's time, status, price and reason."""
        return self.update(aggregate.time, aggregate.status, aggregate.price, aggregate.reason)

    def _conditions(self, status: PriceStatus, reason: str) -> list[tuple[BreakerState, str]]:
        found: list[tuple[BreakerState, str]] = []
        if status in _NO_PRICE:
            said = f"price {status.value}"
            found.append((BreakerState.HALTED, f"{said}: {reason}" if reason else said))
        elif status is PriceStatus.DIVERGENT:
            found.append((BreakerState.LIQUIDATIONS_PAUSED, reason or "sources diverge"))
        if self._prices:
            low = min(price for _, price in self._prices)
            high = max(price for _, price in self._prices)
            move = div((high - low) * BPS, low, Rounding.UP)
            moved = (
                f"price moved {move} bps within {self.params.window} s "
                f"({_usd(low)} to {_usd(high)})"
            )
            halt = self.params.halt_move_bps
            if halt is not None and spread_exceeds(low, high, halt):
                found.append((BreakerState.HALTED, f"{moved} > {halt} bps"))
            elif spread_exceeds(low, high, self.params.pause_borrowing_move_bps):
                found.append(
                    (BreakerState.BORROWING_PAUSED,
                     f"{moved} > {self.params.pause_borrowing_move_bps} bps")
                )
        return found

    def _settle(self, time: int) -> Transition | None:
        target, why = BreakerState.NORMAL, ""
        for state in reversed(_ORDER[1:]):
            seen = self._last_seen.get(state)
            if seen is not None and time - seen[0] < self.params.cool_off:
                target, why = state, seen[1]
                break
        current = self._state
        if target is current:
            return None
        if target.severity > current.severity:
            reason = why
        else:
            since, _ = self._last_seen[current]
            reason = (
                f"cool-off: {time - since} s since {current.value} was last triggered "
                f"(at {since}), cool_off {self.params.cool_off} s"
            )
            if target is not BreakerState.NORMAL:
                reason += f"; {target.value} still holds: {why}"
        transition = Transition(time, current, target, reason)
        self._state = target
        self._history.append(transition)
        return transition


def _usd(price: int) -> str:
    return format_units(price, PRICE_DECIMALS)
