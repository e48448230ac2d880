"""What a cascade scenario asks of a Liquity v1 or Morpho Blue protocol, checked before
anything runs (:func:`check_family_cascade`, beside
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
"""

from __future__ import annotations

from marginengine.config import ProtocolConfig
from marginengine.config.families import LiquidationMechanism
from marginengine.sim.cascade_config import CascadeFile


def family_kind(protocol: ProtocolConfig) -> str | None:
    """``"liquity"``, ``"morpho"`` or ``None`` (a lending protocol), by the protocol's
    resolved liquidation mechanism."""
    mechanism = protocol.rules.liquidation
    if mechanism is LiquidationMechanism.LIQUITY:
        return "liquity"
    if mechanism is LiquidationMechanism.MORPHO:
        return "morpho"
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
    if protocol.rules.liquidation in (LiquidationMechanism.EULER, LiquidationMechanism.MANGO,
                                      LiquidationMechanism.DRIFT):
        # Engine presets whose accounts live in a family book (engine/family_state.py);
        # the cascade does not drive their events yet (run them with marginengine family).
        return [f"protocol.preset: {protocol.preset} keeps its accounts in a family book, "
                "which the cascade simulator does not drive yet (run it with marginengine "
                "family, or the engine's events)"]
    kind = family_kind(protocol)
    if kind is None:
        return []
    problems: list[str] = []
    book = spec.book
    what = "Liquity v1" if kind == "liquity" else "Morpho Blue"
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
    else:
        coll_asset, debt_asset, market = family_assets(protocol, asset, debt)
        if market is None:
            names = ", ".join(f"{n} ({m.collateral}/{m.loan})"
                              for n, m in sorted(protocol.morpho.items()))
            problems.append(f"book.debt_asset: no Morpho market lends {debt!r} against "
                            f"price.asset {asset!r} (markets: {names}); the cascade runs "
                            "one market, the one with that collateral and loan")
    for name in sorted(spec.liquidity):
        if name != debt_asset:
            role = "stability-pool deposits" if kind == "liquity" else "supply"
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


__all__ = ["check_family_cascade", "family_assets", "family_kind"]
