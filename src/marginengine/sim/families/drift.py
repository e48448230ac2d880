"""Drift v2 family scenarios: spot and perp markets, cross-margin accounts; initial and
maintenance margin at every step (Drift's liquidation is not modelled).
Rules: ``margin/drift.py``.
"""

from __future__ import annotations

from pydantic import Field

from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules
from marginengine.fixedpoint import parse_units
from marginengine.margin import drift as drift_margin
from marginengine.sim.families.common import (
    FamilyModel,
    FamilyReport,
    FamilyStep,
    fmt_units,
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
    """A Drift v2 cross-margin scenario (margin figures; liquidation is not modelled)."""

    name: str
    description: str = ""
    family: str
    spot: dict[str, DriftSpotSpec] = Field(min_length=1)
    perps: dict[str, DriftPerpSpec] = Field(default_factory=dict)
    accounts: list[DriftAccountSpec] = Field(min_length=1)
    steps: list[DriftStep] = Field(min_length=1)


def run_drift(sc: DriftScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
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
    accounts = []
    for i, acct in enumerate(sc.accounts):
        bal = {}
        for name, raw in acct.spot.items():
            if name not in sc.spot:
                problems.append(f"accounts[{i}].spot.{name}: unknown spot market")
                continue
            bal[name] = parse_signed(raw, sc.spot[name].decimals, f"accounts[{i}].spot.{name}",
                                problems)
        pos = {}
        for name, p in acct.perps.items():
            if name not in sc.perps:
                problems.append(f"accounts[{i}].perps.{name}: unknown perp market")
                continue
            pos[name] = (parse_signed(p.base, 9, f"accounts[{i}].perps.{name}.base", problems),
                         parse_signed(p.quote, 6, f"accounts[{i}].perps.{name}.quote", problems))
        accounts.append((acct.id, bal, pos))
    steps = []
    for i, st in enumerate(sc.steps):
        new = {}
        for name, raw in st.prices.items():
            if name not in prices:
                problems.append(f"steps[{i}].prices.{name}: unknown market")
                continue
            new[name] = parse_amount(raw, price_dec, f"steps[{i}].prices.{name}", problems)
        steps.append((st, new))
    raise_problems(problems, source)

    report = FamilyReport(sc.name, rules.preset, rules.source)
    kinds = (drift_margin.MarginRequirementType.INITIAL,
             drift_margin.MarginRequirementType.MAINTENANCE)
    for index, (st, new) in enumerate(steps):
        prices.update(new)
        rows = {}
        for aid, bal, pos in accounts:
            spot_balances = [drift_margin.SpotBalance(spots[n], amount, prices[n])
                             for n, amount in bal.items()]
            perp_balances = [drift_margin.PerpBalance(perps[n], base, quote, prices[n])
                             for n, (base, quote) in pos.items()]
            calcs = {k: drift_margin.margin_calculation(spot_balances, perp_balances, k)
                     for k in kinds}
            init, maint = calcs[kinds[0]], calcs[kinds[1]]
            rows[aid] = {
                "initial": {"total_collateral": fmt_units(init.total_collateral, 6),
                            "margin_requirement": fmt_units(init.margin_requirement, 6)},
                "maintenance": {"total_collateral": fmt_units(maint.total_collateral, 6),
                                "margin_requirement": fmt_units(maint.margin_requirement, 6)},
                "free_collateral": fmt_units(init.free_collateral, 6),
                "liquidatable": not maint.meets, "can_open_positions": init.meets}
        report.steps.append({"step": index, "label": st.label, "liquidations": [],
                             "margin": rows})
    report.summary = {"accounts": len(accounts),
                      "liquidatable_at_end": sorted(a for a, r in
                                                    report.steps[-1]["margin"].items()
                                                    if r["liquidatable"])}
    return report


__all__ = [
    "DriftAccountSpec",
    "DriftPerpPosition",
    "DriftPerpSpec",
    "DriftScenario",
    "DriftSpotSpec",
    "DriftStep",
    "run_drift",
]
