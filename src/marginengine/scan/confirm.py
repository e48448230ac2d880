"""The exact confirmation: the engine's own rule decides every account in the screen's band.

Nothing here computes health: it asks the engine's margin model, at the engine's prices or
at shocked ones, so there is one implementation of the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from marginengine.engine import Engine
from marginengine.fixedpoint import parse_units
from marginengine.scan.errors import ScanError

#: Thresholds the screen supports (below 0.001 the wad rounding of HF is not covered).
MIN_THRESHOLD = Decimal("0.001")
MAX_THRESHOLD = Decimal(1000)


def threshold_wad(threshold: object) -> int:
    """A health threshold (``1``, ``"1.05"``) as an exact wad; raises :class:`ScanError`."""
    try:
        value = Decimal(str(threshold).strip())
    except ArithmeticError:
        raise ScanError(f"threshold: must be a number such as 1 or 1.05 (got {threshold!r})"
                        ) from None
    if not value.is_finite():
        raise ScanError(f"threshold: must be a finite number (got {threshold!r})")
    try:
        wad = parse_units(value, 18)
    except ValueError as exc:
        raise ScanError(f"threshold: {exc}") from None
    if not MIN_THRESHOLD <= value <= MAX_THRESHOLD:
        raise ScanError(
            f"threshold: must be between {MIN_THRESHOLD} and {MAX_THRESHOLD} (got {threshold})"
        )
    return wad


def confirm_below(engine: Engine, account_ids: Iterable[str], t_wad: int,
                  prices: Mapping[str, int] | None = None,
                  marks: Mapping[str, int] | None = None,
                  surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
                  ) -> list[bool]:
    """For each account, whether the engine's exact health is below ``t_wad``.

    At ``t_wad == WAD`` this is the family's liquidation rule itself; otherwise an account
    is below when it has a requirement and its maintenance health is below the threshold.
    Both through :meth:`AccountMarginModel.is_below`, the rule the engine uses. Shocked
    ``prices`` (lending assets and the quote asset) and ``marks`` (perp markets; default:
    the engine's) let what-if confirm exactly too, and ``surfaces`` (``(underlying,
    expiry) -> (vol_ppm, skew_ppm)``) the vol surfaces of portfolio accounts' options.
    """
    # One rule decides: the engine's margin interface (margin.AccountMarginModel).
    valuation = engine.valuation(prices, marks, surfaces)
    model, ledger = engine.margin_model, engine.ledger
    return [model.is_below(ledger, valuation, a, t_wad) for a in account_ids]
