"""What a scan of a family book finds (:class:`FamilyScan`), and the screens' band.

Shared by the family risk books: the per-asset-weight book of Euler v2, Mango v4 and
Drift v2 (``scan/families.py``), Liquity v1's troves (``scan/liquity.py``) and Morpho
Blue's isolated markets (``scan/morpho.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The screens' band: a relative margin (every family) and an absolute one (USD, the
#: per-asset-weight book; Liquity's ratio needs none, Morpho's is in loan base units).
RELATIVE_BAND = 1e-6
ABSOLUTE_BAND = 1e-4


@dataclass(frozen=True)
class FamilyScan:
    """What one scan of a family book found.

    Attributes
    ----------
    liquidatable
        The accounts the family's rule says are liquidatable (sorted). Morpho: the
        accounts with a liquidatable position in any market (per market: ``markets``).
    candidates
        The accounts the screen sent to the exact confirmation (Morpho: in any market).
    screened
        Every account of the book (Liquity: every trove; Morpho: every position of every
        market).
    tcr
        Liquity: the system's total collateral ratio at the scan's price (18 decimals,
        rounded down as ``_getTCR``; ``2**256 - 1`` without debt). ``None`` otherwise.
    recovery_mode
        Liquity: whether the system is in recovery mode (TCR below 150%). ``None``
        otherwise.
    markets
        Morpho: each market's own scan (its accounts, candidates and positions). Empty
        otherwise.
    """

    liquidatable: list[str]
    candidates: list[str]
    screened: int
    tcr: int | None = None
    recovery_mode: bool | None = None
    markets: Mapping[str, FamilyScan] = field(default_factory=dict)


__all__ = ["ABSOLUTE_BAND", "RELATIVE_BAND", "FamilyScan"]
