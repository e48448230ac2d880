"""Scenarios for the protocol families with state of their own: Morpho Blue, Liquity, Euler.

A family scenario names a family preset (``config.protocol_families``), the family's
initial state (a Morpho market and its suppliers and borrowers, Liquity troves and
stability-pool deposits, an Euler vault and its borrowers) and steps (time passes, prices
move, parameters change, then a keeper liquidates every account it may, as the family's
rules allow). Every amount is exact; each step's figures are the rules' own
(``margin/morpho.py``, ``liquidation/liquity.py``, ...): this module only keeps the state
between calls and reports it.

Formats (TOML) are in docs/formats.md, "Family scenarios"; examples in examples/families/.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from marginengine.config import read_toml, validate_model
from marginengine.config.amounts import HumanNumber, parse_positive
from marginengine.config.protocol_families import (
    FamilyRules,
    ProtocolFamily,
    StabilityPoolVariant,
    resolve_family_preset,
)
from marginengine.decisions import Code, Refusal
from marginengine.errors import ConfigError
from marginengine.fixedpoint import format_units, parse_units
from marginengine.liquidation import euler as euler_liq
from marginengine.liquidation import liquity as liquity_liq
from marginengine.liquidation import morpho as morpho_liq
from marginengine.margin import drift as drift_margin
from marginengine.margin import euler as euler_margin
from marginengine.margin import liquity as liquity_margin
from marginengine.margin import mango as mango_margin
from marginengine.margin import morpho as morpho_margin
from marginengine.sim.scenario import parse_duration

SECONDS_PER_YEAR = 365 * 86_400


# ---- formats ---------------------------------------------------------------------------

class _Strict(BaseModel):
    # Unknown fields are errors; numbers are HumanNumber (which refuses true/false) or
    # strict ints.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Step(_Strict):
    label: str = ""
    advance: str | int = 0
    liquidate: bool = True


class MorphoToken(_Strict):
    """One token of a Morpho market."""

    symbol: str
    decimals: int = Field(ge=0, le=36, strict=True)


class MorphoMarketSpec(_Strict):
    """``[market]``: tokens, LLTV, fee, price (loan tokens per collateral token)."""

    loan: MorphoToken
    collateral: MorphoToken
    lltv: HumanNumber
    fee: HumanNumber = 0
    price: HumanNumber
    borrow_rate: HumanNumber = 0


class MorphoSupplier(_Strict):
    """A supplier of the loan token."""

    id: str
    assets: HumanNumber


class MorphoBorrower(_Strict):
    """A borrower: collateral supplied, then loan assets borrowed."""

    id: str
    collateral: HumanNumber
    borrow: HumanNumber


class MorphoStep(_Step):
    """A step: time, price, rate, then liquidations."""

    price: HumanNumber | None = None
    borrow_rate: HumanNumber | None = None


class MorphoScenario(_Strict):
    """A Morpho Blue scenario."""

    name: str
    description: str = ""
    family: str
    market: MorphoMarketSpec
    suppliers: list[MorphoSupplier] = Field(min_length=1)
    borrowers: list[MorphoBorrower] = Field(default_factory=list)
    steps: list[MorphoStep] = Field(min_length=1)


class LiquityTroveSpec(_Strict):
    """A trove: ETH collateral and the LUSD drawn (fee and reserve are added)."""

    id: str
    coll: HumanNumber
    debt: HumanNumber


class LiquityDepositor(_Strict):
    """A stability-pool depositor."""

    id: str
    amount: HumanNumber


class LiquityStep(_Step):
    """A step: the ETH price, then ``liquidateTroves`` over every trove."""

    price: HumanNumber | None = None


class LiquityScenario(_Strict):
    """A Liquity v1 scenario."""

    name: str
    description: str = ""
    family: str
    price: HumanNumber
    base_rate: HumanNumber = 0
    troves: list[LiquityTroveSpec] = Field(min_length=2)
    depositors: list[LiquityDepositor] = Field(default_factory=list)
    steps: list[LiquityStep] = Field(min_length=1)


class EulerCollateralSpec(_Strict):
    """A collateral of the vault: decimals, price (USD), borrow and liquidation LTV."""

    decimals: int = Field(ge=0, le=36, strict=True)
    price: HumanNumber
    borrow_ltv: HumanNumber
    liquidation_ltv: HumanNumber


class EulerVaultSpec(_Strict):
    """The borrowed vault: its asset, price, cash deposited, liquidation settings."""

    asset: str
    decimals: int = Field(ge=0, le=36, strict=True)
    price: HumanNumber
    cash: HumanNumber
    max_liquidation_discount: HumanNumber = "0.15"
    socialize_debt: bool = True


class EulerBorrower(_Strict):
    """A borrower: collateral balances, then assets borrowed."""

    id: str
    collateral: dict[str, HumanNumber] = Field(min_length=1)
    borrow: HumanNumber


class EulerLtvChange(_Strict):
    """A governance ``setLTV``."""

    borrow_ltv: HumanNumber
    liquidation_ltv: HumanNumber
    ramp: str | int = 0


class EulerStep(_Step):
    """A step: time, prices, LTV changes, then liquidations."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)
    set_ltv: dict[str, EulerLtvChange] = Field(default_factory=dict)


