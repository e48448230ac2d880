"""Morpho Blue family scenarios, run through the engine: one market, its suppliers and
borrowers, a keeper.

The scenario becomes a ``morpho-blue`` protocol and Morpho events (``MorphoSupply``,
``MorphoBorrow``, ...) applied by the engine core. Each step advances the clock, accrues
interest (``accrueInterest``: ``wTaylorCompounded`` at the market's rate), moves the
collateral's price, then liquidates every unhealthy borrower: all its borrow shares, or all
its collateral when that is worth less (then the rest is bad debt, realized across the
suppliers). Rules: ``margin/morpho.py``, ``liquidation/morpho.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Engine,
    Event,
    MorphoAccrueInterest,
    MorphoBorrow,
    MorphoLiquidate,
    MorphoSupply,
    MorphoSupplyCollateral,
    SetPrice,
)
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS, PRICE_UNIT
from marginengine.liquidation import morpho as morpho_liq
from marginengine.margin import morpho as morpho_margin
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

#: The market's name in the engine's protocol.
MARKET = "market"

class MorphoToken(FamilyModel):
    """One token of a Morpho market."""

    symbol: str
    decimals: int = Field(ge=0, le=36, strict=True)


class MorphoMarketSpec(FamilyModel):
    """``[market]``: tokens, LLTV, fee, price (loan tokens per collateral token)."""

    loan: MorphoToken
    collateral: MorphoToken
    lltv: HumanNumber
    fee: HumanNumber = 0
    price: HumanNumber
    borrow_rate: HumanNumber = 0


class MorphoSupplier(FamilyModel):
    """A supplier of the loan token."""

    id: str
    assets: HumanNumber


class MorphoBorrower(FamilyModel):
    """A borrower: collateral supplied, then loan assets borrowed."""

    id: str
    collateral: HumanNumber
    borrow: HumanNumber


class MorphoStep(FamilyStep):
    """A step: time, price, then liquidations."""

    price: HumanNumber | None = None


class MorphoScenario(FamilyModel):
    """A Morpho Blue scenario."""

    name: str
    description: str = ""
    family: str
    market: MorphoMarketSpec
    suppliers: list[MorphoSupplier] = Field(min_length=1)
    borrowers: list[MorphoBorrower] = Field(default_factory=list)
    steps: list[MorphoStep] = Field(min_length=1)


def _engine_config(sc: MorphoScenario, source: str | None) -> ProtocolConfig:
    # The scenario's market as a morpho-blue protocol: the two tokens listed for their
    # decimals and prices (no pooled reserve), one Morpho market named MARKET.
    m = sc.market
    data = {"preset": "morpho-blue",
            "markets": {m.loan.symbol: {"decimals": m.loan.decimals, "collateral": False,
                                        "borrowable": False},
                        m.collateral.symbol: {"decimals": m.collateral.decimals,
                                              "collateral": False, "borrowable": False}},
            "morpho": {MARKET: {"loan": m.loan.symbol, "collateral": m.collateral.symbol,
                                "lltv": str(m.lltv), "fee": str(m.fee),
                                "borrow_rate": str(m.borrow_rate)}}}
    try:
        return protocol_from_dict(data, source=source)
    except ConfigError as exc:
        raise ConfigError([f"market: {p}" for p in exc.problems], source=source) from None


def _applied(engine: Engine, event: Event, where: str, source: str | None) -> dict[str, Any]:
    out = engine.apply(event)
    if not out.accepted:
        raise ConfigError([f"{where}: refused by the protocol's rules: {out.reason} "
                           f"({out.code})"], source=source)
    return dict(out.details)


def run_morpho(sc: MorphoScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    """Run a Morpho Blue scenario through the engine (preset ``morpho-blue``, Morpho events).

    The loan token is priced at 1 USD and the collateral at the scenario's price (loan
    tokens per collateral token, at most 8 decimals: the engine's prices), so the engine's
    Morpho oracle price is the scenario's price scaled as Morpho's (x 1e36, in base units).
    """
    problems: list[str] = []
    loan, coll = sc.market.loan, sc.market.collateral
    if loan.symbol == coll.symbol:
        problems.append("market.collateral.symbol: must differ from the loan token's")
    lltv = parse_fraction(sc.market.lltv, 18, "market.lltv", problems)
    fee = parse_fraction(sc.market.fee, 18, "market.fee", problems, allow_zero=True)
    if fee > morpho_margin.MAX_FEE:
        problems.append("market.fee: at most 0.25 (Morpho's MAX_FEE)")
    parse_fraction(sc.market.borrow_rate, 18, "market.borrow_rate", problems,
                   below_one=False, allow_zero=True)
    price = parse_amount(sc.market.price, PRICE_DECIMALS, "market.price", problems)
    id_problems("suppliers", [s.id for s in sc.suppliers], problems)
    id_problems("borrowers", [b.id for b in sc.borrowers], problems)
    suppliers = {s.id: parse_amount(s.assets, loan.decimals, field_path("suppliers", i, "assets"),
                                    problems)
                 for i, s in enumerate(sc.suppliers)}
    borrowers = [(b.id, parse_amount(b.collateral, coll.decimals,
                                     field_path("borrowers", i, "collateral"), problems),
                  parse_amount(b.borrow, loan.decimals, field_path("borrowers", i, "borrow"),
                               problems))
                 for i, b in enumerate(sc.borrowers)]
    steps = []
    for i, st in enumerate(sc.steps):
        p = None if st.price is None else parse_amount(st.price, PRICE_DECIMALS,
                                                       field_path("steps", i, "price"), problems)
        steps.append((st, p, parse_duration_field(st.advance, field_path("steps", i, "advance"),
                                                  problems)))
    raise_problems(problems, source)

    engine = Engine(_engine_config(sc, source))
    _applied(engine, SetPrice(loan.symbol, PRICE_UNIT), "market.loan", source)
    _applied(engine, SetPrice(coll.symbol, price), "market.price", source)
    for i, (sid, assets) in enumerate(suppliers.items()):
        _applied(engine, MorphoSupply(sid, MARKET, assets=assets), field_path("suppliers", i),
                 source)
    for i, (bid, collateral, amount) in enumerate(borrowers):
        _applied(engine, MorphoSupplyCollateral(bid, MARKET, collateral),
                 field_path("borrowers", i, "collateral"), source)
        _applied(engine, MorphoBorrow(bid, MARKET, assets=amount),
                 field_path("borrowers", i, "borrow"),
                 source)

    params = morpho_margin.MarketParams(lltv=lltv)
    report = FamilyReport(sc.name, rules.preset, rules.source)
    total_bad = 0
    for label_index, (st, p, advance) in enumerate(steps):
        if advance:
            _applied(engine, AdvanceTime(advance), field_path("steps", label_index, "advance"),
                     source)
        accrued = _applied(engine, MorphoAccrueInterest(MARKET), field_path("steps", label_index),
                           source)
        if p is not None:
            price = p
            _applied(engine, SetPrice(coll.symbol, price),
                     field_path("steps", label_index, "price"), source)
        oracle = price * 10**loan.decimals * morpho_margin.ORACLE_PRICE_SCALE // (
            PRICE_UNIT * 10**coll.decimals)
        liquidations = []
        if st.liquidate:
            for bid, _, _ in borrowers:
                book = engine.state.morpho[MARKET]
                pos = book.position(bid)
                if morpho_margin.is_healthy(pos, book.market, oracle, params):
                    continue
                # The keeper repays everything, or seizes all collateral if that is less.
                out = engine.apply(MorphoLiquidate("keeper", bid, MARKET,
                                                   repaid_shares=pos.borrow_shares))
                if not out.accepted and out.code == Code.ASSETS_EXCEED_BALANCE:
                    out = engine.apply(MorphoLiquidate("keeper", bid, MARKET,
                                                       seized_assets=pos.collateral))
                if not out.accepted:
                    continue
                d = out.details
                total_bad += d["bad_debt_assets"]
                liquidations.append({
                    "borrower": bid,
                    "repaid": fmt_units(d["repaid_assets"], loan.decimals),
                    "seized": fmt_units(d["seized_assets"], coll.decimals),
                    "bad_debt": fmt_units(d["bad_debt_assets"], loan.decimals),
                    "incentive_factor": fmt_ratio(d["incentive_factor"])})
        book = engine.state.morpho[MARKET]
        market = book.market
        report.steps.append({
            "step": label_index, "label": st.label, "time": engine.state.ledger.time,
            "price": fmt_units(price, PRICE_DECIMALS),
            "interest": fmt_units(accrued.get("interest", 0), loan.decimals),
            "liquidations": liquidations,
            "borrowers": {bid: {
                "collateral": fmt_units(book.position(bid).collateral, coll.decimals),
                "debt": fmt_units(morpho_margin.borrowed_assets(book.position(bid), market),
                                  loan.decimals),
                "health": fmt_ratio(morpho_margin.health_factor(book.position(bid), market,
                                                                oracle, params))}
                for bid, _, _ in borrowers},
            "suppliers": {sid: fmt_units(morpho_margin.supplied_assets(book.position(sid),
                                                                       market),
                                         loan.decimals) for sid in suppliers},
            "total_supply": fmt_units(market.total_supply_assets, loan.decimals),
            "total_borrow": fmt_units(market.total_borrow_assets, loan.decimals)})
    market = engine.state.morpho[MARKET].market
    report.summary = {"bad_debt_realized": fmt_units(total_bad, loan.decimals),
                      "liquidation_incentive_factor":
                          fmt_ratio(morpho_liq.liquidation_incentive_factor(lltv)),
                      "total_supply": fmt_units(market.total_supply_assets, loan.decimals),
                      "total_borrow": fmt_units(market.total_borrow_assets, loan.decimals),
                      "engine_events": engine.seq, "state_hash": engine.state_hash()}
    return report

__all__ = [
    "MorphoBorrower",
    "MorphoMarketSpec",
    "MorphoScenario",
    "MorphoStep",
    "MorphoSupplier",
    "MorphoToken",
    "run_morpho",
]
