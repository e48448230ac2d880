"""Mango v4 family scenarios: banks, perp markets, accounts; init, maint, liquidation-end
health at every step (Mango's liquidation itself is not modelled). Rules: ``margin/mango.py``.
"""

from __future__ import annotations

from pydantic import Field

from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules
from marginengine.fixedpoint import format_units, parse_units
from marginengine.margin import mango as mango_margin
from marginengine.sim.families.common import (
    FamilyModel,
    FamilyReport,
    FamilyStep,
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


def _fx_price(raw: object, scale: int, where: str, problems: list[str]) -> int:
    # A USD price per whole token as Mango's native/native I80F48 (rounded to nearest).
    try:
        units = parse_units(raw, 18)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0
    if units <= 0:
        problems.append(f"{where}: must be positive (got {raw!r})")
        return 0
    num, den = units * mango_margin.ONE, 10**18
    num, den = (num * 10**scale, den) if scale >= 0 else (num, den * 10**-scale)
    return (2 * num + den) // (2 * den)


def _fx_weight(raw: object, where: str, problems: list[str]) -> int:
    try:
        units = parse_units(raw, 18)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0
    if units < 0:
        problems.append(f"{where}: must be non-negative (got {raw!r})")
    return mango_margin.fx_from_f64(units / 10**18)


def run_mango(sc: MangoScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    problems: list[str] = []
    if sc.quote not in sc.tokens:
        problems.append(f"quote: {sc.quote!r} is not among the tokens")
    qdec = sc.tokens[sc.quote].decimals if sc.quote in sc.tokens else 6
    oracle: dict[str, int] = {}
    stable: dict[str, int] = {}
    decimals: dict[str, int] = {}
    for name, t in sc.tokens.items():
        decimals[name] = t.decimals
        oracle[name] = _fx_price(t.price, qdec - t.decimals, f"tokens.{name}.price", problems)
        stable[name] = oracle[name] if t.stable_price is None else _fx_price(
            t.stable_price, qdec - t.decimals, f"tokens.{name}.stable_price", problems)
    for name, pm in sc.perps.items():
        if pm.settle not in sc.tokens:
            problems.append(f"perps.{name}.settle: unknown token {pm.settle!r}")
        if name in decimals:
            problems.append(f"perps.{name}: the name is also a token's")
        decimals[name] = pm.decimals
        oracle[name] = _fx_price(pm.price, qdec - pm.decimals, f"perps.{name}.price", problems)
        stable[name] = oracle[name] if pm.stable_price is None else _fx_price(
            pm.stable_price, qdec - pm.decimals, f"perps.{name}.stable_price", problems)
    weights = {name: {w: _fx_weight(getattr(t, w), f"tokens.{name}.{w}", problems)
                      for w in ("init_asset_weight", "maint_asset_weight", "init_liab_weight",
                                "maint_liab_weight")} for name, t in sc.tokens.items()}
    perp_weights = {name: {w: _fx_weight(getattr(pm, w), f"perps.{name}.{w}", problems)
                           for w in ("init_base_asset_weight", "init_base_liab_weight",
                                     "maint_base_asset_weight", "maint_base_liab_weight",
                                     "init_overall_asset_weight",
                                     "maint_overall_asset_weight")}
                    for name, pm in sc.perps.items()}
    accounts = []
    for i, acct in enumerate(sc.accounts):
        toks = {}
        for name, raw in acct.tokens.items():
            if name not in sc.tokens:
                problems.append(f"accounts[{i}].tokens.{name}: unknown token")
                continue
            toks[name] = parse_signed(raw, sc.tokens[name].decimals, f"accounts[{i}].tokens.{name}",
                                 problems)
        perps = {}
        for name, pos in acct.perps.items():
            if name not in sc.perps:
                problems.append(f"accounts[{i}].perps.{name}: unknown perp market")
                continue
            settle = sc.perps[name].settle
            perps[name] = (pos, parse_signed(pos.quote, sc.tokens[settle].decimals
                                        if settle in sc.tokens else 0,
                                        f"accounts[{i}].perps.{name}.quote", problems))
        accounts.append((acct.id, toks, perps))
    steps = []
    for i, st in enumerate(sc.steps):
        changes: dict[str, tuple[int | None, int | None]] = {}
        for name in {*st.prices, *st.stable_prices}:
            if name not in decimals:
                problems.append(f"steps[{i}]: unknown token or perp {name!r}")
                continue
            scale = qdec - decimals[name]
            o = None if name not in st.prices else _fx_price(
                st.prices[name], scale, f"steps[{i}].prices.{name}", problems)
            s = None if name not in st.stable_prices else _fx_price(
                st.stable_prices[name], scale, f"steps[{i}].stable_prices.{name}", problems)
            changes[name] = (o, s)
        steps.append((st, changes))
    raise_problems(problems, source)

    def start(raw: HumanNumber | None) -> float:
        # Mango holds the limits as f64 in native quote units.
        return mango_margin.NO_SCALING if raw is None else float(parse_units(raw, qdec))

    report = FamilyReport(sc.name, rules.preset, rules.source)
    for index, (st, changes) in enumerate(steps):
        for name, (o, s) in changes.items():
            if o is not None:
                oracle[name] = o       # the stable price lags: it moves only when given
            if s is not None:
                stable[name] = s
        rows = {}
        for aid, toks, perps in accounts:
            infos: list[mango_margin.TokenInfo] = []
            for name, t in sc.tokens.items():
                w = weights[name]
                deposits = mango_margin.fx(parse_units(t.deposits, t.decimals))
                borrows = mango_margin.fx(parse_units(t.borrows, t.decimals))
                infos.append(mango_margin.TokenInfo(
                    token_index=len(infos), prices=mango_margin.Prices(oracle[name],
                                                                      stable[name]),
                    maint_asset_weight=w["maint_asset_weight"],
                    init_asset_weight=w["init_asset_weight"],
                    init_scaled_asset_weight=mango_margin.scaled_init_asset_weight(
                        w["init_asset_weight"], start(t.deposit_weight_scale_start_quote),
                        deposits, 0, oracle[name]),
                    maint_liab_weight=w["maint_liab_weight"],
                    init_liab_weight=w["init_liab_weight"],
                    init_scaled_liab_weight=mango_margin.scaled_init_liab_weight(
                        w["init_liab_weight"], start(t.borrow_weight_scale_start_quote),
                        borrows, oracle[name]),
                    balance_spot=mango_margin.fx(toks.get(name, 0))))
            index_of = {name: i for i, name in enumerate(sc.tokens)}
            perp_infos = []
            for name, (pos, quote) in perps.items():
                pm, pw = sc.perps[name], perp_weights[name]
                perp_infos.append(mango_margin.PerpInfo(
                    settle_token_index=index_of[pm.settle], base_lot_size=pm.base_lot_size,
                    base_lots=pos.base_lots, bids_base_lots=pos.bids,
                    asks_base_lots=pos.asks, quote=mango_margin.fx(quote),
                    base_prices=mango_margin.Prices(oracle[name], stable[name]), **pw))
            figures = {kind.value: mango_margin.health(infos, perp_infos, kind)
                       for kind in mango_margin.HealthType}
            # health in USD, floored to the micro-dollar for display
            rows[aid] = {**{k: format_units(v * 10**6 // (mango_margin.ONE * 10**qdec), 6)
                            for k, v in figures.items()},
                         "liquidatable": figures["maint"] < 0,
                         "can_open_positions": figures["init"] >= 0}
        report.steps.append({"step": index, "label": st.label, "liquidations": [],
                             "accounts": rows})
    report.summary = {"accounts": len(accounts),
                      "liquidatable_at_end": sorted(a for a, r in
                                                    report.steps[-1]["accounts"].items()
                                                    if r["liquidatable"])}
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
