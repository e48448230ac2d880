"""The structural check of an account imported as it stands (``ImportAccount``).

A protocol's state read at one moment (a snapshot of Aave taken in a crash) holds accounts
that no borrow would open today: above their borrowing power, below health 1. Importing
such an account checks what the ledger needs to hold it, and nothing about margin: the
id, the protocol's markets, positive amounts within a uint256, an e-mode category that
exists and lets the account owe what it owes (:func:`marginengine.margin.emode.
emode_problems`, the book readers' rule), and Comet's signed base balance (an account
supplies or borrows the base asset, never both: ``validateBorrow``'s counterpart in
:func:`marginengine.margin.validation.validate_borrow_asset`). Whether the account is new
is the engine's state, checked by the handler.

:func:`import_problems` lists every problem as ``(field, reason)``, for the book readers
and the snapshot builder, which name the line or field of each;
:func:`validate_import` is the handler's: the first problem as a typed refusal
(``INVALID_IMPORT``, ``data["field"]``).
"""

from __future__ import annotations

from collections.abc import Iterable

from marginengine.config import ProtocolConfig
from marginengine.config.amounts import MAX_UNITS
from marginengine.decisions import Code, Refusal
from marginengine.ledger import check_account_id
from marginengine.margin.emode import emode_problems


def import_problems(config: ProtocolConfig, account: object,
                    supplied: Iterable[tuple[str, int]], borrowed: Iterable[tuple[str, int]],
                    emode: int) -> list[tuple[str, str]]:
    """Every structural problem of an import, as ``(field, reason)``, in field order.

    Parameters
    ----------
    config
        The protocol.
    account
        The account id.
    supplied, borrowed
        ``(asset, amount)`` pairs, smallest units.
    emode
        The e-mode category (0: none).

    Returns
    -------
    list of (str, str)
        ``field`` is ``account``, ``supplied``, ``supplied.ASSET``, ``borrowed.ASSET``
        or ``emode``; empty when the import is well formed.
    """
    problems: list[tuple[str, str]] = []
    try:
        check_account_id(account, "account")
    except ValueError as exc:
        problems.append(("account", str(exc).partition(": ")[2]))
    markets = config.markets
    held: dict[str, dict[str, int]] = {"supplied": {}, "borrowed": {}}
    for side, pairs in (("supplied", supplied), ("borrowed", borrowed)):
        for asset, amount in pairs:
            at = f"{side}.{asset}"
            if asset not in markets:
                problems.append((at, f"unknown asset {asset!r} (markets: "
                                     f"{', '.join(sorted(markets))})"))
            elif amount <= 0:
                problems.append((at, f"must be positive (got {amount})"))
            elif amount > MAX_UNITS:
                problems.append((at, "too large (more than 2**256 - 1 smallest units)"))
            else:
                held[side][asset] = amount
    if not held["supplied"] and not held["borrowed"] and not any(
            f.startswith(("supplied.", "borrowed.")) for f, _ in problems):
        problems.append(("supplied", "nothing to import: give a supplied or a borrowed "
                                     "balance"))
    for what, reason in emode_problems(config, emode, held["borrowed"]):
        problems.append(("emode" if what == "emode" else f"borrowed.{what}", reason))
    if config.rules.signed_base_balance:
        for asset in sorted(held["supplied"].keys() & held["borrowed"].keys()):
            problems.append((f"borrowed.{asset}",
                             f"in {config.rules.family} the base balance is signed: an "
                             f"account supplies {asset} or borrows it, not both"))
    return problems


def validate_import(config: ProtocolConfig, account: str,
                    supplied: Iterable[tuple[str, int]], borrowed: Iterable[tuple[str, int]],
                    emode: int) -> Refusal | None:
    """The first of :func:`import_problems` as ``INVALID_IMPORT`` (message
    ``field: reason``; data ``field``, ``account``, ``reason``), or ``None``."""
    problems = import_problems(config, account, supplied, borrowed, emode)
    if not problems:
        return None
    field, reason = problems[0]
    return Refusal(Code.INVALID_IMPORT, f"{field}: {reason}",
                   {"field": field, "account": str(account), "reason": reason})


__all__ = ["import_problems", "validate_import"]
