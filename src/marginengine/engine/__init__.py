"""The engine: applies events under the preset's rules and logs every outcome."""

from marginengine.engine.engine import (
    Change,
    Engine,
    LiquidationQuote,
    Rejected,
    ReplayReport,
    fmt_health,
    fmt_usd,
    price_to_int,
)
from marginengine.engine.eventlog import EventLog, LogReader
from marginengine.engine.events import (
    EVENT_TYPES,
    Absorb,
    AdvanceTime,
    Borrow,
    BuyCollateral,
    Deposit,
    Event,
    Liquidate,
    Outcome,
    Repay,
    SetPrice,
    Withdraw,
    event_from_dict,
)

__all__ = [
    "EVENT_TYPES",
    "Absorb",
    "AdvanceTime",
    "Borrow",
    "BuyCollateral",
    "Change",
    "Deposit",
    "Engine",
    "Event",
    "EventLog",
    "Liquidate",
    "LiquidationQuote",
    "LogReader",
    "Outcome",
    "Rejected",
    "Repay",
    "ReplayReport",
    "SetPrice",
    "Withdraw",
    "event_from_dict",
    "fmt_health",
    "fmt_usd",
    "price_to_int",
]
