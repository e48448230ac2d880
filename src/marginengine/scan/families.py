"""The risk book of the engine families with books of their own: Euler v2, Mango v4 and
Drift v2 screened here through per-asset weights, the candidates confirmed exactly by the
engine's margin interface (so by the family's own rule); Liquity v1's troves and Morpho
Blue's markets by their own mirrors (``scan/liquity.py``, ``scan/morpho.py``), which
:class:`FamilyRiskBook` reaches for those presets.

Layout: one dense ``N x K`` float64 matrix of signed token amounts (whole tokens; a
collateral or deposit positive, a debt or borrow negative) over the family's assets, and
per asset its USD price, its maintenance asset weight and its maintenance liability weight:

- Euler: the collaterals at their (ramping) liquidation LTVs, the vault's asset as the
  debt at weight 1 (``LiquidityUtils.calculateLiquidity``);
- Mango: every bank at its maint asset and liability weights (maint health at the oracle);
- Drift: every spot market at its maintenance asset and liability weights.

An account is a candidate when its screened weighted collateral does not exceed its
weighted debt by more than a band (relative ``RELATIVE_BAND`` plus ``ABSOLUTE_BAND`` USD,
far above float64's error and the families' per-term rounding), or when the screen cannot
bound it: it holds a perp (Mango, Drift: their perp terms are not per-asset weights) or a
Drift spot market with an IMF factor (the size discount only lowers the asset weight and
the premium only raises the liability weight, so the plain weights would not be a safe
bound). Candidates are confirmed with :func:`~marginengine.scan.confirm.confirm_below`:
there is one implementation of each rule, the family's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from marginengine.engine import Engine
from marginengine.engine.family_state import DriftBook, EulerBook, MangoBook
from marginengine.fixedpoint import PRICE_UNIT, WAD
from marginengine.scan.confirm import confirm_below
from marginengine.scan.errors import ScanError
from marginengine.scan.family_scan import ABSOLUTE_BAND, RELATIVE_BAND, FamilyScan
from marginengine.scan.liquity import LiquityRiskBook
from marginengine.scan.morpho import MorphoRiskBook

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class FamilyRiskBook:
    """A columnar mirror of an engine's family book: Euler, Mango or Drift (per-asset
    weights, here), Liquity's troves (:class:`~marginengine.scan.liquity.LiquityRiskBook`)
    or Morpho's markets (:class:`~marginengine.scan.morpho.MorphoRiskBook`).

    Parameters
    ----------
    engine
        An engine whose protocol is ``euler-v2``, ``mango-v4``, ``drift-v2``,
        ``liquity-v1``, ``liquity-v1-2025`` or ``morpho-blue``.

    Attributes
    ----------
    mirror
        Liquity's or Morpho's mirror (``None`` for the per-asset-weight families), which
        :meth:`refresh`, :meth:`screen` and :meth:`scan` use.

    Raises
    ------
    ScanError
        The engine's protocol has no family book.
    """

    def __init__(self, engine: Engine) -> None:
        state = engine.state
        self.engine = engine
        self.mirror: LiquityRiskBook | MorphoRiskBook | None = None
        if state.liquity is not None:
            self.mirror = LiquityRiskBook(engine)
        elif state.morpho:
            self.mirror = MorphoRiskBook(engine)
        elif state.family is None:
            raise ScanError(f"preset: {engine.config.preset} has no family book (euler-v2, "
                            "mango-v4, drift-v2, liquity-v1, liquity-v1-2025 or "
                            "morpho-blue)")
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the columns from the engine's book (amounts, weights, flags; Liquity's
        troves; Morpho's positions)."""
        if self.mirror is not None:
            self.mirror.refresh()
            return
        book, config = self.engine.state.family, self.engine.config
        now = self.engine.ledger.time
        rows: list[dict[str, int]] = []
        always: list[bool] = []
        self.ids: list[str] = []
        if isinstance(book, EulerBook):
            cfg = config.euler
            assert cfg is not None
            self.assets = [*sorted(book.ltvs), cfg.vault]
            self.asset_weight = np.array([book.ltvs[a].get_ltv(now, True) / 10_000
                                          for a in sorted(book.ltvs)] + [0.0])
            self.liab_weight = np.array([0.0] * len(book.ltvs) + [1.0])
            for aid, acct in sorted(book.accounts.items()):
                self.ids.append(aid)
                rows.append({**acct.collateral, cfg.vault: -acct.debt})
                always.append(False)
        elif isinstance(book, MangoBook):
            mango = config.mango
            assert mango is not None
            self.assets = list(mango.tokens)
            # A maint weight shift moves each weight linearly between the bank's and the
            # target (Bank::maint_weights): the worse of the two screens at every time.
            self.asset_weight = np.array([min(
                (t := mango.tokens[a]).maint_asset_weight,
                t.maint_weight_shift_asset_target if t.maint_weight_shift
                and t.maint_weight_shift_asset_target is not None else t.maint_asset_weight)
                for a in self.assets], dtype=float)
            self.liab_weight = np.array([max(
                (t := mango.tokens[a]).maint_liab_weight,
                t.maint_weight_shift_liab_target if t.maint_weight_shift
                and t.maint_weight_shift_liab_target is not None else t.maint_liab_weight)
                for a in self.assets], dtype=float)
            for aid, m_acct in sorted(book.accounts.items()):
                self.ids.append(aid)
                rows.append(dict(m_acct.tokens))
                always.append(any(p.base_lots or p.quote or p.bids or p.asks
                                  for p in m_acct.perps.values()))
        else:
            assert isinstance(book, DriftBook)
            drift = config.drift
            assert drift is not None
            self.assets = list(drift.spot)
            self.asset_weight = np.array([float(drift.spot[a].maintenance_asset_weight)
                                          for a in self.assets])
            self.liab_weight = np.array([float(drift.spot[a].maintenance_liability_weight)
                                         for a in self.assets])
            sized = {a for a in self.assets if drift.spot[a].imf_factor > 0}
            for aid, d_acct in sorted(book.accounts.items()):
                self.ids.append(aid)
                rows.append(dict(d_acct.spot))
                always.append(any(any(p) for p in d_acct.perps.values())
                              or any(d_acct.spot.get(a) for a in sized))
        index = {a: k for k, a in enumerate(self.assets)}
        self.amounts: FloatArray = np.zeros((len(rows), len(self.assets)))
        for i, held in enumerate(rows):
            for asset, amount in held.items():
                if amount:
                    unit = 10 ** config.markets[asset].decimals
                    self.amounts[i, index[asset]] = amount / unit
        self.always: BoolArray = np.array(always, dtype=bool)

    def _prices(self) -> FloatArray:
        prices = self.engine.prices
        held = np.any(self.amounts != 0, axis=0) if len(self.ids) else np.zeros(0, bool)
        missing = [a for a, h in zip(self.assets, held, strict=True) if h and a not in prices]
        if missing:
            raise ScanError(f"prices: no price has been set for {', '.join(missing)}")
        return np.array([prices[a] / PRICE_UNIT if a in prices else 0.0 for a in self.assets])

    def screen(self) -> BoolArray:
        """Which rows the exact rule must decide (the rest are healthy for sure)."""
        if self.mirror is not None:
            return self.mirror.screen()
        value = self.amounts * self._prices()
        collateral = np.where(value > 0, value, 0.0) @ self.asset_weight
        debt = np.where(value < 0, -value, 0.0) @ self.liab_weight
        near = collateral <= debt * (1 + RELATIVE_BAND) + ABSOLUTE_BAND
        has_debt = debt > 0
        result: BoolArray = (near & has_debt) | self.always
        return result

    def scan(self) -> FamilyScan:
        """Screen every account, confirm the candidates with the family's rule."""
        if self.mirror is not None:
            return self.mirror.scan()
        self.refresh()
        rows = np.flatnonzero(self.screen())
        candidates = [self.ids[i] for i in rows]
        below = confirm_below(self.engine, candidates, WAD)
        return FamilyScan(sorted(a for a, b in zip(candidates, below, strict=True) if b),
                          candidates, len(self.ids))


__all__ = ["ABSOLUTE_BAND", "RELATIVE_BAND", "FamilyRiskBook", "FamilyScan"]
