"""Prices the engine uses. Every price reaches the engine through this layer.

Feeds (:class:`PushFeed`, :class:`DelayedFeed`, :class:`VenueFeed`, :class:`ReplayFeed`)
answer ``latest(time)`` with a :class:`PriceReading`; :func:`aggregate` turns several into one
:class:`AggregatedPrice` with a :class:`PriceStatus`; :class:`StablePrice` is the slow price
initial margin uses; :class:`CircuitBreaker` turns statuses and moves into a
:class:`BreakerState`; :func:`settlement_price` is an option expiry's settlement price,
Derive's 30-minute TWAP of the spot before it. Input that cannot be a price or a time
raises :class:`OracleError` and changes nothing; a price that is merely untrustworthy is
a status with a reason.
"""

from marginengine.errors import OracleError
from marginengine.oracle.aggregation import (
    AggregatedPrice,
    AggregationParams,
    aggregate,
    lower_median,
    read_sources,
)
from marginengine.oracle.anchored_feed import AnchoredFeed, AnchoredFeedParams
from marginengine.oracle.circuit_breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitBreakerParams,
    Transition,
)
from marginengine.oracle.conditions import MarketConditions
from marginengine.oracle.delayed_feed import DelayedFeed, DelayedFeedParams
from marginengine.oracle.market_oracle import BreakerEvent, MarketOracle
from marginengine.oracle.price_table import PriceTable
from marginengine.oracle.push_feed import PushFeed, PushFeedParams
from marginengine.oracle.replay_feed import (
    ReplayFeed,
    load_price_series,
    parse_price_series_csv,
    parse_price_series_json,
)
from marginengine.oracle.settlement_feed import (
    SETTLEMENT_TWAP_DURATION,
    forward_portions,
    settlement_price,
    twap_settlement_price,
)
from marginengine.oracle.stable_price import (
    StablePrice,
    StablePriceParams,
    collateral_price,
    debt_price,
)
from marginengine.oracle.status import Feed, PriceReading, PriceStatus
from marginengine.oracle.twap import time_weighted_average
from marginengine.oracle.venue_feed import VenueFeed

__all__ = [
    "SETTLEMENT_TWAP_DURATION",
    "AggregatedPrice",
    "AggregationParams",
    "AnchoredFeed",
    "AnchoredFeedParams",
    "BreakerEvent",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakerParams",
    "DelayedFeed",
    "DelayedFeedParams",
    "Feed",
    "MarketConditions",
    "MarketOracle",
    "OracleError",
    "PriceReading",
    "PriceStatus",
    "PriceTable",
    "PushFeed",
    "PushFeedParams",
    "ReplayFeed",
    "StablePrice",
    "StablePriceParams",
    "Transition",
    "VenueFeed",
    "aggregate",
    "collateral_price",
    "debt_price",
    "forward_portions",
    "load_price_series",
    "lower_median",
    "parse_price_series_csv",
    "parse_price_series_json",
    "read_sources",
    "settlement_price",
    "time_weighted_average",
    "twap_settlement_price",
]
