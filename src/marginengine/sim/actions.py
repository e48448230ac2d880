"""Explicit actions of a generated run (a cascade's ``[[actions]]``).

The one schema (docs/simulator.md) lets a scenario whose prices come from a model take
explicit actions at steps, as a scripted scenario's ``[[steps]]`` do: at step ``step``,
right after the clock advances and before the step's prices move, ``account`` deposits,
withdraws, borrows or repays (also with its aTokens) ``amount`` whole tokens of ``asset``,
or the pool configurator (Aave presets) pauses, freezes, activates a reserve, sets its
debt ceiling or a liquidation grace period, as engine events (:data:`EVENT_OF`). A
refused action is listed in the summary's ``rejected_actions``; the run goes on. Both
kinds of scenario check an action's fields with :func:`check_action` at load, each
problem naming its field.

In a scenario of several protocols (``[[protocols]]``) an action acts on the protocol its
``protocol`` field names (:func:`resolve_actions`); without it, on the protocol whose
explicit ``accounts`` hold its account, else on the first (the scenario's ``[protocol]``).
An account held by the explicit accounts of several protocols must name one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

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
from marginengine.margin.reserve_flags import validate_debt_ceiling_value
from marginengine.margin.validation import validate_grace_period
from marginengine.sim.durations import parse_duration

_ACCOUNT_EVENTS: dict[str, type[Deposit | Withdraw | Borrow | Repay | RepayWithATokens]] = {
    "deposit": Deposit, "withdraw": Withdraw, "borrow": Borrow, "repay": Repay,
    "repay_with_atokens": RepayWithATokens}
#: The engine event of each action type (``borrow_max``, a scripted step's, borrows).
EVENT_OF: dict[str, type[Event]] = {
    **_ACCOUNT_EVENTS, "borrow_max": Borrow,
    "set_liquidation_grace_period": SetLiquidationGracePeriod,
    "set_reserve_pause": SetReservePause, "set_pool_pause": SetPoolPause,
    "set_reserve_freeze": SetReserveFreeze, "set_reserve_active": SetReserveActive,
    "set_debt_ceiling": SetDebtCeiling}

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
#: Each action type's fields: those it needs and those it may take.
ACTION_TYPE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{kind: (("account", "asset", "amount"), ()) for kind in ACCOUNT_ACTIONS},
    **GOVERNANCE_ACTIONS,
    "borrow_max": (("account", "asset"), ()),
}
#: Every optional field of an action, as the tables list them.
ACTION_FIELDS = ("account", "asset", "amount", "grace_period", "paused", "frozen", "active",
                 "debt_ceiling")

ActionType = Literal["deposit", "withdraw", "borrow", "repay", "repay_with_atokens",
                     "set_liquidation_grace_period", "set_reserve_pause", "set_pool_pause",
                     "set_reserve_freeze", "set_reserve_active", "set_debt_ceiling"]
#: The action types of a cascade's ``[[actions]]`` (a scripted step adds ``borrow_max``).
ACTION_TYPES: tuple[str, ...] = get_args(ActionType)


def action_type(value: object, types: Sequence[str]) -> object:
    """``value`` if it is not an unknown name; an unknown one is refused with the closest
    type (another value is left to the field's type, which names what it must be)."""
    if isinstance(value, str) and value not in types:
        close = difflib.get_close_matches(value, types, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ValueError(f"unknown action type {value!r} ({hint}types: {', '.join(types)})")
    return value


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


def check_action_fields(act: ActionFields, kind: str, where: str, protocol: ProtocolConfig,
                        problems: list[str], whose: str = "") -> bool:
    """Whether an action of type ``kind`` (:data:`ACTION_TYPE_FIELDS`, ``borrow_max``
    included) has the fields its type needs and no other, a valid account id, a market of
    ``protocol`` (``whose``: its name, for the message), an event ``protocol`` applies,
    and a grace period only where it starts one, within Aave's ``MAX_GRACE_PERIOD``;
    else ``False`` with one ``where.field: reason`` per problem appended."""
    needed, optional = ACTION_TYPE_FIELDS[kind]
    count = len(problems)
    for name in ACTION_FIELDS:
        given = getattr(act, name) is not None
        if name in needed and not given:
            problems.append(f"{where}.{name}: required for a {kind} action")
        elif given and name not in needed and name not in optional:
            problems.append(f"{where}.{name}: a {kind} action takes no {name} (its fields: "
                            f"{', '.join((*needed, *optional))})")
    event = EVENT_OF[kind].__name__
    if not protocol.rules.accepts(event):
        why = protocol.rules.unsupported.get(event, "")
        problems.append(f"{where}.type: {protocol.rules.family} does not apply {kind} "
                        f"({why or event})")
    if act.account is not None:
        try:
            check_account_id(act.account, f"{where}.account")
        except ValueError as exc:
            problems.append(str(exc))
    if act.asset is not None and act.asset not in protocol.markets:
        problems.append(f"{where}.asset: unknown asset {act.asset!r} (markets{whose}: "
                        f"{', '.join(sorted(protocol.markets))})")
    if isinstance(act.grace_period, int):
        if act.paused:
            # PoolConfigurator.setReservePause reads gracePeriod only when unpausing
            # (``if (!paused && gracePeriod != 0)``): a pause would drop it unseen.
            problems.append(f"{where}.grace_period: only an unpause (paused = false) "
                            "starts a grace period; Aave's setReservePause ignores it "
                            "when pausing")
        else:
            refusal = validate_grace_period(act.grace_period)
            if refusal is not None:
                problems.append(f"{where}.{refusal.message}")
    return len(problems) == count


def check_action(act: ActionFields, kind: str, where: str, protocol: ProtocolConfig,
                 problems: list[str], whose: str = "") -> Event | None:
    """The engine event of one action (``kind`` its type, not ``borrow_max``), or ``None``
    with one ``where.field: reason`` per problem appended: its fields
    (:func:`check_action_fields`), a positive amount in whole tokens, a debt ceiling in USD
    with at most 2 decimals within Aave's ``MAX_VALID_DEBT_CEILING``."""
    if not check_action_fields(act, kind, where, protocol, problems, whose):
        return None
    asset = str(act.asset)  # every type but set_pool_pause has one (checked above)
    if kind in ACCOUNT_ACTIONS:
        amount = parse_positive(act.amount, protocol.markets[asset].decimals,
                                f"{where}.amount", problems)
        return None if amount is None else _ACCOUNT_EVENTS[kind](str(act.account), asset,
                                                                  amount)
    grace = act.grace_period if isinstance(act.grace_period, int) else 0
    if kind == "set_liquidation_grace_period":
        return SetLiquidationGracePeriod(asset, grace)
    if kind == "set_reserve_pause":
        return SetReservePause(asset, bool(act.paused), grace)
    if kind == "set_pool_pause":
        return SetPoolPause(bool(act.paused), grace)
    if kind == "set_reserve_freeze":
        return SetReserveFreeze(asset, bool(act.frozen))
    if kind == "set_reserve_active":
        return SetReserveActive(asset, bool(act.active))
    cents = parse_amount(act.debt_ceiling, DEBT_CEILING_DECIMALS, f"{where}.debt_ceiling",
                         problems)
    if cents is None:
        return None
    refusal = validate_debt_ceiling_value(cents)
    if refusal is not None:
        problems.append(f"{where}.{refusal.message}")
        return None
    return SetDebtCeiling(asset, cents)


class CascadeActionSpec(ActionFields):
    """One explicit action (``[[actions]]``): ``step`` (1 to ``steps``), ``type`` and its
    fields (an account's ``account``, ``asset``, ``amount`` in whole tokens; the pool
    configurator's, :data:`GOVERNANCE_ACTIONS`) and, in a scenario of several protocols,
    the ``protocol`` it acts on (a protocol's ``name``)."""

    step: int = Field(ge=1)
    type: ActionType
    protocol: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: object) -> object:
        return action_type(value, ACTION_TYPES)


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
