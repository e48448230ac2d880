"""Shared builders for tests: real components, no mocks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.engine import AdvanceTime, Deposit, Engine, Event, SetPrice
from marginengine.oracle.settlement_feed import SETTLEMENT_TWAP_DURATION

# No per-example time limit: hypothesis's default deadline (200 ms) is a timed assertion,
# and on a loaded 2-core machine a pricing example took 372 ms and failed a run whose
# results were right. Speed is the benchmarks' business (benchmarks/), not the tests'.
settings.register_profile("marginengine", deadline=None)
settings.load_profile("marginengine")

USD = 10**8
ETH = 10**18
USDC = 10**6

#: Round-number markets for worked examples (the Aave docs' 82.5% threshold).
SIMPLE_MARKETS: dict[str, Any] = {
    "WETH": {"decimals": 18, "ltv": "0.80", "liquidation_threshold": "0.825",
             "liquidation_bonus": "0.05", "liquidation_protocol_fee": "0.10",
             "reserve_factor": "0.10"},
    "USDC": {"decimals": 6, "ltv": "0.75", "liquidation_threshold": "0.80",
             "liquidation_bonus": "0.05", "liquidation_protocol_fee": "0.10",
             "reserve_factor": "0.10",
             "interest_rate": {"base": "0", "slope1": "0.04", "slope2": "0.60",
                               "optimal_utilization": "0.80"}},
    "DAI": {"decimals": 18, "ltv": "0.75", "liquidation_threshold": "0.80",
            "liquidation_bonus": "0.05", "liquidation_protocol_fee": "0.10",
            "reserve_factor": "0.10"},
}


def to_expiry_at(asset: str, price: int, advance: int) -> list[Event]:
    """Advance ``advance`` seconds with ``asset`` at ``price`` over the last 30 minutes:
    the price is set as the settlement window opens (``advance - 30 min`` in), so a TWAP
    settlement (Derive's presets: oracle/settlement_feed.py) and a spot one both settle
    an expiry at the end at ``price``."""
    return [AdvanceTime(advance - SETTLEMENT_TWAP_DURATION), SetPrice(asset, price),
            AdvanceTime(SETTLEMENT_TWAP_DURATION)]


def simple_aave(**overrides: Any) -> ProtocolConfig:
    """An aave-v3 protocol on :data:`SIMPLE_MARKETS`."""
    return protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS, **overrides})


def funded_engine(config: ProtocolConfig | None = None, weth_price: int = 2000) -> Engine:
    """An engine with prices set and a lender supplying 1,000,000 USDC and DAI."""
    engine = Engine(config or simple_aave())
    engine.apply(SetPrice("WETH", weth_price * USD))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("DAI", USD))
    assert engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC)).accepted
    assert engine.apply(Deposit("lp", "DAI", 1_000_000 * ETH)).accepted
    return engine


@pytest.fixture
def engine() -> Engine:
    """A funded aave-v3 engine on the simple markets, ETH at 2,000 USD."""
    return funded_engine()


@pytest.fixture(scope="session")
def pg_base() -> Any:
    """A throwaway PostgreSQL server for the session (see tests/pgserver.py)."""
    from tests.pgserver import pg_cluster

    with pg_cluster() as base:
        yield base


@pytest.fixture
def pg_url(pg_base: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the throwaway server, for one test."""
    import re
    import uuid

    from tests.pgserver import new_database

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40]
    return new_database(pg_base, f"t_{name}_{uuid.uuid4().hex[:8]}")
