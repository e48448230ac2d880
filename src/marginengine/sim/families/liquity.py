"""Liquity v1 family scenarios, run through the engine: troves, stability-pool deposits,
``liquidateTroves``.

The scenario becomes a ``liquity-v1`` (or ``liquity-v1-2025``) protocol and Liquity events
applied by the engine core (``engine/liquity_handlers.py``): troves open through
``openTrove``'s checks in the order listed (``LiquityOpenTrove``), deposits through
``provideToSP``; each step sets the ETH price and liquidates every trove it may
(``LiquityLiquidateTroves``: offset, redistribution with the L terms, collateral surplus,
gas compensation, the stake snapshots). Rules: ``margin/liquity.py``,
``liquidation/liquity.py``, ``liquidation/liquity_system.py``.

:func:`run_liquity_rules` runs the same scenario over the pure rules alone, without the
engine (the reference the engine path is tested against).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules, StabilityPoolVariant
from marginengine.decisions import Refusal
from marginengine.engine import (
    Engine,
    LiquityLiquidateTroves,
    LiquityOpenTrove,
    LiquityProvideToSP,
    SetPrice,
)
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.liquidation import liquity as liquity_liq
from marginengine.liquidation.liquity_system import LiquitySystem
from marginengine.margin import liquity as liquity_margin
from marginengine.sim.families.common import (
    FamilyModel,
    FamilyReport,
    FamilyStep,
    fmt_ratio,
    fmt_units,
    id_problems,
    parse_amount,
    parse_fraction,
    raise_problems,
    refused_error,
)


class LiquityTroveSpec(FamilyModel):
    """A trove: ETH collateral and the LUSD drawn (fee and reserve are added)."""

    id: str
    coll: HumanNumber
    debt: HumanNumber


class LiquityDepositor(FamilyModel):
    """A stability-pool depositor."""

    id: str
    amount: HumanNumber


class LiquityStep(FamilyStep):
    """A step: the ETH price, then ``liquidateTroves`` over every trove."""

    price: HumanNumber | None = None


class LiquityScenario(FamilyModel):
    """A Liquity v1 scenario."""

    name: str
    description: str = ""
    family: str
    price: HumanNumber
    base_rate: HumanNumber = 0
    troves: list[LiquityTroveSpec] = Field(min_length=2)
    depositors: list[LiquityDepositor] = Field(default_factory=list)
    steps: list[LiquityStep] = Field(min_length=1)


@dataclass
class _Trove:
    coll: int
    debt: int
    stake: int
    snap_eth: int
    snap_debt: int


#: Liquity's 18-decimal prices from the engine's 8.
_PRICE_SCALE: int = 10 ** (18 - PRICE_DECIMALS)


def _engine_config(sc: LiquityScenario, rules: FamilyRules, source: str | None
                   ) -> ProtocolConfig:
    data = {"preset": rules.preset, "liquity": {"base_rate": str(sc.base_rate)}}
    try:
        return protocol_from_dict(data, source=source)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=source) from None


def _step_row(index: int, label: str, price: int, tcr_before: int, system: LiquitySystem,
              done: list[dict[str, Any]]) -> dict[str, Any]:
    e18 = 18
    tcr = system.tcr(price)
    pool = system.pool
    return {
        "step": index, "label": label, "price": fmt_units(price, e18),
        "tcr_before": fmt_ratio(tcr_before), "tcr": fmt_ratio(tcr),
        "recovery_mode": tcr < liquity_margin.CCR, "liquidations": done,
        "stability_pool": fmt_units(pool.total_deposits, e18),
        "depositors": {did: {"lusd": fmt_units(liquity_liq.compounded_deposit(pool, d), e18),
                             "eth_gain": fmt_units(liquity_liq.eth_gain(pool, d), e18)}
                       for did, d in system.deposits.items()},
        "troves": {tid: {"coll": fmt_units(system.entire(tid).coll, e18),
                         "debt": fmt_units(system.entire(tid).debt, e18),
                         "icr": fmt_ratio(system.entire(tid).icr(price))}
                   for tid in system.troves}}


def run_liquity(sc: LiquityScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    """Run a Liquity v1 scenario through the engine (preset ``rules.preset``, Liquity events).

    The ETH price is the engine's price of ``ETH`` (at most 8 decimals), LUSD counting as 1
    USD, so Liquity's price is the scenario's price with 18 decimals.
    """
    problems: list[str] = []
    e18 = 18
    price8 = parse_amount(sc.price, PRICE_DECIMALS, "price", problems)
    parse_fraction(sc.base_rate, e18, "base_rate", problems, allow_zero=True)
    troves_in = [(t.id, parse_amount(t.coll, e18, field_path("troves", i, "coll"), problems),
                  parse_amount(t.debt, e18, field_path("troves", i, "debt"), problems))
                 for i, t in enumerate(sc.troves)]
    deposits_in = [(d.id, parse_amount(d.amount, e18, field_path("depositors", i, "amount"),
                                       problems))
                   for i, d in enumerate(sc.depositors)]
    steps = [(st, None if st.price is None else parse_amount(st.price, PRICE_DECIMALS,
                                                        field_path("steps", i, "price"), problems))
             for i, st in enumerate(sc.steps)]
    id_problems("troves", [t.id for t in sc.troves], problems)
    id_problems("depositors", [d.id for d in sc.depositors], problems)
    raise_problems(problems, source)

    engine = Engine(_engine_config(sc, rules, source))

    def apply(event: Any, where: str) -> None:
        out = engine.apply(event)
        if not out.accepted:
            refusal = out.refusal
            assert refusal is not None
            raise refused_error(refusal, where, source)

    apply(SetPrice("ETH", price8), "price")
    for i, (tid, coll, amount) in enumerate(troves_in):
        apply(LiquityOpenTrove(tid, coll, amount), field_path("troves", i))
    for i, (did, amount) in enumerate(deposits_in):
        apply(LiquityProvideToSP(did, amount), field_path("depositors", i))

    def system() -> LiquitySystem:
        sys = engine.state.liquity
        assert sys is not None
        return sys

    report = FamilyReport(sc.name, rules.preset, rules.source)
    for index, (st, p) in enumerate(steps):
        if p is not None:
            price8 = p
            apply(SetPrice("ETH", price8), field_path("steps", index, "price"))
        price = price8 * _PRICE_SCALE
        tcr_before = system().tcr(price)
        done: list[dict[str, Any]] = []
        if st.liquidate and len(system().troves) > 1:
            # A refusal ("nothing to liquidate") liquidates nothing this step.
            out = engine.apply(LiquityLiquidateTroves("keeper", len(system().troves)))
            if out.accepted:
                done = [{"trove": v["trove"], "debt": fmt_units(v["debt"], e18),
                         "coll": fmt_units(v["coll"], e18),
                         "offset": fmt_units(v["debt_to_offset"], e18),
                         "redistributed": fmt_units(v["debt_to_redistribute"], e18),
                         "coll_surplus": fmt_units(v["coll_surplus"], e18),
                         "gas_compensation_eth": fmt_units(v["coll_gas_compensation"], e18)}
                        for v in out.details["liquidated"]]
        report.steps.append(_step_row(index, st.label, price, tcr_before, system(), done))
    final = system()
    report.summary = {"stability_pool_rule": final.pool.rule.value,
                      "stability_pool": fmt_units(final.pool.total_deposits, e18),
                      "redistributed_debt_pending": fmt_units(final.default_debt, e18),
                      "collateral_surplus": {k: fmt_units(v, e18)
                                             for k, v in final.surplus.items() if v},
                      "gas_compensation": {"eth": fmt_units(final.gas_coll, e18),
                                           "lusd": fmt_units(final.gas_lusd, e18)},
                      "open_troves": len(final.troves),
                      "engine_events": engine.seq, "state_hash": engine.state_hash()}
    return report


def run_liquity_rules(sc: LiquityScenario, rules: FamilyRules, source: str | None
                      ) -> FamilyReport:
    """Run a Liquity v1 scenario over the pure rules only (no engine): the reference."""
    problems: list[str] = []
    e18 = 18
    price = parse_amount(sc.price, e18, "price", problems)
    base_rate = parse_fraction(sc.base_rate, e18, "base_rate", problems, allow_zero=True)
    troves_in = [(t.id, parse_amount(t.coll, e18, field_path("troves", i, "coll"), problems),
                  parse_amount(t.debt, e18, field_path("troves", i, "debt"), problems))
                 for i, t in enumerate(sc.troves)]
    deposits_in = [(d.id, parse_amount(d.amount, e18, field_path("depositors", i, "amount"),
                                       problems))
                   for i, d in enumerate(sc.depositors)]
    steps = [(st, None if st.price is None else parse_amount(st.price, e18,
                                                             field_path("steps", i, "price"),
                                                        problems))
             for i, st in enumerate(sc.steps)]
    id_problems("troves", [t.id for t in sc.troves], problems)
    id_problems("depositors", [d.id for d in sc.depositors], problems)
    raise_problems(problems, source)

    rule = (liquity_liq.StabilityPoolRule.KEEP_ONE_LUSD
            if rules.stability_pool is StabilityPoolVariant.KEEP_ONE_LUSD
            else liquity_liq.StabilityPoolRule.LEGACY)
    troves: dict[str, _Trove] = {}
    active_coll = active_debt = default_coll = default_debt = 0
    total_stakes = stakes_snapshot = coll_snapshot = 0
    dist = liquity_liq.Redistribution()
    for i, (tid, coll, amount) in enumerate(troves_in):
        opened = liquity_margin.open_trove(coll, amount, price, active_coll + default_coll,
                                           active_debt + default_debt, base_rate)
        if isinstance(opened, Refusal):
            raise refused_error(opened, field_path("troves", i), source)
        stake = liquity_margin.compute_new_stake(coll, stakes_snapshot, coll_snapshot)
        troves[tid] = _Trove(coll, opened.trove.debt, stake, dist.l_eth, dist.l_lusd_debt)
        total_stakes += stake
        active_coll += coll
        active_debt += opened.trove.debt
    pool = liquity_liq.StabilityPool(rule=rule)
    deposits: dict[str, liquity_liq.DepositSnapshot] = {}
    for i, (did, amount) in enumerate(deposits_in):
        ch = liquity_liq.provide_to_sp(pool, deposits.get(did), amount)
        if isinstance(ch, Refusal):
            raise refused_error(ch, field_path("depositors", i), source)
        pool, deposits[did] = ch.pool, ch.deposit

    def entire(t: _Trove) -> liquity_margin.Trove:
        return liquity_margin.Trove(
            t.coll + liquity_margin.pending_reward(t.stake, dist.l_eth, t.snap_eth),
            t.debt + liquity_margin.pending_reward(t.stake, dist.l_lusd_debt, t.snap_debt))

    report = FamilyReport(sc.name, rules.preset, rules.source)
    surplus: dict[str, int] = {}
    gas_coll = gas_lusd = 0
    for index, (st, p) in enumerate(steps):
        price = p if p is not None else price
        system_coll, system_debt = active_coll + default_coll, active_debt + default_debt
        tcr_before = liquity_margin.compute_cr(system_coll, system_debt, price)
        done: list[dict[str, Any]] = []
        if st.liquidate and len(troves) > 1:
            ordered = sorted(((tid, entire(t)) for tid, t in troves.items()),
                             key=lambda item: (liquity_margin.compute_nominal_cr(
                                 item[1].coll, item[1].debt), item[0]))
            res = liquity_liq.liquidate_troves(ordered, len(ordered), price,
                                               liquity_liq.max_amount_to_offset(pool),
                                               system_coll, system_debt)
            if isinstance(res, liquity_liq.LiquidationTotals):
                for tid, v in res.liquidated:
                    t = troves.pop(tid)
                    whole = entire(t)
                    # _movePendingTroveRewardsToActivePool, then _removeStake
                    default_coll -= whole.coll - t.coll
                    default_debt -= whole.debt - t.debt
                    active_coll += whole.coll - t.coll
                    active_debt += whole.debt - t.debt
                    total_stakes -= t.stake
                    surplus[tid] = surplus.get(tid, 0) + v.coll_surplus
                    done.append({"trove": tid, "debt": fmt_units(v.entire_debt, e18),
                                 "coll": fmt_units(v.entire_coll, e18),
                                 "offset": fmt_units(v.debt_to_offset, e18),
                                 "redistributed": fmt_units(v.debt_to_redistribute, e18),
                                 "coll_surplus": fmt_units(v.coll_surplus, e18),
                                 "gas_compensation_eth": fmt_units(v.coll_gas_compensation, e18)})
                pool = liquity_liq.offset(pool, res.debt_to_offset, res.coll_to_send_to_sp)
                active_debt -= res.debt_to_offset
                active_coll -= res.coll_to_send_to_sp
                if res.debt_to_redistribute:
                    dist = liquity_liq.redistribute(dist, total_stakes,
                                                    res.debt_to_redistribute,
                                                    res.coll_to_redistribute)
                    active_debt -= res.debt_to_redistribute
                    default_debt += res.debt_to_redistribute
                    active_coll -= res.coll_to_redistribute
                    default_coll += res.coll_to_redistribute
                active_coll -= res.coll_surplus + res.coll_gas_compensation
                gas_coll += res.coll_gas_compensation
                gas_lusd += res.lusd_gas_compensation
                stakes_snapshot = total_stakes
                coll_snapshot = active_coll + default_coll
        system_coll, system_debt = active_coll + default_coll, active_debt + default_debt
        tcr = liquity_margin.compute_cr(system_coll, system_debt, price)
        report.steps.append({
            "step": index, "label": st.label, "price": fmt_units(price, e18),
            "tcr_before": fmt_ratio(tcr_before), "tcr": fmt_ratio(tcr),
            "recovery_mode": tcr < liquity_margin.CCR, "liquidations": done,
            "stability_pool": fmt_units(pool.total_deposits, e18),
            "depositors": {did: {"lusd": fmt_units(liquity_liq.compounded_deposit(pool, d), e18),
                                 "eth_gain": fmt_units(liquity_liq.eth_gain(pool, d), e18)}
                           for did, d in deposits.items()},
            "troves": {tid: {"coll": fmt_units(entire(t).coll, e18),
                             "debt": fmt_units(entire(t).debt, e18),
                             "icr": fmt_ratio(entire(t).icr(price))}
                       for tid, t in troves.items()}})
    report.summary = {"stability_pool_rule": rule.value,
                      "stability_pool": fmt_units(pool.total_deposits, e18),
                      "redistributed_debt_pending": fmt_units(default_debt, e18),
                      "collateral_surplus": {k: fmt_units(v, e18) for k, v in surplus.items() if v},
                      "gas_compensation": {"eth": fmt_units(gas_coll, e18),
                                           "lusd": fmt_units(gas_lusd, e18)},
                      "open_troves": len(troves)}
    return report


__all__ = [
    "LiquityDepositor",
    "LiquityScenario",
    "LiquityStep",
    "LiquityTroveSpec",
    "run_liquity",
    "run_liquity_rules",
]
