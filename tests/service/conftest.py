"""Builders for the service tests: a real engine, book and app, in process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from marginengine.engine import Borrow, Deposit, Engine, SetPrice
from tests.conftest import ETH, USD, USDC, simple_aave

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def alice_engine(log: Any = None) -> Engine:
    """The worked example: alice supplies 10 WETH at 2,000 USD and borrows 15,000 USDC.

    Health = 10 x 2,000 x 0.825 / 15,000 = 1.10 exactly (Aave: collateral x liquidation
    threshold / debt); at 1,900 it is 1.045 (below 1.10 and 1.05); at 1,800, 0.99.
    """
    engine = Engine(simple_aave(), log)
    with engine.batch():
        for event in (SetPrice("WETH", 2000 * USD), SetPrice("USDC", USD),
                      SetPrice("DAI", USD), Deposit("lp", "USDC", 1_000_000 * USDC),
                      Deposit("alice", "WETH", 10 * ETH), Borrow("alice", "USDC", 15_000 * USDC),
                      Deposit("bob", "WETH", 10 * ETH), Borrow("bob", "USDC", 10_000 * USDC)):
            assert engine.apply(event).accepted
    return engine


@pytest.fixture
def client() -> Iterator[Any]:
    """A TestClient on the app around :func:`alice_engine`."""
    from fastapi.testclient import TestClient

    from marginengine.service import Service
    from marginengine.service.app import create_app

    service = Service(alice_engine())
    app = create_app(service, TOKEN, max_body=4096, rate=0)
    with TestClient(app) as c:
        c.service = service  # type: ignore[attr-defined]
        yield c
