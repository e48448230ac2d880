"""Mango v4 family scenarios, run through the engine: banks, perp markets, accounts; init,
maint, liquidation-end health at every step (Mango's liquidation itself is not modelled).
Rules: ``margin/mango.py``; the engine's Mango events: ``engine/mango_handlers.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from marginengine.config import protocol_from_dict
from marginengine.config.amounts import HumanNumber
from marginengine.config.family_configs import mango_bank_total_problem
from marginengine.config.protocol_families import FamilyRules
from marginengine.engine import (
    Engine,
    Event,
    MangoDeposit,
    MangoPerpOrders,
    MangoPerpTrade,
    MangoSetStablePrice,
    MangoWithdraw,
    SetPrice,
)
from marginengine.engine.family_state import MangoBook, mango_health
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS, format_units, parse_units
from marginengine.margin import MarginKind
from marginengine.margin import mango as mango_margin
from marginengine.sim.families.common import (
    FamilyModel,
    FamilyReport,
    FamilyStep,
    id_problems,
    parse_amount,
    parse_signed,
    raise_problems,
)


class MangoTokenSpec(FamilyModel):
    """A Mango bank: price (USD), weights, and the bank's totals and limits."""

    decimals: int = Field(ge=0, le=30, strict=True)
    price: HumanNumber
    stable_price: HumanNumber | None = None
    init_asset_weight: HumanNumber
    maint_asset_weight: HumanNumber
    init_liab_weight: HumanNumber
    maint_liab_weight: HumanNumber
    deposits: HumanNumber = 0
    borrows: HumanNumber = 0
    deposit_weight_scale_start_quote: HumanNumber | None = None
    borrow_weight_scale_start_quote: HumanNumber | None = None


class MangoPerpSpec(FamilyModel):
    """A Mango perp market: settle token, price, lot size, base and overall weights."""

    settle: str
    decimals: int = Field(ge=0, le=30, strict=True)
    price: HumanNumber
    stable_price: HumanNumber | None = None
    base_lot_size: int = Field(gt=0, strict=True)
    init_base_asset_weight: HumanNumber
    init_base_liab_weight: HumanNumber
    maint_base_asset_weight: HumanNumber
    maint_base_liab_weight: HumanNumber
    init_overall_asset_weight: HumanNumber
    maint_overall_asset_weight: HumanNumber


class MangoPerpPosition(FamilyModel):
    """A perp position: base lots (signed), quote (settle token, signed), open orders."""

    base_lots: int = Field(strict=True)
    quote: HumanNumber
    bids: int = Field(default=0, ge=0, strict=True)
    asks: int = Field(default=0, ge=0, strict=True)


class MangoAccountSpec(FamilyModel):
    """An account: signed token balances and perp positions."""

    id: str
    tokens: dict[str, HumanNumber] = Field(default_factory=dict)
    perps: dict[str, MangoPerpPosition] = Field(default_factory=dict)


