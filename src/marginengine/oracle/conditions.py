"""Market conditions of one asset: volatility, liquidity depth, open interest.

They reach the engine as a ``SetConditions`` event beside ``SetPrice``, so a model that
uses them (adaptive margin) stays deterministic: the same events give the same
conditions, and they are part of the state hash. Every figure is an exact int with its
unit; a field left out (``None``) keeps the value it had.

Units
-----
volatility_ppm
    Annualized volatility of the asset's price in ppm (``800_000`` = 80% a year).
depth
    Liquidity depth: base-currency units (USD with 8 decimals) of a trade that moves the
    price by 2% on the asset's reference venue.
open_interest
    Open interest in the asset's smallest units (a perp market: base smallest units).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from marginengine.errors import FieldError

#: Volatility above 100,000% a year is refused as a units mistake.
MAX_VOLATILITY_PPM = 1_000 * 1_000_000
CONDITION_FIELDS: tuple[str, ...] = ("volatility_ppm", "depth", "open_interest")


@dataclass(frozen=True)
class MarketConditions:
    """An asset's market conditions (``None``: never reported)."""

    volatility_ppm: int | None = None
    depth: int | None = None
    open_interest: int | None = None

    def updated(self, **fields: int | None) -> MarketConditions:
        """These conditions with the given fields replaced (``None`` keeps the old value)."""
        return replace(self, **{k: v for k, v in fields.items() if v is not None})

    def as_dict(self) -> dict[str, int | None]:
        """Plain data for details and the state hash."""
        return asdict(self)


def check_condition(name: str, value: object) -> int | None:
    """``value`` if it is a valid figure for field ``name``; else :class:`FieldError`.

    Each field is ``None`` or a non-negative int (not a bool, not a float); volatility is
    at most :data:`MAX_VOLATILITY_PPM`.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, f"must be an integer (got {value!r})")
    if value < 0:
        raise FieldError(name, f"must not be negative (got {value})")
    if name == "volatility_ppm" and value > MAX_VOLATILITY_PPM:
        raise FieldError(name, f"must be at most {MAX_VOLATILITY_PPM} ppm a year (got {value})")
    return value


__all__ = ["CONDITION_FIELDS", "MAX_VOLATILITY_PPM", "MarketConditions", "check_condition"]
