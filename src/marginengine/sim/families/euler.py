"""Euler v2 family scenarios, run through the engine: one borrowed vault, collaterals
with LTVs, borrowers.

The scenario becomes a ``euler-v2`` protocol and Euler events (``EulerDeposit``,
``EulerBorrow``, ``EulerSetLTV``, ``EulerLiquidate``) applied by the engine core. Borrows
pass the account status check; each step moves time and prices, applies governance
``setLTV`` changes (with their ramps), then liquidates every violator collateral by
collateral at the most allowed, socializing what is left when nothing is.
Rules: ``margin/euler.py``, ``liquidation/euler.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules
from marginengine.decisions import Refusal
from marginengine.engine import (
    AdvanceTime,
    Engine,
    EulerBorrow,
    EulerDeposit,
    EulerDepositCollateral,
    EulerLiquidate,
    EulerSetLTV,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import EulerBook
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.margin import NO_DEBT_HEALTH, MarginKind
from marginengine.margin import euler as euler_margin
from marginengine.margin.euler import CONFIG_SCALE
from marginengine.sim.families.common import (
    FamilyModel,
    FamilyReport,
    FamilyStep,
    fmt_ratio,
    fmt_units,
    id_problems,
    parse_amount,
    parse_duration_field,
    parse_fraction,
    raise_problems,
)

#: The vault's depositors (the scenario's ``cash``) and the liquidator, as engine accounts.
DEPOSITORS = "depositors"
KEEPER = "keeper"


class EulerCollateralSpec(FamilyModel):
    """A collateral of the vault: decimals, price (USD), borrow and liquidation LTV."""

    decimals: int = Field(ge=0, le=36, strict=True)
    price: HumanNumber
    borrow_ltv: HumanNumber
    liquidation_ltv: HumanNumber


class EulerVaultSpec(FamilyModel):
    """The borrowed vault: its asset, price, cash deposited, liquidation settings."""

    asset: str
    decimals: int = Field(ge=0, le=36, strict=True)
    price: HumanNumber
    cash: HumanNumber
    max_liquidation_discount: HumanNumber = "0.15"
    socialize_debt: bool = True


class EulerBorrower(FamilyModel):
    """A borrower: collateral balances, then assets borrowed."""

    id: str
    collateral: dict[str, HumanNumber] = Field(min_length=1)
    borrow: HumanNumber


class EulerLtvChange(FamilyModel):
    """A governance ``setLTV``."""

    borrow_ltv: HumanNumber
    liquidation_ltv: HumanNumber
    ramp: str | int = 0


class EulerStep(FamilyStep):
    """A step: time, prices, LTV changes, then liquidations."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)
    set_ltv: dict[str, EulerLtvChange] = Field(default_factory=dict)


class EulerScenario(FamilyModel):
    """An Euler v2 scenario."""

    name: str
    description: str = ""
    family: str
    vault: EulerVaultSpec
    collaterals: dict[str, EulerCollateralSpec] = Field(min_length=1)
    borrowers: list[EulerBorrower] = Field(min_length=1)
    steps: list[EulerStep] = Field(min_length=1)


def _engine_config(sc: EulerScenario, ltvs: dict[str, tuple[int, int]], max_disc: int,
                   source: str | None) -> ProtocolConfig:
    # The scenario's vault as a euler-v2 protocol: the assets listed for their decimals and
    # prices (no pooled reserve), the LTVs in Euler's 1e4, no interest (the vault's IRM is
    # not modelled).
    v = sc.vault
    markets = {v.asset: {"decimals": v.decimals, "collateral": False, "borrowable": False}}
    for name, c in sc.collaterals.items():
        markets[name] = {"decimals": c.decimals, "collateral": False, "borrowable": False}
    data = {"preset": "euler-v2", "markets": markets,
            "euler": {"vault": v.asset, "socialize_debt": v.socialize_debt,
                      "max_liquidation_discount": str(Decimal(max_disc) / CONFIG_SCALE),
                      "collaterals": {n: {"borrow_ltv": str(Decimal(b) / CONFIG_SCALE),
                                          "liquidation_ltv": str(Decimal(lq) / CONFIG_SCALE)}
                                      for n, (b, lq) in ltvs.items()}}}
    try:
        return protocol_from_dict(data, source=source)
    except ConfigError as exc:
        raise ConfigError([f"vault: {p}" for p in exc.problems], source=source) from None