class EulerScenario(_Strict):
    """An Euler v2 scenario."""

    name: str
    description: str = ""
    family: str
    vault: EulerVaultSpec
    collaterals: dict[str, EulerCollateralSpec] = Field(min_length=1)
    borrowers: list[EulerBorrower] = Field(min_length=1)
    steps: list[EulerStep] = Field(min_length=1)


class MangoTokenSpec(_Strict):
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


class MangoPerpSpec(_Strict):
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


class MangoPerpPosition(_Strict):
    """A perp position: base lots (signed), quote (settle token, signed), open orders."""

    base_lots: int = Field(strict=True)
    quote: HumanNumber
    bids: int = Field(default=0, ge=0, strict=True)
    asks: int = Field(default=0, ge=0, strict=True)


class MangoAccountSpec(_Strict):
    """An account: signed token balances and perp positions."""

    id: str
    tokens: dict[str, HumanNumber] = Field(default_factory=dict)
    perps: dict[str, MangoPerpPosition] = Field(default_factory=dict)


class MangoStep(_Step):
    """A step: oracle and stable prices."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)
    stable_prices: dict[str, HumanNumber] = Field(default_factory=dict)


class MangoScenario(_Strict):
    """A Mango v4 health scenario (the health figures; liquidation is not modelled)."""

    name: str
    description: str = ""
    family: str
    quote: str = "USDC"
    tokens: dict[str, MangoTokenSpec] = Field(min_length=1)
    perps: dict[str, MangoPerpSpec] = Field(default_factory=dict)
    accounts: list[MangoAccountSpec] = Field(min_length=1)
    steps: list[MangoStep] = Field(min_length=1)


class DriftSpotSpec(_Strict):
    """A Drift spot market: decimals, price, weights (fractions), IMF factor."""

    decimals: int = Field(ge=0, le=19, strict=True)
    price: HumanNumber
    initial_asset_weight: HumanNumber
    maintenance_asset_weight: HumanNumber
    initial_liability_weight: HumanNumber
    maintenance_liability_weight: HumanNumber
    imf_factor: HumanNumber = 0


class DriftPerpSpec(_Strict):
    """A Drift perp market: price, margin ratios, IMF factor, unrealized-PnL weights."""

    price: HumanNumber
    margin_ratio_initial: HumanNumber
    margin_ratio_maintenance: HumanNumber
    imf_factor: HumanNumber = 0
    unrealized_pnl_initial_asset_weight: HumanNumber = 0
    unrealized_pnl_maintenance_asset_weight: HumanNumber = 1
    unrealized_pnl_imf_factor: HumanNumber = 0


class DriftPerpPosition(_Strict):
    """A perp position: signed base and signed quote (entry cost)."""

    base: HumanNumber
    quote: HumanNumber


class DriftAccountSpec(_Strict):
    """A cross-margin account: signed spot balances and perp positions."""

    id: str
    spot: dict[str, HumanNumber] = Field(default_factory=dict)
    perps: dict[str, DriftPerpPosition] = Field(default_factory=dict)


class DriftStep(_Step):
    """A step: new oracle prices."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)


