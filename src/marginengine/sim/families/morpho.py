"""Morpho Blue family scenarios: one market, its suppliers and borrowers, a keeper.

Each step accrues interest (``wTaylorCompounded`` at the IRM rate given), moves the oracle
price, then liquidates every unhealthy borrower: all its borrow shares, or all its
collateral when that is worth less (then the rest is bad debt, realized across the
suppliers). Rules: ``margin/morpho.py``, ``liquidation/morpho.py``.
"""

from __future__ import annotations

from pydantic import Field

from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules
from marginengine.decisions import Code, Refusal
from marginengine.liquidation import morpho as morpho_liq
from marginengine.margin import morpho as morpho_margin
from marginengine.sim.families.common import (
    SECONDS_PER_YEAR,
    FamilyModel,
    FamilyReport,
    FamilyStep,
    fmt_ratio,
    fmt_units,
    parse_amount,
    parse_duration_field,
    parse_fraction,
    raise_problems,
    refused_error,
)


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
    """A step: time, price, rate, then liquidations."""

    price: HumanNumber | None = None
    borrow_rate: HumanNumber | None = None


class MorphoScenario(FamilyModel):
    """A Morpho Blue scenario."""

    name: str
    description: str = ""
    family: str
    market: MorphoMarketSpec
    suppliers: list[MorphoSupplier] = Field(min_length=1)
    borrowers: list[MorphoBorrower] = Field(default_factory=list)
    steps: list[MorphoStep] = Field(min_length=1)


def run_morpho(sc: MorphoScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    problems: list[str] = []
    loan, coll = sc.market.loan, sc.market.collateral
    price_decimals = 36 + loan.decimals - coll.decimals
    if price_decimals < 0:
        problems.append("market.collateral.decimals: more than 36 above the loan token's")
    lltv = parse_fraction(sc.market.lltv, 18, "market.lltv", problems)
    fee = parse_fraction(sc.market.fee, 18, "market.fee", problems, allow_zero=True)
    if fee > morpho_margin.MAX_FEE:
        problems.append("market.fee: at most 0.25 (Morpho's MAX_FEE)")
    price = parse_amount(sc.market.price, max(price_decimals, 0), "market.price", problems)
    rate = parse_fraction(sc.market.borrow_rate, 18, "market.borrow_rate", problems,
                     below_one=False, allow_zero=True) // SECONDS_PER_YEAR
    suppliers = {s.id: parse_amount(s.assets, loan.decimals, f"suppliers[{i}].assets",
                                    problems)
                 for i, s in enumerate(sc.suppliers)}
    borrowers = [(b.id, parse_amount(b.collateral, coll.decimals, f"borrowers[{i}].collateral",
                                problems),
                  parse_amount(b.borrow, loan.decimals, f"borrowers[{i}].borrow", problems))
                 for i, b in enumerate(sc.borrowers)]
    steps = []
    for i, st in enumerate(sc.steps):
        p = None if st.price is None else parse_amount(st.price, max(price_decimals, 0),
                                                  f"steps[{i}].price", problems)
        r = None if st.borrow_rate is None else parse_fraction(
            st.borrow_rate, 18, f"steps[{i}].borrow_rate", problems, below_one=False,
            allow_zero=True) // SECONDS_PER_YEAR
        steps.append((st, p, r, parse_duration_field(st.advance, f"steps[{i}].advance",
                                                     problems)))
    raise_problems(problems, source)

    params = morpho_margin.MarketParams(lltv=lltv)
    market = morpho_margin.Market(fee=fee)
    positions: dict[str, morpho_margin.Position] = {}
    for i, (sid, assets) in enumerate(suppliers.items()):
        moved = morpho_margin.supply(market, positions.get(sid, morpho_margin.Position()),
                                     assets=assets)
        if isinstance(moved, Refusal):
            raise refused_error(moved, f"suppliers[{i}]", source)
        market, positions[sid] = moved.market, moved.position
    for i, (bid, collateral, amount) in enumerate(borrowers):
        pos = morpho_margin.supply_collateral(positions.get(bid, morpho_margin.Position()),
                                              collateral)
        if isinstance(pos, Refusal):
            raise refused_error(pos, f"borrowers[{i}].collateral", source)
        moved = morpho_margin.borrow(market, pos, price, params, assets=amount)
        if isinstance(moved, Refusal):
            raise refused_error(moved, f"borrowers[{i}].borrow", source)
        market, positions[bid] = moved.market, moved.position

    report = FamilyReport(sc.name, rules.preset, rules.source)
    now, total_bad = 0, 0
    for label_index, (st, p, r, advance) in enumerate(steps):
        price = p if p is not None else price
        rate = r if r is not None else rate
        now += advance
        acc = morpho_margin.accrue_interest(market, rate, now)
        market = acc.market
        liquidations = []
        if st.liquidate:
            for bid, _, _ in borrowers:
                pos = positions[bid]
                if morpho_margin.is_healthy(pos, market, price, params):
                    continue
                # The keeper repays everything, or seizes all collateral if that is less.
                result = morpho_liq.liquidate(market, pos, price, params,
                                              repaid_shares=pos.borrow_shares)
                if isinstance(result, Refusal) and result.code is Code.ASSETS_EXCEED_BALANCE:
                    result = morpho_liq.liquidate(market, pos, price, params,
                                                  seized_assets=pos.collateral)
                if isinstance(result, Refusal):
                    continue
                market, positions[bid] = result.market, result.position
                total_bad += result.bad_debt_assets
                liquidations.append({
                    "borrower": bid,
                    "repaid": fmt_units(result.repaid_assets, loan.decimals),
                    "seized": fmt_units(result.seized_assets, coll.decimals),
                    "bad_debt": fmt_units(result.bad_debt_assets, loan.decimals),
                    "incentive_factor": fmt_ratio(result.incentive_factor)})
        report.steps.append({
            "step": label_index, "label": st.label, "time": now,
            "price": fmt_units(price, max(price_decimals, 0)),
            "interest": fmt_units(acc.interest, loan.decimals),
            "liquidations": liquidations,
            "borrowers": {bid: {
                "collateral": fmt_units(positions[bid].collateral, coll.decimals),
                "debt": fmt_units(morpho_margin.borrowed_assets(positions[bid], market),
                             loan.decimals),
                "health": fmt_ratio(morpho_margin.health_factor(positions[bid], market, price,
                                                             params))}
                for bid, _, _ in borrowers},
            "suppliers": {sid: fmt_units(morpho_margin.supplied_assets(positions[sid], market),
                                    loan.decimals) for sid in suppliers},
            "total_supply": fmt_units(market.total_supply_assets, loan.decimals),
            "total_borrow": fmt_units(market.total_borrow_assets, loan.decimals)})
    report.summary = {"bad_debt_realized": fmt_units(total_bad, loan.decimals),
                      "liquidation_incentive_factor":
                          fmt_ratio(morpho_liq.liquidation_incentive_factor(lltv)),
                      "total_supply": fmt_units(market.total_supply_assets, loan.decimals),
                      "total_borrow": fmt_units(market.total_borrow_assets, loan.decimals)}
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
