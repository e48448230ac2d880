"""What a cascade scenario asks of a Liquity v1, Morpho Blue, Euler v2 or Drift v2
protocol, checked before anything runs (:func:`check_family_cascade`, beside
:func:`~marginengine.sim.cascade_config.check_cascade` in
:func:`~marginengine.sim.cascade.scenario_spec`).

A family protocol keeps its own state (troves, a Morpho market), not pooled reserves, so
the scenario's book, lenders and explicit accounts mean the family's own actions
(:mod:`marginengine.sim.family_cascade`):

========================  ===========================  ================================
scenario                  Liquity v1                   Morpho Blue
========================  ===========================  ================================
``price.asset``           ``liquity.collateral``       the market's collateral
``book.debt_asset``       ``liquity.debt``             the market's loan asset
book account              ``openTrove``                ``supplyCollateral``, ``borrow``
``liquidity``             ``provideToSP`` (the debt)   ``supply`` (the loan asset)
``accounts.deposit``      collateral: the trove's;     collateral: ``supplyCollateral``;
                          debt: ``provideToSP``        loan: ``supply``
``accounts.borrow``       debt: the trove's draw       loan: ``borrow``
========================  ===========================  ================================

Euler v2 (:mod:`marginengine.sim.euler_cascade`): ``price.asset`` one of
``euler.collaterals``, ``book.debt_asset`` the vault's asset; a book account deposits its
collateral and ``borrow``s; ``liquidity`` and a deposit of the vault asset are vault
``deposit``s; ``family_agents.ltv_changes`` are governance ``setLTV`` calls. Drift v2
(:mod:`marginengine.sim.drift_cascade`): ``price.asset`` a spot market, ``book.debt_asset``
the quote; a book account deposits its collateral and withdraws the quote beyond its
deposit (a borrow); no ``liquidity`` (no lenders in the engine); ``[drift_perps]`` (Drift
only) names one of ``drift.perps``, a simulated underlying, and explicit positions of
``[[accounts]]`` in multiples of the step size. Mango v4
(:mod:`marginengine.sim.mango_cascade`): ``price.asset`` a bank besides the quote,
``book.debt_asset`` the quote; the same book as Drift's, no ``liquidity``.
"""

from __future__ import annotations

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.sim.cascade_config import CascadeFile, simulated_assets


def family_kind(protocol: ProtocolConfig) -> str | None:
    """``"liquity"``, ``"morpho"``, ``"euler"``, ``"drift"``, ``"mango"`` or ``None`` (a
    lending protocol), by the protocol's resolved liquidation mechanism."""
    mechanism = protocol.rules.liquidation
    if mechanism is LiquidationMechanism.LIQUITY:
        return "liquity"
    if mechanism is LiquidationMechanism.MORPHO:
        return "morpho"
    if mechanism is LiquidationMechanism.EULER:
        return "euler"
    if mechanism is LiquidationMechanism.DRIFT:
        return "drift"
    if mechanism is LiquidationMechanism.MANGO:
        return "mango"
    return None


def family_assets(protocol: ProtocolConfig, collateral: str, debt: str
                  ) -> tuple[str, str, str | None]:
    """``(collateral, debt, morpho market name or None)`` of a family protocol as the
    scenario uses it; for Morpho the market whose collateral and loan are the given two
    (``None`` when there is none)."""
    if protocol.liquity is not None:
        return protocol.liquity.collateral, protocol.liquity.debt, None
    names = [n for n, m in sorted(protocol.morpho.items())
             if m.collateral == collateral and m.loan == debt]
    return collateral, debt, names[0] if len(names) == 1 else None


