"""The protocols' storage widths as revert conditions (margin/validation.py
``validate_index_widths``, ``validate_balance_widths``): Aave v3's ``SafeCast.toUint128``
of each new index in ``ReserveLogic._updateIndexes`` and ``toUint128``/``toUint120`` of
scaled balances (aave-dao/aave-v3-origin@v3.3.0 and @4fbd7442
``src/contracts/protocol/libraries/logic/ReserveLogic.sol``,
``tokenization/base/ScaledBalanceTokenBase.sol``, ``IncentivizedERC20.sol``); Compound
III's ``uint64`` indices, ``int104`` principal and ``uint104`` totals
(compound-finance/comet@d5a30b0a ``contracts/Comet.sol``, ``CometStorage.sol``,
``CometMath.sol``)."""

from hypothesis import given
from hypothesis import strategies as st

from marginengine.config import lending_rules
from marginengine.config.families import AAVE_V3_3_WIDTHS, AAVE_V3_5_WIDTHS, COMET_WIDTHS
from marginengine.decisions import Code
from marginengine.fixedpoint import RAY
from marginengine.margin.validation import validate_balance_widths, validate_index_widths


def test_index_when_exactly_uint128_max_then_accepted_and_one_more_refused():
    assert validate_index_widths(AAVE_V3_5_WIDTHS, "USDC", False, 2**128 - 1, RAY) is None
    refused = validate_index_widths(AAVE_V3_5_WIDTHS, "USDC", False, RAY, 2**128)
    assert refused is not None and refused.code is Code.SAFECAST_OVERFLOW
    assert refused.data == {"asset": "USDC", "name": "borrow_index", "bits": 128,
                            "value": 2**128, "limit": 2**128 - 1,
                            "revert": "SafeCastOverflowedUintDowncast"}
    assert refused.message == (
        "USDC borrow_index would be 340282366920938463463374607431768211456, beyond "
        "uint128 (at most 2**128 - 1): the protocol's cast reverts "
        "(SafeCastOverflowedUintDowncast)")
    v33 = validate_index_widths(AAVE_V3_3_WIDTHS, "WETH", False, 2**128, RAY)
    assert v33 is not None and v33.data["name"] == "liquidity_index"
    assert v33.data["revert"] == "SafeCast: value doesn't fit in 128 bits"


def test_comet_index_when_uint64_max_at_1e15_then_accepted_and_one_more_refused():
    # The ledger holds Comet's 1e15 index times 1e12 (a ray): the stored value is
    # index // 1e12, so every ray index up to (2**64 - 1) x 1e12 + 1e12 - 1 fits.
    top = (2**64 - 1) * 10**12
    assert validate_index_widths(COMET_WIDTHS, "USDC", True, top + 10**12 - 1, RAY) is None
    refused = validate_index_widths(COMET_WIDTHS, "USDC", True, RAY, top + 10**12)
    assert refused is not None and refused.data["value"] == 2**64
    assert refused.data["revert"] == "InvalidUInt64" and refused.data["bits"] == 64
    # Collateral earns no interest in Comet: only the base asset's indices are stored.
    assert validate_index_widths(COMET_WIDTHS, "WETH", False, RAY, 2**200) is None


def test_balance_when_beyond_each_family_width_then_refused_with_that_width():
    assert validate_balance_widths(AAVE_V3_3_WIDTHS, "USDC", False, 2**128 - 1, 2**200) is None
    assert validate_balance_widths(AAVE_V3_5_WIDTHS, "USDC", False, 2**120 - 1, 2**200) is None
    v35 = validate_balance_widths(AAVE_V3_5_WIDTHS, "USDC", False, 2**120, 2**120, debt=True)
    assert v35 is not None and v35.data["bits"] == 120
    assert v35.data["name"] == "scaled debt balance"
    # Comet's base: principal int104 (2**103 - 1 at most), totals uint104.
    assert validate_balance_widths(COMET_WIDTHS, "USDC", True, 2**103 - 1, 2**104 - 1) is None
    principal = validate_balance_widths(COMET_WIDTHS, "USDC", True, 2**103, 2**103)
    assert principal is not None and principal.data["revert"] == "InvalidInt104"
    assert "beyond int104" in principal.message
    total = validate_balance_widths(COMET_WIDTHS, "USDC", True, 1, 2**104)
    assert total is not None and total.data["name"] == "total scaled supply"
    # A Comet collateral: uint128 (safe128).
    assert validate_balance_widths(COMET_WIDTHS, "WETH", False, 2**128 - 1, 2**128 - 1) is None
    coll = validate_balance_widths(COMET_WIDTHS, "WETH", False, 2**128, 2**128)
    assert coll is not None and coll.data["revert"] == "InvalidUInt128"


def test_widths_when_family_keeps_state_of_its_own_then_not_modelled_here():
    assert lending_rules("aave-v3.3", False).widths is AAVE_V3_3_WIDTHS
    assert lending_rules("aave-v3", False).widths is AAVE_V3_5_WIDTHS
    assert lending_rules("compound-v3", False).widths is COMET_WIDTHS
    for family in ("morpho-blue", "euler-v2", "liquity-v1", "mango-v4", "drift-v2"):
        assert lending_rules(family, False).widths is None
    assert validate_index_widths(None, "USDC", False, 2**300, 2**300) is None


@given(st.integers(min_value=RAY, max_value=2**140), st.integers(min_value=RAY,
                                                                 max_value=2**140))
def test_index_check_when_any_indices_then_refused_iff_one_exceeds_uint128(li, bi):
    refused = validate_index_widths(AAVE_V3_5_WIDTHS, "X", False, li, bi)
    assert (refused is not None) == (max(li, bi) > 2**128 - 1)


def test_balance_when_revert_given_then_named_for_the_account_balance_only():
    # A liquidator receiving aTokens (receive_supply): IncentivizedERC20._transfer adds to
    # UserState.balance with a checked uint120 add (v3.5.0), not a SafeCast.
    panic = "panic 0x11"
    assert validate_balance_widths(AAVE_V3_5_WIDTHS, "WETH", False, 2**120 - 1, 2**200,
                                   revert=panic) is None
    moved = validate_balance_widths(AAVE_V3_5_WIDTHS, "WETH", False, 2**120, 2**120,
                                    revert=panic)
    assert moved is not None and moved.data["revert"] == panic
    assert moved.data["value"] == 2**120 and moved.data["limit"] == 2**120 - 1
    # Comet's base total keeps its own error (totalSupplyBase's checked uint104 add).
    total = validate_balance_widths(COMET_WIDTHS, "USDC", True, 1, 2**104, revert=panic)
    assert total is not None and total.data["revert"] == COMET_WIDTHS.total_revert