class MangoStep(FamilyStep):
    """A step: oracle and stable prices."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)
    stable_prices: dict[str, HumanNumber] = Field(default_factory=dict)


class MangoScenario(FamilyModel):
    """A Mango v4 health scenario (the health figures; liquidation is not modelled)."""

    name: str
    description: str = ""
    family: str
    quote: str = "USDC"
    tokens: dict[str, MangoTokenSpec] = Field(min_length=1)
    perps: dict[str, MangoPerpSpec] = Field(default_factory=dict)
    accounts: list[MangoAccountSpec] = Field(min_length=1)
    steps: list[MangoStep] = Field(min_length=1)


def _weight(raw: object, where: str, problems: list[str]) -> str:
    try:
        units = parse_units(raw, 18)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return "0"
    if units < 0:
        problems.append(f"{where}: must be non-negative (got {raw!r})")
    return format_units(units, 18)


def _price(raw: object, where: str, problems: list[str]) -> int:
    return parse_amount(raw, PRICE_DECIMALS, where, problems)


def _applied(engine: Engine, event: Event, where: str, source: str | None) -> dict[str, Any]:
    out = engine.apply(event)
    if not out.accepted:
        raise ConfigError([f"{where}: refused by the protocol's rules: {out.reason} "
                           f"({out.code})"], source=source)
    return dict(out.details)


def run_mango(sc: MangoScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    """Run a Mango v4 health scenario through the engine (preset ``mango-v4``, Mango
    events): the accounts are built by deposits, perp fills and borrows (each passing
    ``check_health_post``), then each step moves oracle and stable prices and reports
    every account's healths (``margin/mango.py``) and the one margin interface's verdicts.

    Prices are USD per whole token with at most 8 decimals (the engine's). A bank's
    ``deposits`` and ``borrows`` are its totals, the scenario's accounts included (at least
    theirs: the engine adds the accounts' positions to the rest of the bank's).
    """
    problems: list[str] = []
    if sc.quote not in sc.tokens:
        problems.append(f"quote: {sc.quote!r} is not among the tokens")
    oracle: dict[str, int] = {}
    stable: dict[str, int] = {}
    decimals: dict[str, int] = {}
    for name, t in sc.tokens.items():
        decimals[name] = t.decimals
        oracle[name] = _price(t.price, f"tokens.{name}.price", problems)
        stable[name] = oracle[name] if t.stable_price is None else _price(
            t.stable_price, f"tokens.{name}.stable_price", problems)
    for name, pm in sc.perps.items():
        if pm.settle not in sc.tokens:
            problems.append(f"perps.{name}.settle: unknown token {pm.settle!r}")
        if name in decimals:
            problems.append(f"perps.{name}: the name is also a token's")
        decimals[name] = pm.decimals
        oracle[name] = _price(pm.price, f"perps.{name}.price", problems)
        stable[name] = oracle[name] if pm.stable_price is None else _price(
            pm.stable_price, f"perps.{name}.stable_price", problems)
    weights = {name: {w: _weight(getattr(t, w), f"tokens.{name}.{w}", problems)
                      for w in ("init_asset_weight", "maint_asset_weight", "init_liab_weight",
                                "maint_liab_weight")} for name, t in sc.tokens.items()}
    perp_weights = {name: {w: _weight(getattr(pm, w), f"perps.{name}.{w}", problems)
                           for w in ("init_base_asset_weight", "init_base_liab_weight",
                                     "maint_base_asset_weight", "maint_base_liab_weight",
                                     "init_overall_asset_weight",
                                     "maint_overall_asset_weight")}
                    for name, pm in sc.perps.items()}
    id_problems("accounts", [acct.id for acct in sc.accounts], problems)
    accounts = []
    for i, acct in enumerate(sc.accounts):
        toks = {}
        for name, raw in acct.tokens.items():
            if name not in sc.tokens:
                problems.append(f"{field_path('accounts', i, 'tokens', name)}: unknown token")
                continue
            toks[name] = parse_signed(raw, sc.tokens[name].decimals,
                                      field_path("accounts", i, "tokens", name), problems)
        perps = {}
        for name, pos in acct.perps.items():
            if name not in sc.perps:
                problems.append(f"{field_path('accounts', i, 'perps', name)}: unknown perp market")
                continue
            settle = sc.perps[name].settle
            perps[name] = (pos, parse_signed(pos.quote, sc.tokens[settle].decimals
                                             if settle in sc.tokens else 0,
                                             field_path("accounts", i, "perps", name, "quote"),
                                             problems))
        accounts.append((acct.id, toks, perps))
    steps = []
    for i, st in enumerate(sc.steps):
        changes: dict[str, tuple[int | None, int | None]] = {}
        for name in sorted({*st.prices, *st.stable_prices}):
            if name not in decimals:
                problems.append(f"{field_path('steps', i)}: unknown token or perp {name!r}")
                continue
            o = None if name not in st.prices else _price(
                st.prices[name], field_path("steps", i, "prices", name), problems)
            s_ = None if name not in st.stable_prices else _price(
                st.stable_prices[name], field_path("steps", i, "stable_prices", name), problems)
            changes[name] = (o, s_)
        steps.append((st, changes))
    banks: dict[str, dict[str, str]] = {}
    for name, t in sc.tokens.items():
        bank: dict[str, str] = {}
        for side, sign in (("deposits", 1), ("borrows", -1)):
            try:
                total = parse_units(getattr(t, side), t.decimals)
            except ValueError as exc:
                problems.append(f"tokens.{name}.{side}: {exc}")
                continue
            problem = mango_bank_total_problem(total)
            if problem is not None:
                problems.append(f"tokens.{name}.{side}: {problem}")
                continue
            own = sum(max(sign * toks.get(name, 0), 0) for _, toks, _ in accounts)
            bank[side] = format_units(max(total - own, 0), t.decimals)
        for side in ("deposit_weight_scale_start_quote", "borrow_weight_scale_start_quote"):
            raw = getattr(t, side)
            if raw is not None:
                bank[side] = str(raw)
        banks[name] = bank
    raise_problems(problems, source)

    markets = {n: {"decimals": d, "collateral": False, "borrowable": False}
               for n, d in decimals.items()}
    data = {"preset": "mango-v4", "markets": markets, "mango": {
        "quote": sc.quote,
        "tokens": {n: {**weights[n], **banks[n]} for n in sc.tokens},
        "perps": {n: {"settle": pm.settle, "base_lot_size": pm.base_lot_size,
                      **perp_weights[n]} for n, pm in sc.perps.items()}}}
    try:
        config = protocol_from_dict(data, source=source)
    except ConfigError as exc:
        raise ConfigError([f"tokens: {p}" for p in exc.problems], source=source) from None
    engine = Engine(config)
    for name in decimals:
        _applied(engine, SetPrice(name, oracle[name]), f"{name}.price", source)
        _applied(engine, MangoSetStablePrice(name, stable[name]), f"{name}.stable_price",
                 source)
    for i, (aid, toks, perps) in enumerate(accounts):
        where = field_path("accounts", i)
        for name, amount in toks.items():
            if amount > 0:
                _applied(engine, MangoDeposit(aid, name, amount), f"{where}.tokens.{name}",
                         source)
        for name, (pos, quote) in perps.items():
            if pos.base_lots or quote:
                _applied(engine, MangoPerpTrade(aid, name, pos.base_lots, quote),
                         f"{where}.perps.{name}", source)
            if pos.bids or pos.asks:
                _applied(engine, MangoPerpOrders(aid, name, pos.bids, pos.asks),
                         f"{where}.perps.{name}", source)
        for name, amount in toks.items():
            if amount < 0:
                _applied(engine, MangoWithdraw(aid, name, -amount), f"{where}.tokens.{name}",
                         source)
    qdec = sc.tokens[sc.quote].decimals

    report = FamilyReport(sc.name, rules.preset, rules.source)
    for index, (st, changes) in enumerate(steps):
        for name, (o, s_) in changes.items():
            if o is not None:
                _applied(engine, SetPrice(name, o), field_path("steps", index, "prices", name),
                         source)
            if s_ is not None:   # the stable price lags: it moves only when given
                _applied(engine, MangoSetStablePrice(name, s_),
                         field_path("steps", index, "stable_prices", name), source)
        book = engine.state.family
        assert isinstance(book, MangoBook)
        rows = {}
        for aid, _, _ in accounts:
            figures = {kind.value: mango_health(config, book, engine.prices,
                                                engine.stable_prices(), aid, kind,
                                                now=engine.ledger.time)
                       for kind in mango_margin.HealthType}
            # health in USD, floored to the micro-dollar for display
            rows[aid] = {**{k: format_units(v * 10**6 // (mango_margin.ONE * 10**qdec), 6)
                            for k, v in figures.items()},
                         "liquidatable": engine.is_liquidatable(aid),
                         "can_open_positions": engine.margin_state(
                             aid, MarginKind.INITIAL).is_met}
        report.steps.append({"step": index, "label": st.label, "liquidations": [],
                             "accounts": rows})
    report.summary = {"accounts": len(accounts),
                      "liquidatable_at_end": sorted(a for a, r in
                                                    report.steps[-1]["accounts"].items()
                                                    if r["liquidatable"]),
                      "engine_events": engine.seq, "state_hash": engine.state_hash()}
    return report


__all__ = [
    "MangoAccountSpec",
    "MangoPerpPosition",
    "MangoPerpSpec",
    "MangoScenario",
    "MangoStep",
    "MangoTokenSpec",
    "run_mango",
]
