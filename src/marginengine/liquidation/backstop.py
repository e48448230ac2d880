"""The last steps of the backstop waterfall as pure rules: what the insurance fund covers,
and how a loss it cannot cover is socialized over the other accounts' perp balances.

(The middle step, auto-deleveraging, is :mod:`marginengine.liquidation.adl`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def insurance_cover(shortfall: int, fund: int, negative_balance: int) -> int:
    """What the insurance fund pays toward a bankrupt bucket: the shortfall (negative
    equity), at most the fund and at most the account's negative perp balance."""
    return max(0, min(shortfall, fund, negative_balance))


@dataclass(frozen=True)
class Socialization:
    """A loss spread over perp balances: each holder's share, and what is left as deficit.

    Attributes
    ----------
    shares
        Quote smallest units taken from each holder (zero shares left out).
    taken
        Their sum: at most the loss, at most what the holders hold.
    deficit
        The loss the holders could not cover.
    """

    shares: dict[str, int]
    taken: int
    deficit: int


def socialize_loss(loss: int, holders: Mapping[str, int]) -> Socialization:
    """Spread ``loss`` over ``holders`` (account -> positive perp balance) pro rata to their
    balances, by largest remainder (ties to the smaller id), so the shares sum exactly to
    ``min(loss, total held)``; the rest is deficit."""
    total = sum(holders.values())
    take = min(max(loss, 0), total)
    shares: dict[str, int] = {}
    if take:
        exact = {a: q * take for a, q in sorted(holders.items())}
        shares = {a: v // total for a, v in exact.items()}
        left = take - sum(shares.values())
        for a in sorted(exact, key=lambda a: (-(exact[a] % total), a))[:left]:
            shares[a] += 1
    return Socialization({a: s for a, s in shares.items() if s}, take, max(loss, 0) - take)


def socialize_over_open_interest(loss: int, sizes: Mapping[str, int]) -> Socialization:
    """Spread ``loss`` over a market's open positions (account -> signed size, both sides)
    in proportion to ``|size|``, by largest remainder (ties to the smaller id), so the
    shares sum exactly to the loss; with no open position it is all deficit.

    The rule of Drift v2 and Mango v4, which charge a perp bankruptcy's remaining loss to
    every position of the market, long and short, per unit of base held:
    drift-labs/protocol-v2 ``math/liquidation.rs``
    ``calculate_funding_rate_deltas_to_resolve_bankruptcy`` (the loss over
    ``|base_asset_amount_long| + |base_asset_amount_short|``, added to the longs'
    cumulative funding and taken from the shorts'), and blockworks-foundation/mango-v4
    ``state/perp_market.rs`` ``socialize_loss`` (the loss over ``open_interest``, the base
    lots of both sides). A holder's share is charged whatever its balance (it may go
    negative, as a funding payment would). Exact here: the shares sum to the loss (Drift
    rounds the per-base delta up, Mango keeps an I80F48 quotient).

    >>> socialize_over_open_interest(100, {"long": 30, "short": -60}).shares
    {'long': 33, 'short': 67}
    """
    weights = {a: abs(s) for a, s in sorted(sizes.items()) if s}
    total = sum(weights.values())
    take = max(loss, 0) if total else 0
    shares: dict[str, int] = {}
    if take:
        exact = {a: w * take for a, w in weights.items()}
        shares = {a: v // total for a, v in exact.items()}
        left = take - sum(shares.values())
        for a in sorted(exact, key=lambda a: (-(exact[a] % total), a))[:left]:
            shares[a] += 1
    return Socialization({a: s for a, s in shares.items() if s}, take, max(loss, 0) - take)


__all__ = ["Socialization", "insurance_cover", "socialize_loss", "socialize_over_open_interest"]
