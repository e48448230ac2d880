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


def test_ids_when_read_again_and_after_relayout_then_decoded_ids_follow_the_rows():
    # ids() keeps the ids it decodes by row; a relayout renumbers rows, so what it kept
    # must go: the same rows then name other accounts.
    index = AccountIndex(["b", "d", "a", "c"])
    assert index.ids(np.array([3, 0])) == ["c", "b"]
    assert index.ids(np.array([0, 3, 1])) == ["b", "c", "d"]  # two kept, one decoded
    index.relayout(np.array([3, 2, 1, 0]))  # old row -> new row
    assert index.ids(np.array([3, 0])) == ["b", "c"]
    assert index.ids(range(4)) == ["c", "a", "d", "b"]
    assert index.add("e") == 4
    assert index.ids([4, 0]) == ["e", "c"]  # an added row (not kept: rows may move)
    assert index.ids(np.zeros(0, dtype=np.int64)) == []


def test_ids_when_same_rows_asked_twice_then_a_copy_and_rows_found_by_id():
    index = AccountIndex(["b", "d", "a", "c"])
    first = index.ids(np.array([3, 0]))
    first.append("mutated by the caller")  # the keepers' list is extended in place
    assert index.ids(np.array([3, 0])) == ["c", "b"]  # the rows asked last: unchanged
    # Every id decoded by row is found by row() without a search, the same row.
    assert (index.row("c"), index.row("b")) == (3, 0)
    index.relayout(np.array([1, 0, 3, 2]))  # the same rows name other accounts now
    assert index.ids(np.array([3, 0])) == ["a", "d"]
    assert (index.row("c"), index.row("b")) == (2, 1)


def test_ids_when_many_rows_then_vector_decode_gives_the_same_ids():
    names = [f"acct{i:05d}" for i in range(5_000)]
    index = AccountIndex(names)
    rows = np.arange(4_999, -1, -1)  # beyond the row-by-row limit: one vector decode
    assert index.ids(rows) == names[::-1]
    assert index.ids(rows[:10]) == names[::-1][:10]
