"""Exact state: accounts, positions, per-asset reserves, interest indices."""

from marginengine.config.families import Compounding
from marginengine.ledger.account import Account, LendingPosition, check_account_id
from marginengine.ledger.interest import SECONDS_PER_YEAR
from marginengine.ledger.ledger import Ledger, LedgerError
from marginengine.ledger.reserve import ReserveState

__all__ = [
    "SECONDS_PER_YEAR",
    "Account",
    "Compounding",
    "Ledger",
    "LedgerError",
    "LendingPosition",
    "ReserveState",
    "check_account_id",
]
