"""Drift v2 family scenarios, run through the engine: spot and perp markets, cross-margin
accounts built by events (each meeting its initial requirement), initial and maintenance
margin at every step (the keeper does not liquidate here: ``DriftLiquidateSpot`` is the
engine's event for it). Rules: ``margin/drift.py``; events: ``engine/drift_handlers.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from marginengine.config import protocol_from_dict
from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules
from marginengine.engine import (
    DriftDeposit,
    DriftPerpTrade,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import DRIFT_PRICE_SCALE, DriftBook
from marginengine.engine.family_state import drift_margin as family_drift_margin
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import parse_units
from marginengine.margin import MarginKind
from marginengine.margin import drift as drift_margin
from marginengine.sim.families.common import (
    FamilyModel,
    FamilyReport,
    FamilyStep,
    fmt_units,
    id_problems,
    parse_amount,
    parse_fraction,
    parse_signed,
    raise_problems,
)


class DriftSpotSpec(FamilyModel):
    """A Drift spot market: decimals, price, weights (fractions), IMF factor."""

    decimals: int = Field(ge=0, le=19, strict=True)
    price: HumanNumber
    initial_asset_weight: HumanNumber
    maintenance_asset_weight: HumanNumber
    initial_liability_weight: HumanNumber
    maintenance_liability_weight: HumanNumber
    imf_factor: HumanNumber = 0


class DriftPerpSpec(FamilyModel):
    """A Drift perp market: price, margin ratios, IMF factor, unrealized-PnL weights."""

    price: HumanNumber
    margin_ratio_initial: HumanNumber
    margin_ratio_maintenance: HumanNumber
    imf_factor: HumanNumber = 0
    unrealized_pnl_initial_asset_weight: HumanNumber = 0
    unrealized_pnl_maintenance_asset_weight: HumanNumber = 1
    unrealized_pnl_imf_factor: HumanNumber = 0


class DriftPerpPosition(FamilyModel):
    """A perp position: signed base and signed quote (entry cost)."""

    base: HumanNumber
    quote: HumanNumber


class DriftAccountSpec(FamilyModel):
    """A cross-margin account: signed spot balances and perp positions."""

    id: str
    spot: dict[str, HumanNumber] = Field(default_factory=dict)
    perps: dict[str, DriftPerpPosition] = Field(default_factory=dict)


class DriftStep(FamilyStep):
    """A step: new oracle prices."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)


class DriftScenario(FamilyModel):
    """A Drift v2 cross-margin scenario (margin figures; the keeper does not liquidate)."""

    name: str
    description: str = ""
    family: str
    spot: dict[str, DriftSpotSpec] = Field(min_length=1)
    perps: dict[str, DriftPerpSpec] = Field(default_factory=dict)
    accounts: list[DriftAccountSpec] = Field(min_length=1)
    steps: list[DriftStep] = Field(min_length=1)


