"""Explicit actions of a generated run (a cascade's ``[[actions]]``).

The one schema (docs/simulator.md) lets a scenario whose prices come from a model take
explicit actions at steps, as a scripted scenario's ``[[steps]]`` do: at step ``step``,
right after the clock advances and before the step's prices move, ``account`` deposits,
withdraws, borrows or repays ``amount`` whole tokens of ``asset``, as engine events. A
refused action is listed in the summary's ``rejected_actions``; the run goes on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from marginengine.config.amounts import HumanNumber, parse_positive
from marginengine.config.base import StrictModel
from marginengine.config.models import ProtocolConfig
from marginengine.engine import Borrow, Deposit, Event, Repay, Withdraw
from marginengine.fixedpoint import parse_units
from marginengine.ledger import check_account_id

_EVENTS: dict[str, type[Deposit | Withdraw | Borrow | Repay]] = {
    "deposit": Deposit, "withdraw": Withdraw, "borrow": Borrow, "repay": Repay}


class CascadeActionSpec(StrictModel):
    """One explicit action (``[[actions]]``): ``step`` (1 to ``steps``), ``type``,
    ``account``, ``asset`` and ``amount`` (whole tokens)."""

    step: int = Field(ge=1)
    type: Literal["deposit", "withdraw", "borrow", "repay"]
    account: str
    asset: str
    amount: HumanNumber


def check_actions(actions: list[CascadeActionSpec], steps: int,
                  protocol: ProtocolConfig) -> list[str]:
    """A step of the run, a valid account id, a market, a positive amount: one
    ``actions.i.field: reason`` each."""
    problems: list[str] = []
    for j, act in enumerate(actions):
        where = f"actions.{j}"
        if act.step > steps:
            problems.append(f"{where}.step: must be at most steps ({steps}) "
                            f"(got {act.step})")
        try:
            check_account_id(act.account, f"{where}.account")
        except ValueError as exc:
            problems.append(str(exc))
        market = protocol.markets.get(act.asset)
        if market is None:
            problems.append(f"{where}.asset: unknown asset {act.asset!r} (markets: "
                            f"{', '.join(sorted(protocol.markets))})")
            continue
        parse_positive(act.amount, market.decimals, f"{where}.amount", problems)
    return problems


def action_events(actions: list[CascadeActionSpec],
                  protocol: ProtocolConfig) -> dict[int, list[Event]]:
    """Checked actions as engine events, by step (1-based), in file order."""
    out: dict[int, list[Event]] = {}
    for act in actions:
        amount = parse_units(act.amount, protocol.markets[act.asset].decimals)
        out.setdefault(act.step, []).append(_EVENTS[act.type](act.account, act.asset, amount))
    return out
