"""Account ids: the one pattern every input's account id must match (a config's role
holders, books, snapshots, events; :mod:`marginengine.ledger` re-exports it)."""

from __future__ import annotations

import re

ACCOUNT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}(/[A-Za-z0-9_.:@-]{1,64})?$")


def check_account_id(account_id: object, field_name: str = "account") -> str:
    """Return ``account_id`` if well formed, else raise ``ValueError`` naming the field."""
    # fullmatch: the pattern's $ alone would accept a trailing newline ("alice\n").
    if not isinstance(account_id, str) or not ACCOUNT_ID_PATTERN.fullmatch(account_id):
        raise ValueError(
            f"{field_name}: account id must be 1-64 letters, digits or . _ : @ -, "
            f"optionally /label for an isolated sub-account (got {account_id!r})"
        )
    return account_id
