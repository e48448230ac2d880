"""Account ids: the whole string must match (issue 9, item 5)."""

import pytest

from marginengine.ledger import check_account_id


@pytest.mark.parametrize("good", ["alice", "a", "0xAbC", "vault:1", "trader/eth", "x" * 64])
def test_check_account_id_when_well_formed_then_returned(good: str):
    assert check_account_id(good) == good


@pytest.mark.parametrize("bad", ["alice\n", "alice\n\n", "trader/eth\n", "", "bad id",
                                 "x" * 65, "a/b/c"])
def test_check_account_id_when_malformed_or_trailing_newline_then_refused(bad: str):
    with pytest.raises(ValueError, match=r"^who: account id must be 1-64 letters"):
        check_account_id(bad, "who")
