"""The exact confirmation: the engine's own rule decides every account in the screen's band.

Nothing here computes health: it asks the engine's margin model, at the engine's prices or
at shocked ones, so there is one implementation of the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from marginengine.engine import Engine
from marginengine.fixedpoint import WAD, parse_units
from marginengine.scan.errors import ScanError

#: Thresholds the screen supports (below 0.001 the wad rounding of HF is not covered).
MIN_THRESHOLD = Decimal("0.001")
MAX_THRESHOLD = Decimal(1000)


def threshold_wad(threshold: object) -> int:
    """A health threshold (``1``, ``"1.05"``) as an exact wad; raises :class:`ScanError`."""
    try:
        value = Decimal(str(threshold))
        wad = parse_units(value, 18)
    except (ValueError, ArithmeticError) as exc:
        raise ScanError(f"threshold: {exc}") from None
    if not MIN_THRESHOLD <= value <= MAX_THRESHOLD:
        raise ScanError(
            f"threshold: must be between {MIN_THRESHOLD} and {MAX_THRESHOLD} (got {threshold})"
        )
    return wad


def confirm_below(engine: Engine, account_ids: Iterable[str], t_wad: int,
                  prices: Mapping[str, int] | None = None) -> list[bool]:
    """For each account, whether the engine's exact health is below ``t_wad``.

    At ``t_wad == WAD`` this is ``engine.model.is_liquidatable`` itself; otherwise the
    account has debt and its exact health factor (``account_data``) is below the threshold.
    ``prices`` defaults to the engine's; shocked prices let what-if confirm exactly too.
    """
    table = engine.prices if prices is None else prices
    model, ledger = engine.model, engine.ledger
    if t_wad == WAD:
        return [model.is_liquidatable(ledger, table, a) for a in account_ids]
    out = []
    for account_id in account_ids:
        data = model.account_data(ledger, table, account_id)
        out.append(data.total_debt > 0 and data.health_factor < t_wad)
    return out
