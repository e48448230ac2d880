"""The market of Aave's own Foundry tests, as a marginengine protocol.

aave-dao/aave-v3-origin at the v3.7.0 commit 4fbd7442: ``tests/mocks/AaveV3TestListing.sol``
lists USDX (6 decimals, 1 USD), WBTC (8, 27,000 USD) and WETH (18, 1,800 USD), each with
LTV 82.5%, liquidation threshold 86%, bonus 5%, protocol fee 10%, reserve factor 10% and
the rate strategy optimal 45%, base 0, slopes 4% and 60%; ``tests/protocol/pool/
Pool.Borrow.t.sol``'s ``setUp`` has carol supply 100,000 USDX.
"""

from __future__ import annotations

from typing import Any

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.engine import Deposit, Engine, SetPrice

USD = 10**8
USDX = 10**6
WBTC = 10**8
WETH = 10**18

_RATES = {"base": "0", "slope1": "0.04", "slope2": "0.60", "optimal_utilization": "0.45"}
_RISK: dict[str, Any] = {"ltv": "0.825", "liquidation_threshold": "0.86",
                         "liquidation_bonus": "0.05", "liquidation_protocol_fee": "0.10",
                         "reserve_factor": "0.10", "interest_rate": _RATES}
MARKETS: dict[str, dict[str, Any]] = {
    "USDX": {"decimals": 6, **_RISK},
    "WBTC": {"decimals": 8, **_RISK},
    "WETH": {"decimals": 18, **_RISK},
}
PRICES = {"USDX": 1 * USD, "WBTC": 27_000 * USD, "WETH": 1_800 * USD}


def listing(preset: str = "aave-v3") -> ProtocolConfig:
    """The test listing under ``preset``."""
    return protocol_from_dict({"preset": preset, "markets": MARKETS})


def pool(preset: str = "aave-v3") -> Engine:
    """An engine on the listing, prices set, carol supplying 100,000 USDX."""
    engine = Engine(listing(preset))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    return engine
