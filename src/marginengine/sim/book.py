"""Seeded synthetic books of borrowers (vaults): a few whales, many small accounts.

Debt sizes are lognormal with the whales holding a set share; each account's
collateralization (collateral value / debt) is lognormal around a median, floored at the
protocol's minimum, so the book's health is spread the way real books are: most accounts
comfortable, a thin layer near the edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticAccount:
    """One borrower: its id, debt (USD) and collateral (USD at the start price)."""

    id: str
    debt_usd: float
    collateral_usd: float


def synthetic_book(rng: np.random.Generator, accounts: int, total_debt: float, whales: int,
                   whale_share: float, median_ratio: float, sigma: float,
                   min_ratio: float) -> list[SyntheticAccount]:
    """Draw a book; debts sum to ``total_debt`` exactly (up to float rounding).

    Parameters
    ----------
    rng
        The seeded generator (all draws come from it).
    accounts
        Number of borrowers, whales included.
    total_debt
        USD of debt in the book.
    whales, whale_share
        How many whales, and the share of the debt they hold together.
    median_ratio, sigma, min_ratio
        Collateralization (collateral / debt): lognormal median and log-sigma, floored.
    """
    if accounts < 1 or total_debt <= 0:
        raise ValueError("accounts must be >= 1 and total_debt > 0")
    whales = min(whales, accounts - 1) if accounts > 1 else 0
    small = accounts - whales
    sizes = rng.lognormal(0.0, 1.2, size=small)
    small_total = total_debt * (1 - whale_share) if whales else total_debt
    sizes *= small_total / sizes.sum()
    whale_sizes = np.full(whales, total_debt * whale_share / whales) if whales else \
        np.zeros(0)
    ratios = np.maximum(rng.lognormal(np.log(median_ratio), sigma, size=accounts), min_ratio)
    book = []
    for i, debt in enumerate([*whale_sizes.tolist(), *sizes.tolist()]):
        prefix = "whale" if i < whales else "vault"
        book.append(SyntheticAccount(f"{prefix}{i:05d}", float(debt),
                                     float(debt * ratios[i])))
    return book