def _applied(engine: Engine, event: Event, where: str, source: str | None) -> dict[str, Any]:
    out = engine.apply(event)
    if not out.accepted:
        raise ConfigError([f"{where}: refused by the protocol's rules: {out.reason} "
                           f"({out.code})"], source=source)
    return dict(out.details)


def _health(value: int) -> str | None:
    return fmt_ratio(None if value == NO_DEBT_HEALTH else value)


def run_euler(sc: EulerScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    """Run an Euler v2 scenario through the engine (preset ``euler-v2``, Euler events).

    Prices are USD per whole token with at most 8 decimals (the engine's prices); the
    engine's clock starts at 1 (a zero target timestamp would mean "not a recognized
    collateral"). The keeper liquidates every violator (the one margin interface's
    ``is_liquidatable``, Euler's own test) collateral by collateral at the most allowed and
    repays the debt it takes over in the same batch.
    """
    problems: list[str] = []
    v = sc.vault
    debt_price = parse_amount(v.price, PRICE_DECIMALS, "vault.price", problems)
    cash = parse_amount(v.cash, v.decimals, "vault.cash", problems)
    max_disc = parse_fraction(v.max_liquidation_discount, 4, "vault.max_liquidation_discount",
                              problems, allow_zero=True)
    prices: dict[str, int] = {}
    ltvs: dict[str, tuple[int, int]] = {}
    for name, c in sc.collaterals.items():
        prices[name] = parse_amount(c.price, PRICE_DECIMALS, f"collaterals.{name}.price",
                                    problems)
        b = parse_fraction(c.borrow_ltv, 4, f"collaterals.{name}.borrow_ltv", problems,
                           below_one=False)
        liq = parse_fraction(c.liquidation_ltv, 4, f"collaterals.{name}.liquidation_ltv",
                             problems, below_one=False)
        if not problems:
            cfg = euler_margin.set_ltv(euler_margin.LTVConfig(), b, liq, 0, 1)
            if isinstance(cfg, Refusal):
                problems.append(f"collaterals.{name}: {cfg.message} ({cfg.code.value})")
            else:
                ltvs[name] = (b, liq)
    id_problems("borrowers", [bw.id for bw in sc.borrowers], problems,
                {KEEPER: "the scenario's liquidator",
                 DEPOSITORS: "the vault's depositors (vault.cash)"})
    borrowers = []
    for i, bw in enumerate(sc.borrowers):
        balances = {}
        for name, raw in bw.collateral.items():
            if name not in sc.collaterals:
                problems.append(f"{field_path('borrowers', i, 'collateral', name)}: unknown "
                                f"collateral (collaterals: {', '.join(sorted(sc.collaterals))})")
                continue
            balances[name] = parse_amount(raw, sc.collaterals[name].decimals,
                                          field_path("borrowers", i, "collateral", name), problems)
        borrowers.append((bw.id, balances, parse_amount(bw.borrow, v.decimals,
                                                        field_path("borrowers", i, "borrow"),
                                                        problems)))
    steps = []
    for i, st in enumerate(sc.steps):
        new_prices = {}
        for name, raw in st.prices.items():
            if name == v.asset or name in sc.collaterals:
                new_prices[name] = parse_amount(raw, PRICE_DECIMALS,
                                                field_path("steps", i, "prices", name), problems)
            else:
                problems.append(f"{field_path('steps', i, 'prices', name)}: unknown asset")
        changes = {}
        for name, ch in st.set_ltv.items():
            at = field_path("steps", i, "set_ltv", name)
            if name not in sc.collaterals:
                problems.append(f"{at}: unknown collateral")
                continue
            changes[name] = (
                parse_fraction(ch.borrow_ltv, 4, field_path(at, "borrow_ltv"),
                               problems, below_one=False, allow_zero=True),
                parse_fraction(ch.liquidation_ltv, 4,
                               field_path(at, "liquidation_ltv"), problems,
                               below_one=False, allow_zero=True),
                parse_duration_field(ch.ramp, field_path(at, "ramp"), problems))
        advance = parse_duration_field(st.advance, field_path("steps", i, "advance"), problems)
        steps.append((st, new_prices, changes, advance))
    raise_problems(problems, source)

    engine = Engine(_engine_config(sc, ltvs, max_disc, source))
    _applied(engine, AdvanceTime(1), "steps", source)
    _applied(engine, SetPrice(v.asset, debt_price), "vault.price", source)
    for name in sc.collaterals:
        _applied(engine, SetPrice(name, prices[name]), f"collaterals.{name}.price", source)
    _applied(engine, EulerDeposit(DEPOSITORS, cash), "vault.cash", source)
    for i, (bid, bal, amount) in enumerate(borrowers):
        for name, amt in bal.items():
            _applied(engine, EulerDepositCollateral(bid, name, amt),
                     field_path("borrowers", i, "collateral", name), source)
        _applied(engine, EulerBorrow(bid, amount), field_path("borrowers", i, "borrow"), source)

    def book() -> EulerBook:
        b = engine.state.family
        assert isinstance(b, EulerBook)
        return b

    report = FamilyReport(sc.name, rules.preset, rules.source)
    total_social = 0
    for index, (st, new_prices, changes, advance) in enumerate(steps):
        where = field_path("steps", index)
        if advance:
            _applied(engine, AdvanceTime(advance), f"{where}.advance", source)
        for name, value in new_prices.items():
            _applied(engine, SetPrice(name, value), f"{where}.prices.{name}", source)
        for name, (b, liq, ramp) in changes.items():
            _applied(engine, EulerSetLTV(name, b, liq, ramp), f"{where}.set_ltv.{name}",
                     source)
        done: list[dict[str, Any]] = []
        if st.liquidate:
            for bid, bal, _ in borrowers:
                for name in bal:
                    if book().account(bid).debt == 0 or not engine.is_liquidatable(bid):
                        break
                    d = _applied(engine, EulerLiquidate(KEEPER, bid, name, repay=True),
                                 f"{where}.liquidate", source)
                    if d["repay"] == 0 and d["yield"] == 0:
                        continue
                    total_social += d["socialized"]
                    done.append({"borrower": bid, "collateral": name,
                                 "repay": fmt_units(d["repay"], v.decimals),
                                 "yield": fmt_units(d["yield"], sc.collaterals[name].decimals),
                                 "socialized": fmt_units(d["socialized"], v.decimals)})
        rows = {}
        for bid, _, _ in borrowers:
            held = book().account(bid)
            rows[bid] = {
                "debt": fmt_units(held.debt, v.decimals),
                "health_liquidation": _health(
                    engine.margin_state(bid, MarginKind.MAINTENANCE).health),
                "health_borrow": _health(engine.margin_state(bid, MarginKind.INITIAL).health),
                "collateral": {n: fmt_units(a, sc.collaterals[n].decimals)
                               for n, a in held.collateral.items()}}
        now = engine.state.ledger.time
        report.steps.append({
            "step": index, "label": st.label, "time": now,
            "liquidation_ltv": {n: c.get_ltv(now, True) for n, c in book().ltvs.items()},
            "borrow_ltv": {n: c.get_ltv(now, False) for n, c in book().ltvs.items()},
            "liquidations": done, "borrowers": rows,
            "share_value": fmt_units(book().vault.convert_to_assets(10**v.decimals),
                                     v.decimals)})
    vault = book().vault
    report.summary = {"socialized": fmt_units(total_social, v.decimals),
                      "total_borrows": fmt_units(vault.total_borrows, v.decimals),
                      "share_value": fmt_units(vault.convert_to_assets(10**v.decimals),
                                               v.decimals),
                      "engine_events": engine.seq, "state_hash": engine.state_hash()}
    return report


__all__ = [
    "EulerBorrower",
    "EulerCollateralSpec",
    "EulerLtvChange",
    "EulerScenario",
    "EulerStep",
    "EulerVaultSpec",
    "run_euler",
]
