"""Explicit actions of a generated run (a cascade's ``[[actions]]``).

The one schema (docs/simulator.md) lets a scenario whose prices come from a model take
explicit actions at steps, as a scripted scenario's ``[[steps]]`` do: at step ``step``,
right after the clock advances and before the step's prices move, ``account`` deposits,
withdraws, borrows or repays ``amount`` whole tokens of ``asset``, as engine events. A
refused action is listed in the summary's ``rejected_actions``; the run goes on.

In a scenario of several protocols (``[[protocols]]``) an action acts on the protocol its
``protocol`` field names (:func:`resolve_actions`); without it, on the protocol whose
explicit ``accounts`` hold its account, else on the first (the scenario's ``[protocol]``).
An account held by the explicit accounts of several protocols must name one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    ``account``, ``asset``, ``amount`` (whole tokens) and, in a scenario of several
    protocols, the ``protocol`` it acts on (a protocol's ``name``)."""

    step: int = Field(ge=1)
    type: Literal["deposit", "withdraw", "borrow", "repay"]
    account: str
    asset: str
    amount: HumanNumber
    protocol: str | None = None


def resolve_actions(actions: Sequence[CascadeActionSpec], names: Sequence[str],
                    holders: Mapping[str, Sequence[str]]
                    ) -> tuple[list[CascadeActionSpec | None], list[str]]:
    """Each action with the protocol it acts on set (``None`` where that cannot be told),
    and one ``actions.i.protocol: reason`` per action that cannot be placed.

    Parameters
    ----------
    names
        The scenario's protocols, the first (``[protocol]``) first.
    holders
        Account -> the protocols whose explicit ``accounts`` hold it.
    """
    out: list[CascadeActionSpec | None] = []
    problems: list[str] = []
    listed = ", ".join(names)
    for j, act in enumerate(actions):
        where = f"actions.{j}.protocol"
        target: str | None
        if act.protocol is not None:
            target = act.protocol if act.protocol in names else None
            if target is None:
                problems.append(f"{where}: unknown protocol {act.protocol!r} (protocols: "
                                f"{listed})")
        elif len(names) == 1:
            target = names[0]
        else:
            held = list(holders.get(act.account, ()))
            target = held[0] if len(held) == 1 else None if held else names[0]
            if target is None:
                problems.append(f"{where}: ambiguous: account {act.account!r} is an "
                                f"explicit account of {' and '.join(held)}; name the "
                                f"protocol (protocols: {listed})")
        out.append(act.model_copy(update={"protocol": target}) if target else None)
    return out, problems


def check_actions(actions: Sequence[CascadeActionSpec | None], steps: int,
                  protocols: Mapping[str, ProtocolConfig]) -> list[str]:
    """A step of the run, a valid account id, a market of the action's protocol
    (:func:`resolve_actions`; ``None``: an action that could not be placed, already
    named), a positive amount: one ``actions.i.field: reason`` each."""
    problems: list[str] = []
    first = next(iter(protocols.values()))
    for j, act in enumerate(actions):
        if act is None:
            continue
        protocol = protocols[act.protocol] if act.protocol is not None else first
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
            whose = f" of {act.protocol}" if len(protocols) > 1 else ""
            problems.append(f"{where}.asset: unknown asset {act.asset!r} (markets{whose}: "
                            f"{', '.join(sorted(protocol.markets))})")
            continue
        parse_positive(act.amount, market.decimals, f"{where}.amount", problems)
    return problems


def action_events(actions: list[CascadeActionSpec],
                  protocol: ProtocolConfig) -> dict[int, list[Event]]:
    """The checked actions on ``protocol`` (those naming it, and any naming none) as
    engine events, by step (1-based), in file order."""
    out: dict[int, list[Event]] = {}
    for act in actions:
        if act.protocol not in (None, protocol.name):
            continue
        amount = parse_units(act.amount, protocol.markets[act.asset].decimals)
        out.setdefault(act.step, []).append(_EVENTS[act.type](act.account, act.asset, amount))
    return out
