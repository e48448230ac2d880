"""The risk book's float columns (issue 9, item 4): a value beyond float64 is a named
error, not an OverflowError."""

import pytest

from marginengine.fixedpoint import RAY
from marginengine.scan.assets import AssetVectors
from marginengine.scan.errors import ScanError
from tests.conftest import simple_aave


def test_set_indices_when_index_beyond_float_range_then_scan_error_naming_it():
    vectors = AssetVectors(simple_aave())
    k = vectors.column["USDC"]
    assert vectors.set_indices(k, RAY, 2 * RAY) and vectors.borrow_index[k] == 2.0
    with pytest.raises(ScanError, match=r"^USDC: borrow index is about 10\^400, too large "
                                        r"for the float screen"):
        vectors.set_indices(k, RAY, 10**400 * RAY)
    assert vectors.borrow_index_ray[k] == 2 * RAY  # unchanged: nothing half-set


def test_set_price_when_beyond_float_range_then_scan_error():
    vectors = AssetVectors(simple_aave())
    with pytest.raises(ScanError, match=r"^WETH: price "):
        vectors.set_price(vectors.column["WETH"], 10**400)
