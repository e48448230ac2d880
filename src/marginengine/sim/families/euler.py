"""Euler v2 family scenarios: one borrowed vault, collaterals with LTVs, borrowers.

Borrows pass the account status check; each step moves time and prices, applies
governance ``setLTV`` changes (with their ramps), then liquidates every violator collateral
by collateral at the most allowed, socializing what is left when nothing is.
Rules: ``margin/euler.py``, ``liquidation/euler.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import Field

from marginengine.config.amounts import HumanNumber
from marginengine.config.protocol_families import FamilyRules
from marginengine.decisions import Refusal
from marginengine.errors import ConfigError
from marginengine.liquidation import euler as euler_liq
from marginengine.margin import euler as euler_margin
from marginengine.sim.families.common import (
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


def run_euler(sc: EulerScenario, rules: FamilyRules, source: str | None) -> FamilyReport:
    problems: list[str] = []
    v = sc.vault
    debt_price = parse_amount(v.price, 36 - v.decimals, "vault.price", problems) \
        if v.decimals <= 36 else 0
    cash = parse_amount(v.cash, v.decimals, "vault.cash", problems)
    max_disc = parse_fraction(v.max_liquidation_discount, 4, "vault.max_liquidation_discount",
                         problems, allow_zero=True)
    prices: dict[str, int] = {}
    ltvs: dict[str, euler_margin.LTVConfig] = {}
    now = 1       # a zero target timestamp would mean "not a recognized collateral"
    for name, c in sc.collaterals.items():
        prices[name] = parse_amount(c.price, 36 - c.decimals, f"collaterals.{name}.price", problems)
        b = parse_fraction(c.borrow_ltv, 4, f"collaterals.{name}.borrow_ltv", problems,
                      below_one=False)
        liq = parse_fraction(c.liquidation_ltv, 4, f"collaterals.{name}.liquidation_ltv", problems,
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
            balances[name] = parse_amount(raw, sc.collaterals[name].decimals,
                                     f"borrowers[{i}].collateral.{name}", problems)
        borrowers.append((bw.id, balances, parse_amount(bw.borrow, v.decimals,
                                                   f"borrowers[{i}].borrow", problems)))
    steps = []
    for i, st in enumerate(sc.steps):
        new_prices = {}
        for name, raw in st.prices.items():
            if name == v.asset:
                new_prices[name] = parse_amount(raw, 36 - v.decimals, f"steps[{i}].prices.{name}",
                                           problems)
            elif name in sc.collaterals:
                new_prices[name] = parse_amount(raw, 36 - sc.collaterals[name].decimals,
                                           f"steps[{i}].prices.{name}", problems)
            else:
                problems.append(f"steps[{i}].prices.{name}: unknown asset")
        changes = {}
        for name, ch in st.set_ltv.items():
            if name not in sc.collaterals:
                problems.append(f"steps[{i}].set_ltv.{name}: unknown collateral")
                continue
            changes[name] = (
                parse_fraction(ch.borrow_ltv, 4, f"steps[{i}].set_ltv.{name}.borrow_ltv", problems,
                          below_one=False, allow_zero=True),
                parse_fraction(ch.liquidation_ltv, 4, f"steps[{i}].set_ltv.{name}.liquidation_ltv",
                          problems, below_one=False, allow_zero=True),
                parse_duration_field(ch.ramp, f"steps[{i}].set_ltv.{name}.ramp", problems))
        advance = parse_duration_field(st.advance, f"steps[{i}].advance", problems)
        steps.append((st, new_prices, changes, advance))
    raise_problems(problems, source)

    vault = euler_liq.EulerVault(cash=cash, total_borrows=0, total_shares=cash)
    accounts: dict[str, tuple[dict[str, int], int]] = {}

    def balances_of(bal: dict[str, int]) -> list[euler_margin.CollateralBalance]:
        return [euler_margin.CollateralBalance(n, amt, prices[n], ltvs[n])
                for n, amt in bal.items()]

    for i, (bid, bal, amount) in enumerate(borrowers):
        refusal = euler_margin.check_liquidity(balances_of(bal), amount, debt_price, now)
        if refusal is not None:
            raise refused_error(refusal, f"borrowers[{i}].borrow", source)
        if amount > vault.cash:
            raise ConfigError([f"borrowers[{i}].borrow: the vault has only "
                               f"{fmt_units(vault.cash, v.decimals)} {v.asset} of cash "
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
                raise refused_error(cfg, f"steps[{index}].set_ltv.{name}", source)
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
                                 "repay": fmt_units(res.repay, v.decimals),
                                 "yield": fmt_units(res.yield_balance,
                                                    sc.collaterals[name].decimals),
                                 "socialized": fmt_units(res.socialized, v.decimals)})
                accounts[bid] = (bal, debt)
        rows = {}
        for bid, (bal, debt) in accounts.items():
            liq_side = euler_margin.calculate_liquidity(balances_of(bal), debt, debt_price, now,
                                                        True)
            borrow_side = euler_margin.calculate_liquidity(balances_of(bal), debt, debt_price,
                                                           now, False)
            rows[bid] = {"debt": fmt_units(debt, v.decimals),
                         "health_liquidation": fmt_ratio(liq_side.health_score),
                         "health_borrow": fmt_ratio(borrow_side.health_score),
                         "collateral": {n: fmt_units(a, sc.collaterals[n].decimals)
                                        for n, a in bal.items()}}
        report.steps.append({
            "step": index, "label": st.label, "time": now,
            "liquidation_ltv": {n: c.get_ltv(now, True) for n, c in ltvs.items()},
            "borrow_ltv": {n: c.get_ltv(now, False) for n, c in ltvs.items()},
            "liquidations": done, "borrowers": rows,
            "share_value": fmt_units(vault.convert_to_assets(10**v.decimals), v.decimals)})
    report.summary = {"socialized": fmt_units(total_social, v.decimals),
                      "total_borrows": fmt_units(vault.total_borrows, v.decimals),
                      "share_value": fmt_units(vault.convert_to_assets(10**v.decimals), v.decimals)}
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