class DriftScenario(_Strict):
    """A Drift v2 cross-margin scenario (margin figures; liquidation is not modelled)."""

    name: str
    description: str = ""
    family: str
    spot: dict[str, DriftSpotSpec] = Field(min_length=1)
    perps: dict[str, DriftPerpSpec] = Field(default_factory=dict)
    accounts: list[DriftAccountSpec] = Field(min_length=1)
    steps: list[DriftStep] = Field(min_length=1)


# ---- helpers ---------------------------------------------------------------------------

def _amount(raw: object, decimals: int, where: str, problems: list[str]) -> int:
    value = parse_positive(raw, decimals, where, problems)
    return 0 if value is None else value


def _fraction(raw: object, decimals: int, where: str, problems: list[str], *,
              below_one: bool = True, allow_zero: bool = False) -> int:
    try:
        value = parse_units(raw, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0
    one = 10**decimals
    if value < 0 or (value == 0 and not allow_zero) or (below_one and value >= one):
        bound = "[0, 1)" if below_one else "[0, 1]"
        problems.append(f"{where}: must be a fraction in {bound} (got {raw!r})")
        return 0
    return value


def _duration(raw: str | int, where: str, problems: list[str]) -> int:
    try:
        return parse_duration(raw)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0


def _check(problems: list[str], source: str | None) -> None:
    if problems:
        raise ConfigError(problems, source=source)


def _refused(refusal: Refusal, where: str, source: str | None) -> ConfigError:
    return ConfigError([f"{where}: refused by the protocol's rules: {refusal.message} "
                        f"({refusal.code.value})"], source=source)


def _fmt(value: int, decimals: int) -> str:
    return format_units(value, decimals)


def _ratio(value: int | None) -> str | None:
    return None if value is None else format_units(value, 18, 4)


@dataclass
class FamilyReport:
    """What a family scenario did, step by step (plain JSON values, exact ints as strings).

    Attributes
    ----------
    name, family, source
        The scenario, the family preset and the code its rules follow.
    steps
        One record per step (prices, accounts, liquidations).
    summary
        Totals over the run.
    """

    name: str
    family: str
    source: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` and files."""
        return {"name": self.name, "family": self.family, "source": self.source,
                "steps": self.steps, "summary": self.summary}


# ---- Morpho Blue -------------------------------------------------------------------------

def _run_morpho(sc: MorphoScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    problems: list[str] = []
    loan, coll = sc.market.loan, sc.market.collateral
    price_decimals = 36 + loan.decimals - coll.decimals
    if price_decimals < 0:
        problems.append("market.collateral.decimals: more than 36 above the loan token's")
    lltv = _fraction(sc.market.lltv, 18, "market.lltv", problems)
    fee = _fraction(sc.market.fee, 18, "market.fee", problems, allow_zero=True)
    if fee > morpho_margin.MAX_FEE:
        problems.append("market.fee: at most 0.25 (Morpho's MAX_FEE)")
    price = _amount(sc.market.price, max(price_decimals, 0), "market.price", problems)
    rate = _fraction(sc.market.borrow_rate, 18, "market.borrow_rate", problems,
                     below_one=False, allow_zero=True) // SECONDS_PER_YEAR
    suppliers = {s.id: _amount(s.assets, loan.decimals, f"suppliers[{i}].assets", problems)
                 for i, s in enumerate(sc.suppliers)}
    borrowers = [(b.id, _amount(b.collateral, coll.decimals, f"borrowers[{i}].collateral",
                                problems),
                  _amount(b.borrow, loan.decimals, f"borrowers[{i}].borrow", problems))
                 for i, b in enumerate(sc.borrowers)]
    steps = []
    for i, st in enumerate(sc.steps):
        p = None if st.price is None else _amount(st.price, max(price_decimals, 0),
                                                  f"steps[{i}].price", problems)
        r = None if st.borrow_rate is None else _fraction(
            st.borrow_rate, 18, f"steps[{i}].borrow_rate", problems, below_one=False,
            allow_zero=True) // SECONDS_PER_YEAR
        steps.append((st, p, r, _duration(st.advance, f"steps[{i}].advance", problems)))
    _check(problems, source)

    params = morpho_margin.MarketParams(lltv=lltv)
    market = morpho_margin.Market(fee=fee)
    positions: dict[str, morpho_margin.Position] = {}
    for i, (sid, assets) in enumerate(suppliers.items()):
        moved = morpho_margin.supply(market, positions.get(sid, morpho_margin.Position()),
                                     assets=assets)
        if isinstance(moved, Refusal):
            raise _refused(moved, f"suppliers[{i}]", source)
        market, positions[sid] = moved.market, moved.position
    for i, (bid, collateral, amount) in enumerate(borrowers):
        pos = morpho_margin.supply_collateral(positions.get(bid, morpho_margin.Position()),
                                              collateral)
        if isinstance(pos, Refusal):
            raise _refused(pos, f"borrowers[{i}].collateral", source)
        moved = morpho_margin.borrow(market, pos, price, params, assets=amount)
        if isinstance(moved, Refusal):
            raise _refused(moved, f"borrowers[{i}].borrow", source)
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
                    "repaid": _fmt(result.repaid_assets, loan.decimals),
                    "seized": _fmt(result.seized_assets, coll.decimals),
                    "bad_debt": _fmt(result.bad_debt_assets, loan.decimals),
                    "incentive_factor": _ratio(result.incentive_factor)})
        report.steps.append({
            "step": label_index, "label": st.label, "time": now,
            "price": _fmt(price, max(price_decimals, 0)),
            "interest": _fmt(acc.interest, loan.decimals),
            "liquidations": liquidations,
            "borrowers": {bid: {
                "collateral": _fmt(positions[bid].collateral, coll.decimals),
                "debt": _fmt(morpho_margin.borrowed_assets(positions[bid], market),
                             loan.decimals),
                "health": _ratio(morpho_margin.health_factor(positions[bid], market, price,
                                                             params))}
                for bid, _, _ in borrowers},
            "suppliers": {sid: _fmt(morpho_margin.supplied_assets(positions[sid], market),
                                    loan.decimals) for sid in suppliers},
            "total_supply": _fmt(market.total_supply_assets, loan.decimals),
            "total_borrow": _fmt(market.total_borrow_assets, loan.decimals)})
    report.summary = {"bad_debt_realized": _fmt(total_bad, loan.decimals),
                      "liquidation_incentive_factor":
                          _ratio(morpho_liq.liquidation_incentive_factor(lltv)),
                      "total_supply": _fmt(market.total_supply_assets, loan.decimals),
                      "total_borrow": _fmt(market.total_borrow_assets, loan.decimals)}
    return report


# ---- Liquity v1 --------------------------------------------------------------------------

@dataclass
class _Trove:
    coll: int
    debt: int
    stake: int
    snap_eth: int
    snap_debt: int


def _run_liquity(sc: LiquityScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    problems: list[str] = []
    e18 = 18
    price = _amount(sc.price, e18, "price", problems)
    base_rate = _fraction(sc.base_rate, e18, "base_rate", problems, allow_zero=True)
    troves_in = [(t.id, _amount(t.coll, e18, f"troves[{i}].coll", problems),
                  _amount(t.debt, e18, f"troves[{i}].debt", problems))
                 for i, t in enumerate(sc.troves)]
    deposits_in = [(d.id, _amount(d.amount, e18, f"depositors[{i}].amount", problems))
                   for i, d in enumerate(sc.depositors)]
    steps = [(st, None if st.price is None else _amount(st.price, e18, f"steps[{i}].price",
                                                        problems))
             for i, st in enumerate(sc.steps)]
    ids = [t[0] for t in troves_in]
    if len(set(ids)) != len(ids):
        problems.append("troves: ids must be unique")
    _check(problems, source)

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
            raise _refused(opened, f"troves[{i}]", source)
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
            raise _refused(ch, f"depositors[{i}]", source)
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
                    done.append({"trove": tid, "debt": _fmt(v.entire_debt, e18),
                                 "coll": _fmt(v.entire_coll, e18),
                                 "offset": _fmt(v.debt_to_offset, e18),
                                 "redistributed": _fmt(v.debt_to_redistribute, e18),
                                 "coll_surplus": _fmt(v.coll_surplus, e18),
                                 "gas_compensation_eth": _fmt(v.coll_gas_compensation, e18)})
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
            "step": index, "label": st.label, "price": _fmt(price, e18),
            "tcr_before": _ratio(tcr_before), "tcr": _ratio(tcr),
            "recovery_mode": tcr < liquity_margin.CCR, "liquidations": done,
            "stability_pool": _fmt(pool.total_deposits, e18),
            "depositors": {did: {"lusd": _fmt(liquity_liq.compounded_deposit(pool, d), e18),
                                 "eth_gain": _fmt(liquity_liq.eth_gain(pool, d), e18)}
                           for did, d in deposits.items()},
            "troves": {tid: {"coll": _fmt(entire(t).coll, e18),
                             "debt": _fmt(entire(t).debt, e18),
                             "icr": _ratio(entire(t).icr(price))}
                       for tid, t in troves.items()}})
    report.summary = {"stability_pool_rule": rule.value,
                      "stability_pool": _fmt(pool.total_deposits, e18),
                      "redistributed_debt_pending": _fmt(default_debt, e18),
                      "collateral_surplus": {k: _fmt(v, e18) for k, v in surplus.items() if v},
                      "gas_compensation": {"eth": _fmt(gas_coll, e18),
                                           "lusd": _fmt(gas_lusd, e18)},
                      "open_troves": len(troves)}
    return report


# ---- Euler v2 ----------------------------------------------------------------------------

def _run_euler(sc: EulerScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    problems: list[str] = []
    v = sc.vault
    debt_price = _amount(v.price, 36 - v.decimals, "vault.price", problems) \
        if v.decimals <= 36 else 0
    cash = _amount(v.cash, v.decimals, "vault.cash", problems)
    max_disc = _fraction(v.max_liquidation_discount, 4, "vault.max_liquidation_discount",
                         problems, allow_zero=True)
    prices: dict[str, int] = {}
    ltvs: dict[str, euler_margin.LTVConfig] = {}
    now = 1       # a zero target timestamp would mean "not a recognized collateral"
    for name, c in sc.collaterals.items():
        prices[name] = _amount(c.price, 36 - c.decimals, f"collaterals.{name}.price", problems)
        b = _fraction(c.borrow_ltv, 4, f"collaterals.{name}.borrow_ltv", problems,
                      below_one=False)
        liq = _fraction(c.liquidation_ltv, 4, f"collaterals.{name}.liquidation_ltv", problems,
                        below_one=False)
        if not problems:
            cfg = euler_margin.set_ltv(euler_margin.LTVConfig(), b, liq, 0, now)
            if isinstance(cfg, Refusal):
                problems.append(f"collaterals.{name}: {cfg.message} ({cfg.code.value})")
            else:
                ltvs[name] = cfg
    borrowers = []
    for i, bw in enumerate(sc.borrowers):
        balances = {}
        for name, raw in bw.collateral.items():
            if name not in sc.collaterals:
                problems.append(f"borrowers[{i}].collateral.{name}: unknown collateral "
                                f"(collaterals: {', '.join(sorted(sc.collaterals))})")
                continue
            balances[name] = _amount(raw, sc.collaterals[name].decimals,
                                     f"borrowers[{i}].collateral.{name}", problems)
        borrowers.append((bw.id, balances, _amount(bw.borrow, v.decimals,
                                                   f"borrowers[{i}].borrow", problems)))
    steps = []
    for i, st in enumerate(sc.steps):
        new_prices = {}
        for name, raw in st.prices.items():
            if name == v.asset:
                new_prices[name] = _amount(raw, 36 - v.decimals, f"steps[{i}].prices.{name}",
                                           problems)
            elif name in sc.collaterals:
                new_prices[name] = _amount(raw, 36 - sc.collaterals[name].decimals,
                                           f"steps[{i}].prices.{name}", problems)
            else:
                problems.append(f"steps[{i}].prices.{name}: unknown asset")
        changes = {}
        for name, ch in st.set_ltv.items():
            if name not in sc.collaterals:
                problems.append(f"steps[{i}].set_ltv.{name}: unknown collateral")
                continue
            changes[name] = (
                _fraction(ch.borrow_ltv, 4, f"steps[{i}].set_ltv.{name}.borrow_ltv", problems,
                          below_one=False, allow_zero=True),
                _fraction(ch.liquidation_ltv, 4, f"steps[{i}].set_ltv.{name}.liquidation_ltv",
                          problems, below_one=False, allow_zero=True),
                _duration(ch.ramp, f"steps[{i}].set_ltv.{name}.ramp", problems))
        steps.append((st, new_prices, changes, _duration(st.advance, f"steps[{i}].advance",
                                                         problems)))
    _check(problems, source)

    vault = euler_liq.EulerVault(cash=cash, total_borrows=0, total_shares=cash)
    accounts: dict[str, tuple[dict[str, int], int]] = {}

    def balances_of(bal: dict[str, int]) -> list[euler_margin.CollateralBalance]:
        return [euler_margin.CollateralBalance(n, amt, prices[n], ltvs[n])
                for n, amt in bal.items()]

    for i, (bid, bal, amount) in enumerate(borrowers):
        refusal = euler_margin.check_liquidity(balances_of(bal), amount, debt_price, now)
        if refusal is not None:
            raise _refused(refusal, f"borrowers[{i}].borrow", source)
        if amount > vault.cash:
            raise ConfigError([f"borrowers[{i}].borrow: the vault has only "
                               f"{_fmt(vault.cash, v.decimals)} {v.asset} of cash "
                               "(E_InsufficientCash)"], source=source)
        vault = replace(vault, cash=vault.cash - amount,
                        total_borrows=vault.total_borrows + amount)
        accounts[bid] = (bal, amount)

    report = FamilyReport(sc.name, rules.preset, rules.source)
    total_social = 0
    for index, (st, new_prices, changes, advance) in enumerate(steps):
        now += advance
        for name, value in new_prices.items():
            if name == v.asset:
                debt_price = value
            else:
                prices[name] = value
        for name, (b, liq, ramp) in changes.items():
            cfg = euler_margin.set_ltv(ltvs[name], b, liq, ramp, now)
            if isinstance(cfg, Refusal):
                raise _refused(cfg, f"steps[{index}].set_ltv.{name}", source)
            ltvs[name] = cfg
        done: list[dict[str, Any]] = []
        if st.liquidate:
            for bid, (bal, debt) in list(accounts.items()):
                for name in list(bal):
                    if debt == 0:
                        break
                    res = euler_liq.liquidate(balances_of(bal), name, debt, debt_price,
                                              max_disc, now, socialize_debt=v.socialize_debt)
                    if isinstance(res, Refusal) or (res.repay == 0 and res.yield_balance == 0):
                        continue
                    bal = {c.asset: c.balance for c in res.collaterals}
                    debt = res.violator_debt
                    vault = vault.socialize(res.socialized)
                    total_social += res.socialized
                    done.append({"borrower": bid, "collateral": name,
                                 "repay": _fmt(res.repay, v.decimals),
                                 "yield": _fmt(res.yield_balance, sc.collaterals[name].decimals),
                                 "socialized": _fmt(res.socialized, v.decimals)})
                accounts[bid] = (bal, debt)
        rows = {}
        for bid, (bal, debt) in accounts.items():
            liq_side = euler_margin.calculate_liquidity(balances_of(bal), debt, debt_price, now,
                                                        True)
            borrow_side = euler_margin.calculate_liquidity(balances_of(bal), debt, debt_price,
                                                           now, False)
            rows[bid] = {"debt": _fmt(debt, v.decimals),
                         "health_liquidation": _ratio(liq_side.health_score),
                         "health_borrow": _ratio(borrow_side.health_score),
                         "collateral": {n: _fmt(a, sc.collaterals[n].decimals)
                                        for n, a in bal.items()}}
        report.steps.append({
            "step": index, "label": st.label, "time": now,
            "liquidation_ltv": {n: c.get_ltv(now, True) for n, c in ltvs.items()},
            "borrow_ltv": {n: c.get_ltv(now, False) for n, c in ltvs.items()},
            "liquidations": done, "borrowers": rows,
            "share_value": _fmt(vault.convert_to_assets(10**v.decimals), v.decimals)})
    report.summary = {"socialized": _fmt(total_social, v.decimals),
                      "total_borrows": _fmt(vault.total_borrows, v.decimals),
                      "share_value": _fmt(vault.convert_to_assets(10**v.decimals), v.decimals)}
    return report


# ---- Mango v4 ---------------------------------------------------------------------------

def _signed(raw: object, decimals: int, where: str, problems: list[str]) -> int:
    try:
        return parse_units(raw, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0


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


def _run_mango(sc: MangoScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
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
            toks[name] = _signed(raw, sc.tokens[name].decimals, f"accounts[{i}].tokens.{name}",
                                 problems)
        perps = {}
        for name, pos in acct.perps.items():
            if name not in sc.perps:
                problems.append(f"accounts[{i}].perps.{name}: unknown perp market")
                continue
            settle = sc.perps[name].settle
            perps[name] = (pos, _signed(pos.quote, sc.tokens[settle].decimals
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
    _check(problems, source)

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


# ---- Drift v2 ---------------------------------------------------------------------------

def _run_drift(sc: DriftScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    problems: list[str] = []
    price_dec = 6      # PRICE_PRECISION

    def frac(raw: object, where: str, decimals: int = 4) -> int:
        return _fraction(raw, decimals, where, problems, below_one=False, allow_zero=True)

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
        imf = _fraction(sp.imf_factor, 6, f"spot.{name}.imf_factor", problems,
                        below_one=False, allow_zero=True)
        if not problems:
            spots[name] = drift_margin.SpotMarket(decimals=sp.decimals, imf_factor=imf, **w)
        prices[name] = _amount(sp.price, price_dec, f"spot.{name}.price", problems)
    perps: dict[str, drift_margin.PerpMarketMargin] = {}
    for name, pm in sc.perps.items():
        if name in sc.spot:
            problems.append(f"perps.{name}: the name is also a spot market's")
        weights = drift_margin.PerpPnlWeights(
            frac(pm.unrealized_pnl_initial_asset_weight,
                 f"perps.{name}.unrealized_pnl_initial_asset_weight"),
            frac(pm.unrealized_pnl_maintenance_asset_weight,
                 f"perps.{name}.unrealized_pnl_maintenance_asset_weight"),
            _fraction(pm.unrealized_pnl_imf_factor, 6, f"perps.{name}.unrealized_pnl_imf_factor",
                      problems, below_one=False, allow_zero=True))
        perps[name] = drift_margin.PerpMarketMargin(
            frac(pm.margin_ratio_initial, f"perps.{name}.margin_ratio_initial"),
            frac(pm.margin_ratio_maintenance, f"perps.{name}.margin_ratio_maintenance"),
            _fraction(pm.imf_factor, 6, f"perps.{name}.imf_factor", problems, below_one=False,
                      allow_zero=True), weights)
        prices[name] = _amount(pm.price, price_dec, f"perps.{name}.price", problems)
    accounts = []
    for i, acct in enumerate(sc.accounts):
        bal = {}
        for name, raw in acct.spot.items():
            if name not in sc.spot:
                problems.append(f"accounts[{i}].spot.{name}: unknown spot market")
                continue
            bal[name] = _signed(raw, sc.spot[name].decimals, f"accounts[{i}].spot.{name}",
                                problems)
        pos = {}
        for name, p in acct.perps.items():
            if name not in sc.perps:
                problems.append(f"accounts[{i}].perps.{name}: unknown perp market")
                continue
            pos[name] = (_signed(p.base, 9, f"accounts[{i}].perps.{name}.base", problems),
                         _signed(p.quote, 6, f"accounts[{i}].perps.{name}.quote", problems))
        accounts.append((acct.id, bal, pos))
    steps = []
    for i, st in enumerate(sc.steps):
        new = {}
        for name, raw in st.prices.items():
            if name not in prices:
                problems.append(f"steps[{i}].prices.{name}: unknown market")
                continue
            new[name] = _amount(raw, price_dec, f"steps[{i}].prices.{name}", problems)
        steps.append((st, new))
    _check(problems, source)

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
                "initial": {"total_collateral": _fmt(init.total_collateral, 6),
                            "margin_requirement": _fmt(init.margin_requirement, 6)},
                "maintenance": {"total_collateral": _fmt(maint.total_collateral, 6),
                                "margin_requirement": _fmt(maint.margin_requirement, 6)},
                "free_collateral": _fmt(init.free_collateral, 6),
                "liquidatable": not maint.meets, "can_open_positions": init.meets}
        report.steps.append({"step": index, "label": st.label, "liquidations": [],
                             "margin": rows})
    report.summary = {"accounts": len(accounts),
                      "liquidatable_at_end": sorted(a for a, r in
                                                    report.steps[-1]["margin"].items()
                                                    if r["liquidatable"])}
    return report


# ---- entry point -------------------------------------------------------------------------

def load_and_run(path: str | Path) -> FamilyReport:
    """Read, validate and run a family scenario file.

    Raises
    ------
    ConfigError
        On any problem with the file (each message names the field), before anything runs;
        or when the initial state is refused by the family's own rules (which field and
        why).
    """
    source = str(path)
    data = read_toml(path)
    rules = _resolve(data, source)
    return run_family_scenario(data, rules, source)


def _resolve(data: dict[str, Any], source: str | None) -> FamilyRules:
    try:
        return resolve_family_preset(data.get("family"))
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=source) from None


def run_family_scenario(data: dict[str, Any], rules: FamilyRules | None = None,
                        source: str | None = None) -> FamilyReport:
    """Run a family scenario given as a dict (as read from TOML)."""
    rules = rules or _resolve(data, source)
    if rules.family is ProtocolFamily.MORPHO_BLUE:
        return _run_morpho(validate_model(MorphoScenario, data, source), rules, source)
    if rules.family is ProtocolFamily.LIQUITY_V1:
        return _run_liquity(validate_model(LiquityScenario, data, source), rules, source)
    if rules.family is ProtocolFamily.MANGO_V4:
        return _run_mango(validate_model(MangoScenario, data, source), rules, source)
    if rules.family is ProtocolFamily.DRIFT_V2:
        return _run_drift(validate_model(DriftScenario, data, source), rules, source)
    return _run_euler(validate_model(EulerScenario, data, source), rules, source)


__all__ = [
    "DriftScenario",
    "EulerScenario",
    "FamilyReport",
    "LiquityScenario",
    "MangoScenario",
    "MorphoScenario",
    "load_and_run",
    "run_family_scenario",
]
