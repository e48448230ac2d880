"""Account ids to rows and back, through additions and re-layouts."""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.scan.accounts import AccountIndex


def test_row_when_ids_given_then_lookup_both_ways():
    index = AccountIndex(["carol", "alice", "bob/isolated"])
    assert [index.row(a) for a in ("carol", "alice", "bob/isolated")] == [0, 1, 2]
    assert index.row("dave") is None
    assert index.ids([2, 0]) == ["bob/isolated", "carol"]
    assert list(index.rows(["alice", "carol"])) == [1, 0]
    with pytest.raises(KeyError, match="dave"):
        index.rows(["dave"])


def test_add_when_new_accounts_then_next_rows_and_relayout_merges():
    index = AccountIndex(["b", "d"])
    assert index.add("a-much-longer-account-id") == 2
    assert index.add("c") == 3
    with pytest.raises(ValueError, match="already"):
        index.add("b")
    index.relayout(np.array([3, 1, 0, 2]))  # old row -> new row
    assert [index.row(a) for a in ("b", "d", "a-much-longer-account-id", "c")] == [3, 1, 0, 2]
    assert index.ids(range(4)) == ["a-much-longer-account-id", "d", "c", "b"]
    assert len(index) == 4


def test_init_when_duplicate_ids_then_error():
    with pytest.raises(ValueError, match="duplicate account id 'x'"):
        AccountIndex(["x", "y", "x"])


def test_empty_index_then_no_rows():
    index = AccountIndex()
    assert len(index) == 0 and index.row("a") is None
    assert index.add("a") == 0 and index.id(0) == "a"
