"""Booking accounts as they stand: the one rule behind ``ImportAccount`` and the snapshot
builder (:func:`marginengine.engine.snapshot.engine_from_accounts`).

The accounts' e-mode categories are set, then every supply is booked, then, per asset,
the protocol funds what the pool's cash lacks to pay out every debt (protocol-owned
liquidity, booked as reserves: a state read from a protocol holds the debt, and the pool
that lent it is not in the book), then every debt is booked. Nothing is decided on
margin: the caller has checked the accounts' structure
(:func:`marginengine.margin.account_import.import_problems`).

Accounts booked together are funded together: the snapshot builder books a whole book
at once (a later account's supply funds an earlier account's debt), ``ImportAccount``
one account (the pool's cash as the earlier events left it, lenders' deposits
included).
"""

from __future__ import annotations

from collections.abc import Sequence

from marginengine.ledger.book_file import BookAccount
from marginengine.ledger.ledger import Ledger


def book_as_they_stand(ledger: Ledger, accounts: Sequence[BookAccount]) -> dict[str, int]:
    """Book the lending balances of ``accounts`` (``emode``, ``supplied``, ``borrowed``;
    their perp quote and positions are not read) on ``ledger``, at its current indices.

    Returns
    -------
    dict of str to int
        Per asset, what the protocol funded (smallest units; assets it did not fund left
        out), in sorted order.

    Raises
    ------
    LedgerError
        An amount below one scaled unit (never at genesis: the indices are 1).
    """
    for acct in accounts:
        if acct.emode:
            ledger.set_emode(acct.id, acct.emode)
    owed: dict[str, int] = {}
    for acct in accounts:
        for asset, amount in acct.supplied.items():
            ledger.deposit(acct.id, asset, amount)
        for asset, amount in acct.borrowed.items():
            owed[asset] = owed.get(asset, 0) + amount
    funded: dict[str, int] = {}
    for asset in sorted(owed):
        gap = owed[asset] - ledger.reserves[asset].cash
        if gap > 0:
            ledger.fund_from_protocol(asset, gap)
            funded[asset] = gap
    for acct in accounts:
        for asset, amount in acct.borrowed.items():
            ledger.borrow(acct.id, asset, amount)
    return funded


__all__ = ["book_as_they_stand"]
