"""Liquity v1's troves in the risk book: every trove's ICR screened in float64, the
candidates confirmed by the engine's own rule (``liquidation/liquity_system.py``
:func:`~marginengine.liquidation.liquity_system.is_liquidatable`: what a
``LiquityLiquidate`` of the trove would do now).

Layout: one row per trove (in the system's order), its *entire* collateral and debt as float64: the
recorded ``coll`` and ``debt`` (wei; the debt is the composite debt, the 200 LUSD
liquidation reserve included, as the engine's ``LiquitySystem`` holds it) plus its pending
redistribution rewards ``stake x (L - snapshot) / 1e18`` (``getEntireDebtAndColl``).

The screen: Liquity's price (the engine's USD price of the collateral x 1e10,
``engine/liquity_handlers.py``) and the system's TCR are exact integers (two products over
the pools' totals), and so is the *line* below which the rule can liquidate a trove: 110%
(``MCR``) in normal mode, ``max(110%, TCR)`` in recovery mode (TCR below 150%: the rule
liquidates ``ICR < MCR``, or ``ICR < TCR`` when the stability pool absorbs the whole debt;
``_liquidateRecoveryMode``). A trove is a candidate when its float ICR is at most the line
x (1 + ``RELATIVE_BAND``): the exact ICR rounds the true ratio down and the float is
within about 1e-15 of it, far inside the band. The exact rule then decides each candidate,
with what the line leaves out: the pool's capacity in recovery mode and the last trove
(never liquidated). There is one implementation of the rule, Liquity's.

Each trove is judged as ``liquidate(borrower)`` now, alone: a batch that liquidates several
in sequence moves the TCR (and may end recovery mode) between them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from marginengine.engine import Engine
from marginengine.engine.liquity_handlers import PRICE_SCALE
from marginengine.liquidation import liquity_system as ops
from marginengine.liquidation.liquity_system import LiquitySystem
from marginengine.margin import liquity as rules
from marginengine.scan.errors import ScanError
from marginengine.scan.family_scan import RELATIVE_BAND, FamilyScan

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class LiquityRiskBook:
    """A columnar mirror of an engine's Liquity v1 troves.

    Parameters
    ----------
    engine
        An engine whose protocol is ``liquity-v1`` or ``liquity-v1-2025``.

    Raises
    ------
    ScanError
        The engine's protocol has no troves.
    """

    def __init__(self, engine: Engine) -> None:
        if engine.state.liquity is None or engine.config.liquity is None:
            raise ScanError(f"preset: {engine.config.preset} has no Liquity troves "
                            "(liquity-v1 or liquity-v1-2025)")
        self.engine = engine
        self.refresh()

    def system(self) -> LiquitySystem:
        """The engine's Liquity system (troves, pools, stability pool)."""
        system = self.engine.state.liquity
        assert system is not None  # checked at construction; a preset keeps its family
        return system

    def refresh(self) -> None:
        """Rebuild the columns from the engine's troves (entire collateral and debt)."""
        system = self.system()
        # Rows in the system's own order (the engine's, deterministic): no sort per refresh.
        self.ids: list[str] = list(system.troves)
        troves = list(system.troves.values())
        n = len(troves)
        l_eth, l_debt = system.dist.l_eth, system.dist.l_lusd_debt
        # The pending rewards' products are exact ints; only their sums become floats.
        self.coll: FloatArray = np.fromiter(
            (t.coll + t.stake * (l_eth - t.snap_eth) / rules.DECIMAL_PRECISION
             for t in troves), np.float64, n)
        self.debt: FloatArray = np.fromiter(
            (t.debt + t.stake * (l_debt - t.snap_debt) / rules.DECIMAL_PRECISION
             for t in troves), np.float64, n)

    def price(self) -> int:
        """Liquity's price of the collateral (18 decimals) from the engine's.

        Raises
        ------
        ScanError
            No price has been set for the collateral.
        """
        cfg = self.engine.config.liquity
        assert cfg is not None
        prices = self.engine.prices
        if cfg.collateral not in prices:
            raise ScanError(f"prices: no price has been set for {cfg.collateral}")
        return prices[cfg.collateral] * PRICE_SCALE

    def line(self, price: int) -> tuple[int, bool, int]:
        """``(TCR, recovery mode, line)`` at Liquity's ``price``: the line is the ICR
        (18 decimals) from which no trove can be liquidated (see the module)."""
        system = self.system()
        tcr = system.tcr(price)
        recovery = rules.is_recovery_mode(system.system_coll, system.system_debt, price)
        return tcr, recovery, max(rules.MCR, tcr) if recovery else rules.MCR

    def screen(self, price: int | None = None) -> BoolArray:
        """Which troves the exact rule must decide at Liquity's ``price`` (default: the
        engine's); the rest cannot be liquidated."""
        price = self.price() if price is None else price
        _, _, line = self.line(price)
        with np.errstate(divide="ignore", invalid="ignore"):
            icr = self.coll * (price / rules.DECIMAL_PRECISION) / self.debt
        bound = line / rules.DECIMAL_PRECISION * (1 + RELATIVE_BAND)
        result: BoolArray = (self.debt > 0) & (icr <= bound)
        return result

    def scan(self) -> FamilyScan:
        """Screen every trove, confirm the candidates with Liquity's rule; the TCR and
        whether the system is in recovery mode."""
        self.refresh()
        system = self.system()
        if not self.ids and not system.system_debt:
            # No debt: TCR is Liquity's infinite ratio, whatever the price (none needed).
            return FamilyScan([], [], 0, tcr=rules.INFINITE_CR, recovery_mode=False)
        price = self.price()
        tcr, recovery, _ = self.line(price)
        candidates = sorted(self.ids[i] for i in np.flatnonzero(self.screen(price)))
        liquidatable = [t for t in candidates if ops.is_liquidatable(system, t, price)]
        return FamilyScan(sorted(liquidatable), candidates, len(self.ids), tcr=tcr,
                          recovery_mode=recovery)


__all__ = ["LiquityRiskBook"]
