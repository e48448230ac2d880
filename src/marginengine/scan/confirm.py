"""The exact confirmation: the engine's own rule decides every account in the screen's band.

Nothing here computes health: it asks the engine's margin model, at the engine's prices or
at shocked ones, so there is one implementation of the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from marginengine.engine import Engine
from marginengine.fixedpoint import WAD, parse_units
from marginengine.margin import MarginKind
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
                  marks: Mapping[str, int] | None = None) -> list[bool]:
    """For each account, whether the engine's exact health is below ``t_wad``.

    Without ``prices`` and ``marks`` and at ``t_wad == WAD`` this is
    ``engine.is_liquidatable`` itself. Otherwise a lending-only account is below when it
    has debt and its exact health factor (``engine.model.account_data``) is below the
    threshold; an account holding perps is judged on its whole margin bucket
    (``engine.perp_model.bucket``), as the engine does. Shocked ``prices`` (lending assets
    and the quote asset) and ``marks`` (perp markets; default: the engine's) let what-if
    confirm exactly too.
    """
    model, ledger = engine.model, engine.ledger
    if prices is None and marks is None and t_wad == WAD:
        return [engine.is_liquidatable(a) for a in account_ids]
    table = engine.prices if prices is None else prices
    out = []
    for account_id in account_ids:
        if engine.has_perps(account_id):
            if marks is None:
                marks = engine.marks()
            state = engine.perp_model.bucket(ledger, table, marks, account_id).margin(
                MarginKind.MAINTENANCE)
            if t_wad == WAD:
                out.append(state.requirement > 0 and state.value < state.requirement)
            else:
                out.append(state.requirement > 0 and state.health < t_wad)
        elif t_wad == WAD:
            out.append(model.is_liquidatable(ledger, table, account_id))
        else:
            data = model.account_data(ledger, table, account_id)
            out.append(data.total_debt > 0 and data.health_factor < t_wad)
    return out