def check_family_cascade(spec: CascadeFile, protocol: ProtocolConfig) -> list[str]:
    """The scenario against a Liquity or Morpho protocol (see the module docstring): one
    ``field: reason`` each; nothing for a lending protocol."""
    kind = family_kind(protocol)
    changes = spec.family_agents.ltv_changes
    if kind != "euler" and changes:
        return ["family_agents.ltv_changes: setLTV is Euler v2 governance; protocol.preset "
                f"{protocol.preset} has no Euler vault"]
    if kind != "drift" and spec.drift_perps is not None:
        return [f"drift_perps: perp positions of a Drift v2 cascade; protocol.preset "
                f"{protocol.preset} has no Drift perp markets"]
    if kind is None:
        return []
    problems: list[str] = []
    book = spec.book
    what = {"liquity": "Liquity v1", "morpho": "Morpho Blue", "euler": "Euler v2",
            "drift": "Drift v2", "mango": "Mango v4"}[kind]
    if book.multi():
        problems.append(f"book: a {what} book is borrowers of one collateral and one debt "
                        "asset (accounts, total_debt, collateralization_*); profiles, "
                        "file and snapshot are for lending protocols")
    asset, debt = spec.price.asset, book.debt_asset
    if kind == "liquity":
        lq = protocol.liquity
        assert lq is not None  # the mechanism needs a [liquity] table (config/models.py)
        coll_asset, debt_asset = lq.collateral, lq.debt
        if asset != coll_asset:
            problems.append(f"price.asset: {asset!r} is not the protocol's Liquity "
                            f"collateral {coll_asset!r} (liquity.collateral)")
        if debt != debt_asset:
            problems.append(f"book.debt_asset: {debt!r} is not the protocol's Liquity debt "
                            f"{debt_asset!r} (liquity.debt)")
    elif kind == "euler":
        eu = protocol.euler
        assert eu is not None  # the mechanism needs an [euler] table (config/models.py)
        coll_asset, debt_asset = asset, eu.vault
        if asset not in eu.collaterals:
            problems.append(f"price.asset: {asset!r} is not a collateral of the Euler vault "
                            f"(euler.collaterals: {', '.join(sorted(eu.collaterals))})")
        if debt != debt_asset:
            problems.append(f"book.debt_asset: {debt!r} is not the Euler vault's asset "
                            f"{debt_asset!r} (euler.vault)")
        problems += _ltv_change_problems(spec, sorted(eu.collaterals))
    elif kind == "drift":
        dr = protocol.drift
        assert dr is not None  # the mechanism needs a [drift] table (config/models.py)
        coll_asset, debt_asset = asset, dr.quote
        spot = sorted(n for n in dr.spot if n != dr.quote)
        if asset not in spot:
            problems.append(f"price.asset: {asset!r} is not a Drift spot market besides "
                            f"the quote (drift.spot: {', '.join(spot)})")
        if debt != debt_asset:
            problems.append(f"book.debt_asset: {debt!r} is not the Drift quote "
                            f"{debt_asset!r} (drift.quote): accounts borrow the quote")
        for name in sorted(spec.liquidity):
            problems.append(f"liquidity.{name}: a Drift v2 protocol has no lenders in the "
                            "engine (its spot pools are not modelled); give the keepers "
                            "capital instead")
        problems += _drift_perp_problems(spec, protocol)
    elif kind == "mango":
        mg = protocol.mango
        assert mg is not None  # the mechanism needs a [mango] table (config/models.py)
        coll_asset, debt_asset = asset, mg.quote
        banks = sorted(n for n in mg.tokens if n != mg.quote)
        if asset not in banks:
            problems.append(f"price.asset: {asset!r} is not a Mango bank besides the quote "
                            f"(mango.tokens: {', '.join(banks)})")
        if debt != debt_asset:
            problems.append(f"book.debt_asset: {debt!r} is not the Mango quote "
                            f"{debt_asset!r} (mango.quote): accounts borrow the quote")
        for name in sorted(spec.liquidity):
            problems.append(f"liquidity.{name}: a Mango v4 protocol has no lenders in the "
                            "engine (the banks' other depositors are outside it); give the "
                            "keepers capital instead")
    else:
        coll_asset, debt_asset, market = family_assets(protocol, asset, debt)
        if market is None:
            names = ", ".join(f"{n} ({m.collateral}/{m.loan})"
                              for n, m in sorted(protocol.morpho.items()))
            problems.append(f"book.debt_asset: no Morpho market lends {debt!r} against "
                            f"price.asset {asset!r} (markets: {names}); the cascade runs "
                            "one market, the one with that collateral and loan")
    for name in sorted(spec.liquidity):
        if name != debt_asset and kind not in ("drift", "mango"):
            role = {"liquity": "stability-pool deposits", "morpho": "supply",
                    "euler": "vault deposits"}[kind]
            problems.append(f"liquidity.{name}: a {what} protocol takes {role} of "
                            f"{debt_asset} only")
    for i, acct in enumerate(spec.accounts):
        for name in sorted(acct.deposit):
            if name not in (coll_asset, debt_asset):
                problems.append(f"accounts.{i}.deposit.{name}: a {what} account deposits "
                                f"{coll_asset} (collateral) or {debt_asset}")
        for name in sorted(acct.borrow):
            if name != debt_asset:
                problems.append(f"accounts.{i}.borrow.{name}: a {what} account borrows "
                                f"{debt_asset} only")
        if acct.borrow and coll_asset not in acct.deposit:
            problems.append(f"accounts.{i}.borrow: needs a deposit of {coll_asset} (the "
                            "collateral it borrows against)")
    return problems


