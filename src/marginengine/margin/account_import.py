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
(``INVALID_IMPORT``, ``data["field"]``). :func:`signed_base_problems` is Comet's rule on
its own, and :func:`book_problems` the book readers' check of an account's category and
balances (the e-mode rule and this one), so a book Comet cannot hold is refused by the
line or field when read, whichever way it is then opened.
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
    problems += [(f"borrowed.{asset}", reason) for asset, reason in
                 signed_base_problems(config, held["supplied"], held["borrowed"])]
    return problems


def signed_base_problems(config: ProtocolConfig, supplied: Iterable[str],
                         borrowed: Iterable[str]) -> list[tuple[str, str]]:
    """The base asset where it is both supplied and borrowed and the protocol's base
    balance is signed, as ``(asset, reason)``.

    Comet holds one signed base principal per account (compound-finance/comet
    ``contracts/CometStorage.sol``: ``userBasic[account]``, a ``UserBasic`` whose
    ``principal`` is an ``int104``, positive a supply, negative a debt), so an account supplies
    the base or owes it, never both; Aave keeps a reserve's aToken and debt token apart, so
    there (``signed_base_balance`` false) nothing is a problem. Comet lends only its base,
    so another asset owed is not borrowable
    (:func:`marginengine.margin.emode.emode_problems` says so) and is not named again here,
    as ``validateBorrow``'s counterpart refuses it as not borrowable first
    (:func:`marginengine.margin.validation.validate_borrow_asset`).

    Parameters
    ----------
    config
        The protocol (``config.rules.signed_base_balance``).
    supplied, borrowed
        The assets the account supplies and owes.

    Returns
    -------
    list of (str, str)
        Empty when the balances can be held.
    """
    base = config.base_asset
    if not config.rules.signed_base_balance or base not in set(supplied) & set(borrowed):
        return []
    return [(base, f"in {config.rules.family} the base balance is signed: an account "
                   f"supplies {base} or borrows it, not both")]


def book_problems(config: ProtocolConfig, category_id: int, supplied: Iterable[str],
                  borrowed: Iterable[str]) -> list[tuple[str, str]]:
    """What is wrong with an account of a book or snapshot in e-mode category
    ``category_id`` supplying ``supplied`` and owing ``borrowed``, as ``(what, reason)``:
    ``what`` is ``"emode"`` or a borrowed asset.

    The e-mode rule (:func:`marginengine.margin.emode.emode_problems`) then Comet's signed
    base balance (:func:`signed_base_problems`): the readers' share of
    :func:`import_problems` (amounts and ids they check by their own cells). Each caller
    names the line or field: the book readers pass ``functools.partial(book_problems,
    config)`` to :func:`marginengine.ledger.book_file.read_book`, the snapshot builder
    calls it through :func:`marginengine.engine.snapshot.emode_fields`.
    """
    held = list(borrowed)
    return [*emode_problems(config, category_id, held),
            *signed_base_problems(config, supplied, held)]


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


__all__ = ["book_problems", "import_problems", "signed_base_problems", "validate_import"]
