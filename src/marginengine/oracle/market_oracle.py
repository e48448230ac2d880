"""What the engine knows of one market's price: the price, its status and age, the stable
price, and the circuit breaker, with the rules that gate actions on them.

The engine keeps one :class:`MarketOracle` per asset and feeds it every price update (a
``SetPrice`` event carries the status the oracle layer gave the price). The oracle decides;
the engine only asks: may risk be added now? may liquidations run now? at what prices does
initial margin value collateral and debt?
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

from marginengine.config import OracleConfig
from marginengine.decisions import Code, Refusal
from marginengine.fixedpoint import BPS
from marginengine.oracle.circuit_breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitBreakerParams,
    Transition,
)
from marginengine.oracle.stable_price import (
    StablePrice,
    StablePriceParams,
    collateral_price,
    debt_price,
)
from marginengine.oracle.status import PriceStatus

#: Statuses whose price may be used to value accounts.
USABLE = frozenset({PriceStatus.FRESH, PriceStatus.DIVERGENT})
#: Bound once: an enum member read through its class is slow on this Python, and every
#: price check of every action reads the state of a market without a breaker.
_NORMAL = BreakerState.NORMAL


def _bps(value: object) -> int:
    from decimal import Decimal

    assert isinstance(value, Decimal)
    return int(value * BPS)


def stable_params(config: OracleConfig) -> StablePriceParams:
    """The stable-price parameters of an oracle configuration."""
    c = config.stable_price
    return StablePriceParams(
        delay_interval=c.delay_interval,
        delay_intervals=c.delay_intervals,
        delay_growth_limit_bps=_bps(c.delay_growth_limit),
        stable_growth_limit_bps=_bps(c.stable_growth_limit),
        min_update_interval=c.min_update_interval,
        max_update_interval=c.max_update_interval,
    )


def breaker_params(config: OracleConfig) -> CircuitBreakerParams:
    """The circuit-breaker parameters of an oracle configuration."""
    c = config.breaker
    return CircuitBreakerParams(
        window=c.window,
        pause_borrowing_move_bps=_bps(c.pause_borrowing_move),
        halt_move_bps=_bps(c.halt_move) if c.halt_move is not None else None,
        cool_off=c.cool_off,
    )


@dataclass(frozen=True)
class BreakerEvent:
    """A circuit-breaker transition of one market, as the engine records it."""

    asset: str
    time: int
    from_state: str
    to_state: str
    reason: str

    @classmethod
    def of(cls, asset: str, t: Transition) -> BreakerEvent:
        """Wrap a :class:`Transition`."""
        return cls(asset, t.time, t.from_state.value, t.to_state.value, t.reason)

    def as_dict(self) -> dict[str, object]:
        """Plain data for outcome details and reports."""
        return asdict(self)


class MarketOracle:
    """The engine's view of one market's price.

    Parameters
    ----------
    asset
        The market.
    config
        Staleness, stable price and breaker settings.
    """

    def __init__(self, asset: str, config: OracleConfig) -> None:
        self.asset = asset
        self.max_age = config.max_age
        self.status = PriceStatus.FRESH
        self.reason = ""
        self.updated_at: int | None = None
        self.stable: StablePrice | None = None
        self._stable_params = stable_params(config) if config.stable_price.enabled else None
        self.breaker = CircuitBreaker(breaker_params(config)) if config.breaker.enabled else None

    def copy(self) -> MarketOracle:
        """An independent copy (the engine updates a copy and commits it once logged).

        Only the breaker is mutable (its window and history); the stable price and the
        parameters are immutable values, shared: a deep copy of the whole oracle cost
        every ``SetPrice`` tens of microseconds for nothing."""
        new = object.__new__(type(self))  # copy.copy's work, without its dispatch
        new.__dict__.update(self.__dict__)
        if self.breaker is not None:
            new.breaker = copy.deepcopy(self.breaker)
        return new

    def observe(self, time: int, price: int, status: PriceStatus,
                reason: str = "") -> BreakerEvent | None:
        """Take a price update with its status; return the breaker transition, if any."""
        self.status = status
        self.reason = reason
        self.updated_at = time
        if status in USABLE and self._stable_params is not None:
            self.stable = (StablePrice.start(time, price, self._stable_params)
                           if self.stable is None else self.stable.update(time, price))
        if self.breaker is None:
            return None
        t = self.breaker.update(time, status, price if status in USABLE else None, reason)
        return BreakerEvent.of(self.asset, t) if t else None

    def tick(self, time: int) -> BreakerEvent | None:
        """Let time pass (breaker cool-offs)."""
        if self.breaker is None:
            return None
        t = self.breaker.tick(time)
        return BreakerEvent.of(self.asset, t) if t else None

    @property
    def breaker_state(self) -> BreakerState:
        """The breaker's state (``NORMAL`` without a breaker)."""
        return self.breaker.state if self.breaker else _NORMAL

    def _price_problem(self, time: int) -> Refusal | None:
        if self.updated_at is None:
            return Refusal(Code.PRICE_NOT_SET, f"no price has been set for {self.asset}",
                           {"asset": self.asset})
        if self.status not in USABLE:
            why = f": {self.reason}" if self.reason else ""
            return Refusal(Code.PRICE_NOT_USABLE,
                           f"price of {self.asset} is {self.status.value}{why}",
                           {"asset": self.asset, "status": self.status.value})
        age = time - self.updated_at
        if self.max_age and age > self.max_age:
            return Refusal(Code.PRICE_STALE,
                           f"price of {self.asset} is stale: last update {age} s ago, "
                           f"max_age {self.max_age} s",
                           {"asset": self.asset, "age": age, "max_age": self.max_age})
        return None

    def refusal(self, time: int, for_liquidation: bool = False) -> Refusal | None:
        """Why an action that depends on this price is refused now (``None``: allowed):
        adding risk, or with ``for_liquidation`` a liquidation."""
        problem = self._price_problem(time)
        if problem:
            return problem
        state = self.breaker_state
        if for_liquidation and not state.allows_liquidation:
            return Refusal(Code.LIQUIDATIONS_PAUSED,
                           f"{self.asset} circuit breaker is {state.value}: liquidations paused",
                           {"asset": self.asset, "breaker": state.value})
        if not for_liquidation and not state.allows_risk_increase:
            return Refusal(Code.BORROWING_PAUSED,
                           f"{self.asset} circuit breaker is {state.value}: borrowing paused",
                           {"asset": self.asset, "breaker": state.value})
        return None

    def risk_increase_refusal(self, time: int) -> str | None:
        """Why adding risk that depends on this price is refused now (``None``: allowed)."""
        refusal = self.refusal(time)
        return refusal.message if refusal else None

    def liquidation_refusal(self, time: int) -> str | None:
        """Why a liquidation that depends on this price is refused now (``None``: allowed)."""
        refusal = self.refusal(time, for_liquidation=True)
        return refusal.message if refusal else None

    def initial_collateral_price(self, oracle_price: int) -> int:
        """Collateral price for initial margin: ``min(oracle, stable)`` if enabled."""
        return collateral_price(oracle_price, self.stable.price) if self.stable else oracle_price

    def initial_debt_price(self, oracle_price: int) -> int:
        """Debt price for initial margin: ``max(oracle, stable)`` if enabled."""
        return debt_price(oracle_price, self.stable.price) if self.stable else oracle_price

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash."""
        stable = None
        if self.stable is not None:
            stable = [self.stable.price, self.stable.last_update, list(self.stable.delay_prices),
                      self.stable.accumulator, self.stable.accumulated_time]
        return {
            "status": self.status.value,
            "reason": self.reason,
            "updated_at": self.updated_at,
            "stable": stable,
            "breaker": self.breaker.state_dict() if self.breaker else None,
        }