def _drift_perp_problems(spec: CascadeFile, protocol: ProtocolConfig) -> list[str]:
    """``[drift_perps]`` against the Drift protocol and the scenario: the market is a
    perp market, its underlying a simulated asset, each explicit position an explicit
    account's, in whole multiples of the market's step size."""
    dp, dr = spec.drift_perps, protocol.drift
    if dp is None or dr is None:
        return []
    problems = []
    if dp.market not in dr.perps:
        problems.append(f"drift_perps.market: {dp.market!r} is not a Drift perp market "
                        f"(drift.perps: {', '.join(sorted(dr.perps)) or 'none'})")
    simulated = sorted(simulated_assets(spec))
    underlying = dp.underlying or spec.price.asset
    if underlying not in simulated:
        problems.append(f"drift_perps.underlying: {underlying!r} is not a simulated asset "
                        f"(price.asset or price.assets: {', '.join(simulated)}); the perp "
                        "is marked at its oracle and unwound on its venue")
    ids = [a.id for a in spec.accounts]
    step = dr.perps[dp.market].order_step_size if dp.market in dr.perps else 1
    for k, pos in enumerate(dp.positions):
        where = f"drift_perps.positions.{k}"
        if pos.account not in ids:
            problems.append(f"{where}.account: {pos.account!r} is not an explicit account "
                            f"(accounts: {', '.join(ids) or 'none'}); give it a deposit in "
                            "[[accounts]] first")
        units = pos.base * 10**9
        if units != units.to_integral_value() or int(units) % step:
            problems.append(f"{where}.base: {pos.base} is not a multiple of the market's "
                            f"step size {step / 10**9} (drift.perps.{dp.market}."
                            "order_step_size, base 1e9)")
    return problems


def _ltv_change_problems(spec: CascadeFile, collaterals: list[str]) -> list[str]:
    """``family_agents.ltv_changes`` against the vault and the run (Euler's ``setLTV``
    takes 1e4-scaled LTVs, borrow at most liquidation: ``E_LTVBorrow``)."""
    problems = []
    for k, c in enumerate(spec.family_agents.ltv_changes):
        where = f"family_agents.ltv_changes.{k}"
        if c.step > spec.steps:
            problems.append(f"{where}.step: {c.step} is after the run's last step "
                            f"({spec.steps})")
        if c.collateral not in collaterals:
            problems.append(f"{where}.collateral: {c.collateral!r} is not a collateral of "
                            f"the vault (collaterals: {', '.join(collaterals)})")
        for name in ("borrow_ltv", "liquidation_ltv"):
            value = getattr(c, name)
            if value * 10_000 != int(value * 10_000):
                problems.append(f"{where}.{name}: {value} has more than 4 decimals (Euler "
                                "holds LTVs in 1e4)")
        if c.borrow_ltv > c.liquidation_ltv:
            problems.append(f"{where}.borrow_ltv: {c.borrow_ltv} is above liquidation_ltv "
                            f"{c.liquidation_ltv} (E_LTVBorrow)")
    return problems


__all__ = ["check_family_cascade", "family_assets", "family_kind"]