def run_drift(sc: DriftScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    """Run a Drift v2 scenario through the engine (preset ``drift-v2``, Drift events).

    Prices have at most 6 decimals (Drift's ``PRICE_PRECISION``); the first spot market is
    the quote. Each account is built by deposits, perp fills, then borrows, each meeting
    its initial requirement (else the file is refused with Drift's error).
    """
    problems: list[str] = []
    price_dec = 6      # PRICE_PRECISION

    def frac(raw: object, where: str, decimals: int = 4) -> int:
        return parse_fraction(raw, decimals, where, problems, below_one=False, allow_zero=True)

    spots: dict[str, drift_margin.SpotMarket] = {}
    prices: dict[str, int] = {}
    for name, sp in sc.spot.items():
        w = {k: frac(getattr(sp, k), f"spot.{name}.{k}") for k in (
            "initial_asset_weight", "maintenance_asset_weight", "initial_liability_weight",
            "maintenance_liability_weight")}
        for k in ("initial_liability_weight", "maintenance_liability_weight"):
            try:   # a liability weight is at least 1 (Drift's validate_margin_weights)
                if parse_units(getattr(sp, k), 4) < 10_000:
                    problems.append(f"spot.{name}.{k}: must be at least 1")
            except ValueError:
                pass
        imf = parse_fraction(sp.imf_factor, 6, f"spot.{name}.imf_factor", problems,
                        below_one=False, allow_zero=True)
        if not problems:
            spots[name] = drift_margin.SpotMarket(decimals=sp.decimals, imf_factor=imf, **w)
        prices[name] = parse_amount(sp.price, price_dec, f"spot.{name}.price", problems)
    perps: dict[str, drift_margin.PerpMarketMargin] = {}
    for name, pm in sc.perps.items():
        if name in sc.spot:
            problems.append(f"perps.{name}: the name is also a spot market's")
        weights = drift_margin.PerpPnlWeights(
            frac(pm.unrealized_pnl_initial_asset_weight,
                 f"perps.{name}.unrealized_pnl_initial_asset_weight"),
            frac(pm.unrealized_pnl_maintenance_asset_weight,
                 f"perps.{name}.unrealized_pnl_maintenance_asset_weight"),
            parse_fraction(pm.unrealized_pnl_imf_factor, 6,
                           f"perps.{name}.unrealized_pnl_imf_factor", problems,
                           below_one=False, allow_zero=True))
        perps[name] = drift_margin.PerpMarketMargin(
            frac(pm.margin_ratio_initial, f"perps.{name}.margin_ratio_initial"),
            frac(pm.margin_ratio_maintenance, f"perps.{name}.margin_ratio_maintenance"),
            parse_fraction(pm.imf_factor, 6, f"perps.{name}.imf_factor", problems, below_one=False,
                      allow_zero=True), weights)
        prices[name] = parse_amount(pm.price, price_dec, f"perps.{name}.price", problems)
    id_problems("accounts", [acct.id for acct in sc.accounts], problems)
    accounts = []
    for i, acct in enumerate(sc.accounts):
        bal = {}
        for name, raw in acct.spot.items():
            if name not in sc.spot:
                problems.append(f"{field_path('accounts', i, 'spot', name)}: unknown spot market")
                continue
            bal[name] = parse_signed(raw, sc.spot[name].decimals,
                                     field_path("accounts", i, "spot", name), problems)
        pos = {}
        for name, p in acct.perps.items():
            if name not in sc.perps:
                problems.append(f"{field_path('accounts', i, 'perps', name)}: unknown perp market")
                continue
            at = field_path("accounts", i, "perps", name)
            pos[name] = (parse_signed(p.base, 9, field_path(at, "base"), problems),
                         parse_signed(p.quote, 6, field_path(at, "quote"),
                                      problems))
        accounts.append((acct.id, bal, pos))
    steps = []
    for i, st in enumerate(sc.steps):
        new = {}
        for name, raw in st.prices.items():
            if name not in prices:
                problems.append(f"{field_path('steps', i, 'prices', name)}: unknown market")
                continue
            new[name] = parse_amount(raw, price_dec, field_path("steps", i, "prices", name),
                                     problems)
        steps.append((st, new))
    raise_problems(problems, source)

    def fraction(value: int, decimals: int = 4) -> str:
        return str(Decimal(value) / 10**decimals)

    data = {
        "preset": "drift-v2",
        "markets": {**{n: {"decimals": sp.decimals, "collateral": False, "borrowable": False}
                       for n, sp in sc.spot.items()},
                    **{n: {"decimals": 9, "collateral": False, "borrowable": False}
                       for n in sc.perps}},
        "drift": {
            "quote": next(iter(sc.spot)),
            "spot": {n: {"initial_asset_weight": fraction(m.initial_asset_weight),
                         "maintenance_asset_weight": fraction(m.maintenance_asset_weight),
                         "initial_liability_weight": fraction(m.initial_liability_weight),
                         "maintenance_liability_weight":
                             fraction(m.maintenance_liability_weight),
                         "imf_factor": fraction(m.imf_factor, 6)}
                     for n, m in spots.items()},
            "perps": {n: {"margin_ratio_initial": fraction(m.margin_ratio_initial),
                          "margin_ratio_maintenance": fraction(m.margin_ratio_maintenance),
                          "imf_factor": fraction(m.imf_factor, 6),
                          "unrealized_pnl_initial_asset_weight":
                              fraction(m.pnl.unrealized_pnl_initial_asset_weight),
                          "unrealized_pnl_maintenance_asset_weight":
                              fraction(m.pnl.unrealized_pnl_maintenance_asset_weight),
                          "unrealized_pnl_imf_factor":
                              fraction(m.pnl.unrealized_pnl_imf_factor, 6)}
                      for n, m in perps.items()}}}
    try:
        config = protocol_from_dict(data, source=source)
    except ConfigError as exc:
        raise ConfigError([f"spot: {p}" for p in exc.problems], source=source) from None
    engine = Engine(config)
    for name, price in prices.items():
        _applied(engine, SetPrice(name, price * DRIFT_PRICE_SCALE), f"{name}.price", source)
    for i, (aid, bal, pos) in enumerate(accounts):
        where = field_path("accounts", i)
        for name, amount in bal.items():
            if amount > 0:
                _applied(engine, DriftDeposit(aid, name, amount), f"{where}.spot.{name}",
                         source)
        for name, (base, quote) in pos.items():
            if base or quote:
                _applied(engine, DriftPerpTrade(aid, name, base, quote),
                         f"{where}.perps.{name}", source)
        for name, amount in bal.items():
            if amount < 0:
                _applied(engine, DriftWithdraw(aid, name, -amount), f"{where}.spot.{name}",
                         source)

    report = FamilyReport(sc.name, rules.preset, rules.source)
    kinds = (drift_margin.MarginRequirementType.INITIAL,
             drift_margin.MarginRequirementType.MAINTENANCE)
    for index, (st, new) in enumerate(steps):
        for name, price in new.items():
            _applied(engine, SetPrice(name, price * DRIFT_PRICE_SCALE),
                     field_path("steps", index, "prices", name), source)
        book = engine.state.family
        assert isinstance(book, DriftBook)
        rows = {}
        for aid, _, _ in accounts:
            init, maint = (family_drift_margin(config, book, engine.prices, aid, k)
                           for k in kinds)
            rows[aid] = {
                "initial": {"total_collateral": fmt_units(init.total_collateral, 6),
                            "margin_requirement": fmt_units(init.margin_requirement, 6)},
                "maintenance": {"total_collateral": fmt_units(maint.total_collateral, 6),
                                "margin_requirement": fmt_units(maint.margin_requirement, 6)},
                "free_collateral": fmt_units(init.free_collateral, 6),
                "liquidatable": engine.is_liquidatable(aid),
                "can_open_positions": engine.margin_state(aid, MarginKind.INITIAL).is_met}
        report.steps.append({"step": index, "label": st.label, "liquidations": [],
                             "margin": rows})
    report.summary = {"accounts": len(accounts),
                      "liquidatable_at_end": sorted(a for a, r in
                                                    report.steps[-1]["margin"].items()
                                                    if r["liquidatable"]),
                      "engine_events": engine.seq, "state_hash": engine.state_hash()}
    return report


def _applied(engine: Engine, event: Event, where: str, source: str | None) -> dict[str, Any]:
    out = engine.apply(event)
    if not out.accepted:
        raise ConfigError([f"{where}: refused by the protocol's rules: {out.reason} "
                           f"({out.code})"], source=source)
    return dict(out.details)


__all__ = [
    "DriftAccountSpec",
    "DriftPerpPosition",
    "DriftPerpSpec",
    "DriftScenario",
    "DriftSpotSpec",
    "DriftStep",
    "run_drift",
]
