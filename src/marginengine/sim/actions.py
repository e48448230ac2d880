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

from pydantic import Field, field_validator

from marginengine.config.amounts import HumanNumber, parse_amount, parse_positive
from marginengine.config.base import StrictModel
from marginengine.config.models import DEBT_CEILING_DECIMALS, ProtocolConfig
from marginengine.engine import (
    Borrow,
    Deposit,
    Event,
    Repay,
    RepayWithATokens,
    SetDebtCeiling,
    SetLiquidationGracePeriod,
    SetPoolPause,
    SetReserveActive,
    SetReserveFreeze,
    SetReservePause,
    Withdraw,
)
from marginengine.ledger import check_account_id
from marginengine.sim.durations import parse_duration

_EVENTS: dict[str, type[Deposit | Withdraw | Borrow | Repay | RepayWithATokens]] = {
    "deposit": Deposit, "withdraw": Withdraw, "borrow": Borrow, "repay": Repay,
    "repay_with_atokens": RepayWithATokens}

#: The action types of an account (``account``, ``asset``, ``amount`` in whole tokens).
ACCOUNT_ACTIONS = ("deposit", "withdraw", "borrow", "repay", "repay_with_atokens")
#: The pool configurator's action types (Aave presets), each with the fields it needs and
#: those it may take: ``grace_period`` in seconds or a duration (``"1h"``),
#: ``debt_ceiling`` in USD (2 decimals), the flags true or false.
GOVERNANCE_ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "set_liquidation_grace_period": (("asset", "grace_period"), ()),
    "set_reserve_pause": (("asset", "paused"), ("grace_period",)),
    "set_pool_pause": (("paused",), ("grace_period",)),
    "set_reserve_freeze": (("asset", "frozen"), ()),
    "set_reserve_active": (("asset", "active"), ()),
    "set_debt_ceiling": (("asset", "debt_ceiling"), ()),
}
#: Every optional field of an action, as the tables list them.
ACTION_FIELDS = ("account", "asset", "amount", "grace_period", "paused", "frozen", "active",
                 "debt_ceiling")

ActionType = Literal["deposit", "withdraw", "borrow", "repay", "repay_with_atokens",
                     "set_liquidation_grace_period", "set_reserve_pause", "set_pool_pause",
                     "set_reserve_freeze", "set_reserve_active", "set_debt_ceiling"]


class ActionFields(StrictModel):
    """The fields an action may have; which ones each ``type`` needs is checked by
    :func:`check_action` (each problem naming its field)."""

    account: str | None = None
    asset: str | None = None
    amount: HumanNumber | None = None
    grace_period: int | str | None = None
    paused: bool | None = None
    frozen: bool | None = None
    active: bool | None = None
    debt_ceiling: HumanNumber | None = None

    # Before pydantic's own parsing, which would read ``true`` as 1 second.
    @field_validator("grace_period", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int | None:
        return None if value is None else parse_duration(value)


def check_action(act: ActionFields, kind: str, where: str, protocol: ProtocolConfig,
                 problems: list[str], whose: str = "") -> Event | None:
    """The engine event of one action (``kind`` its type), or ``None`` with one
    ``where.field: reason`` per problem appended: the fields its type needs and no other,
    a valid account id, a market of ``protocol`` (``whose``: its name, for the message),
    a positive amount in whole tokens, a debt ceiling in USD with at most 2 decimals."""
    if kind in ACCOUNT_ACTIONS:
        needed: tuple[str, ...] = ("account", "asset", "amount")
        optional: tuple[str, ...] = ()
    else:
        needed, optional = GOVERNANCE_ACTIONS[kind]
    count = len(problems)
    for name in ACTION_FIELDS:
        given = getattr(act, name) is not None
        if name in needed and not given:
            problems.append(f"{where}.{name}: required for a {kind} action")
        elif given and name not in needed and name not in optional:
            problems.append(f"{where}.{name}: a {kind} action takes no {name} (its fields: "
                            f"{', '.join((*needed, *optional))})")
    if act.account is not None:
        try:
            check_account_id(act.account, f"{where}.account")
        except ValueError as exc:
            problems.append(str(exc))
    market = None
    if act.asset is not None:
        market = protocol.markets.get(act.asset)
        if market is None:
            problems.append(f"{where}.asset: unknown asset {act.asset!r} (markets{whose}: "
                            f"{', '.join(sorted(protocol.markets))})")
    if len(problems) > count:
        return None
    assert act.asset is not None or kind == "set_pool_pause"
    if kind in ACCOUNT_ACTIONS:
        assert market is not None and act.account is not None and act.asset is not None
        amount = parse_positive(act.amount, market.decimals, f"{where}.amount", problems)
        return None if amount is None else _EVENTS[kind](act.account, act.asset, amount)
    grace = act.grace_period if isinstance(act.grace_period, int) else 0
    if kind == "set_liquidation_grace_period":
        return SetLiquidationGracePeriod(str(act.asset), grace)
    if kind == "set_reserve_pause":
        return SetReservePause(str(act.asset), bool(act.paused), grace)
    if kind == "set_pool_pause":
        return SetPoolPause(bool(act.paused), grace)
    if kind == "set_reserve_freeze":
        return SetReserveFreeze(str(act.asset), bool(act.frozen))
    if kind == "set_reserve_active":
        return SetReserveActive(str(act.asset), bool(act.active))
    cents = parse_amount(act.debt_ceiling, DEBT_CEILING_DECIMALS, f"{where}.debt_ceiling",
                         problems)
    return None if cents is None else SetDebtCeiling(str(act.asset), cents)


class CascadeActionSpec(ActionFields):
    """One explicit action (``[[actions]]``): ``step`` (1 to ``steps``), ``type`` and its
    fields (an account's ``account``, ``asset``, ``amount`` in whole tokens; the pool
    configurator's, :data:`GOVERNANCE_ACTIONS`) and, in a scenario of several protocols,
    the ``protocol`` it acts on (a protocol's ``name``)."""

    step: int = Field(ge=1)
    type: ActionType
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
            held = list(holders.get(act.account, ())) if act.account is not None else []
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
        whose = f" of {act.protocol}" if len(protocols) > 1 else ""
        check_action(act, act.type, where, protocol, problems, whose)
    return problems


def action_events(actions: list[CascadeActionSpec],
                  protocol: ProtocolConfig) -> dict[int, list[Event]]:
    """The checked actions on ``protocol`` (those naming it, and any naming none) as
    engine events, by step (1-based), in file order."""
    out: dict[int, list[Event]] = {}
    for act in actions:
        if act.protocol not in (None, protocol.name):
            continue
        problems: list[str] = []
        event = check_action(act, act.type, "actions", protocol, problems)
        assert event is not None, problems  # checked by check_actions
        out.setdefault(act.step, []).append(event)
    return out
