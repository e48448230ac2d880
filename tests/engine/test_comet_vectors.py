"""Compound III's own test figures, reproduced through the engine's events.

Source: compound-finance/comet@d5a30b0aaeff7755f1431e87f818990902237b03, ``test/*.ts`` on
``contracts/Comet.sol`` (``isLiquidatable``, ``isBorrowCollateralized``, ``absorbInternal``,
``buyCollateral``, ``quoteCollateral``, ``getUtilization``, ``getSupplyRate``,
``getBorrowRate``, ``getNowInternal``, ``withdrawBase``, ``supplyCollateral``). Comet's tests
set balances with ``setBasePrincipal`` / ``setCollateralBalance``; here the same balances are
booked with ``ImportAccount`` at genesis (indices 1, so a principal is its present value),
and the figures are read back from the engine's outcomes and state.

``makeProtocol`` (``test/helpers.ts``): COMP (18 decimals, 175 USD), USDC base (6, 1 USD),
WETH (18, 3,000), WBTC (8, 41,000); borrowCF ``1e18 - 1`` (stored 0.9999), liquidateCF and
liquidationFactor 1, supplyCap 100 tokens, storeFrontPriceFactor 1, targetReserves 0,
baseBorrowMin 1 USDC. ``liquidation_bonus`` is Aave's field, unused by Comet; it is set to
0 so that a liquidate factor of 1 passes the Aave-style bonus check of the configuration.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    Absorb,
    AdvanceTime,
    Borrow,
    BuyCollateral,
    Deposit,
    Engine,
    ImportAccount,
    SetPrice,
    Withdraw,
)
from marginengine.errors import ConfigError
from marginengine.ledger.interest import SECONDS_PER_YEAR
from tests.conftest import USD, USDC

TOKEN = 10**18
WBTC_UNIT = 10**8
PRICES = {"USDC": 1, "COMP": 175, "WETH": 3_000, "WBTC": 41_000}


def _asset(decimals: int, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "decimals": decimals, "ltv": "0.999999999999999999", "liquidation_threshold": "1",
        "liquidation_factor": "1", "liquidation_bonus": "0", "borrowable": False,
        "supply_cap": "100"}
    spec.update(overrides)
    return spec


def make_protocol(compound: dict[str, Any] | None = None, prices: dict[str, Any] | None = None,
                  **assets: dict[str, Any]) -> Engine:
    """Comet's ``makeProtocol`` as an engine; ``assets`` override a collateral's fields."""
    markets = {"USDC": {"decimals": 6, "collateral": False},
               "COMP": _asset(18, **assets.get("COMP", {})),
               "WETH": _asset(18, **assets.get("WETH", {})),
               "WBTC": _asset(8, **assets.get("WBTC", {}))}
    rules = {"base_asset": "USDC", "store_front_price_factor": "1", "target_reserves": "0",
             "base_borrow_min": "1", "interest": {}}
    rules.update(compound or {})
    engine = Engine(protocol_from_dict({"preset": "compound-v3", "markets": markets,
                                        "compound": rules}))
    for asset, price in {**PRICES, **(prices or {})}.items():
        assert engine.apply(SetPrice(asset, int(Decimal(price) * USD))).accepted
    return engine


def book(engine: Engine, account: str, debt: int, **collateral: int) -> None:
    outcome = engine.apply(ImportAccount(account, tuple(collateral.items()),
                                         (("USDC", debt),) if debt else ()))
    assert outcome.accepted, outcome.reason


# --------------------------------------------------------------------- isLiquidatable
# test/is-liquidatable-test.ts: COMP at 1 USD, alice owes 100,000 USDC.
@pytest.mark.parametrize(("comp", "comp_spec", "liquidatable"), [
    (100_000, {}, False),   # "is false when collateral can cover the borrowed principal"
    (95_000, {}, True),     # "is true when the collateral cannot cover ..."
    # "takes liquidateCollateralFactor into account": 100,000 x 0.8 < 100,000.
    (100_000, {"ltv": "0.75", "liquidation_threshold": "0.8"}, True),
])
def test_is_liquidatable_when_comet_vectors_then_same_answer(
        comp: int, comp_spec: dict[str, Any], liquidatable: bool) -> None:
    engine = make_protocol(prices={"COMP": 1}, COMP={**comp_spec, "supply_cap": "1000000"})
    book(engine, "alice", 100_000 * USDC, COMP=comp * TOKEN)
    assert engine.is_liquidatable("alice") is liquidatable


def test_is_liquidatable_when_price_halves_then_true_and_owing_nothing_is_never() -> None:
    # "changes when the underlying asset price changes": 100,000 COMP at 1 covers, at 0.5
    # it does not. "is false when user is owed principal" / "defaults to false".
    engine = make_protocol(prices={"COMP": 1}, COMP={"supply_cap": "1000000"})
    book(engine, "alice", 100_000 * USDC, COMP=100_000 * TOKEN)
    book(engine, "bob", 0, USDC=100 * USDC)
    assert not engine.is_liquidatable("alice")
    assert engine.apply(SetPrice("COMP", USD // 2)).accepted
    assert engine.is_liquidatable("alice")
    assert not engine.is_liquidatable("bob")
    # "is true when user owes principal" (no collateral at all).
    fresh = make_protocol()
    book(fresh, "carol", 100 * USDC)
    assert fresh.is_liquidatable("carol")


# ------------------------------------------------------------- isBorrowCollateralized
def _borrow_collateralized(engine: Engine, account: str) -> bool:
    """``isBorrowCollateralized``: ``sum(value x borrowCF) + signedMulPrice(debt) >= 0``."""
    data = engine.account_data(account)
    return data.initial_value >= data.total_debt


@pytest.mark.parametrize(("borrow_cf", "comp", "price", "collateralized"), [
    ("0.9", 12 * TOKEN // 10, 1, True),    # 1.2 COMP x 0.9 = 1.08 covers 1 USDC
    ("0.9", TOKEN, 1, False),              # 1 COMP x 0.9 = 0.9 does not
    ("0.2", 5 * TOKEN, 1, True),           # "changes when the underlying asset price..."
    ("0.2", 5 * TOKEN, "0.5", False),      # 5 x 0.5 x 0.2 = 0.5 < 1
])
def test_is_borrow_collateralized_when_comet_vectors_then_same_answer(
        borrow_cf: str, comp: int, price: Any, collateralized: bool) -> None:
    # test/is-borrow-collateralized-test.ts: alice owes 1 USDC against COMP.
    engine = make_protocol(prices={"COMP": price}, COMP={"ltv": borrow_cf})
    assert engine.apply(Deposit("lp", "USDC", 10 * USDC)).accepted  # cash to borrow
    book(engine, "alice", USDC, COMP=comp)
    assert _borrow_collateralized(engine, "alice") is collateralized
    # withdrawBase asks the same question after a borrow: where the answer is false, one
    # more unit refuses NotCollateralized (5 COMP x 0.2 = 1 USDC is exactly covered, so
    # there one more unit is refused too).
    outcome = engine.apply(Borrow("alice", "USDC", 1))
    if not collateralized:
        assert outcome.code == Code.NOT_COLLATERALIZED.value


# ---------------------------------------------------------------------------- absorb
def test_absorb_when_three_accounts_with_collateral_then_debts_paid_out_by_reserves() -> None:
    # absorb-test.ts "absorbs 3 accounts with collateral and pays out the absorber": each
    # account's collateral is seized whole into the protocol's collateral reserves, its
    # principal goes to 0, and the USDC reserves fall by basePaidOut = the whole debt
    # (1e6 + 1e12 + 1e18 units): every credit (value x liquidationFactor 1) is below it.
    engine = make_protocol(COMP={"supply_cap": "100000"}, WETH={"supply_cap": "1000"})
    book(engine, "u1", 10**6, COMP=10**12)
    book(engine, "u2", 10**12, COMP=10 * TOKEN, WETH=TOKEN)
    book(engine, "u3", 10**18, COMP=10_000 * TOKEN, WETH=50 * TOKEN, WBTC=50 * WBTC_UNIT)
    usdc = engine.ledger.reserves["USDC"]
    before = usdc.present_value_reserves()
    credits = {}
    for account in ("u1", "u2", "u3"):
        outcome = engine.apply(Absorb("absorber", account))
        assert outcome.accepted, outcome.reason
        assert outcome.details["new_balance"] == 0
        credits[account] = outcome.details["credit"]
        for asset in ("USDC", "COMP", "WETH", "WBTC"):
            assert engine.ledger.supply_of(account, asset) == 0
            assert engine.ledger.debt_of(account, asset) == 0
    # basePaidOut per account: the debt, as the AbsorbDebt events.
    assert credits == {"u1": 10**6, "u2": 10**12, "u3": 10**18}
    assert usdc.present_value_reserves() - before == -(10**6 + 10**12 + 10**18)
    # cTR1.reserves: the seized collateral belongs to the protocol.
    reserves = engine.ledger.reserves
    assert reserves["COMP"].reserves == 10**12 + 10 * TOKEN + 10_000 * TOKEN
    assert reserves["WETH"].reserves == TOKEN + 50 * TOKEN
    assert reserves["WBTC"].reserves == 50 * WBTC_UNIT
    # One absorb event per account: 3 absorbs of 1 account (Comet: 1 call of 3).
    points = engine.liquidator_points("absorber")
    assert (points.num_absorbs, points.num_absorbed) == (3, 3)
    assert engine.liquidator_points("u1").num_absorbs == 0
    engine.ledger.check_conservation()


def test_absorb_when_collateral_covers_more_than_debt_then_one_unit_left_as_supply() -> None:
    # absorb-test.ts "absorbs an account with more than enough collateral to still cover
    # debt": borrowCF 1/2, liquidateCF 2/3 (factor(2/3) = 0.666666, stored 0.6666); the
    # debt is 44,175 USDC less one unit against 1 COMP + 1 WETH + 1 WBTC (44,175 USD).
    factors = {"ltv": "0.5", "liquidation_threshold": "0.666666"}
    engine = make_protocol(COMP=factors, WETH=factors, WBTC=factors)
    debt = 41_000 * USDC + 3_000 * USDC + 175 * USDC - 1
    book(engine, "underwater", debt, COMP=TOKEN, WETH=TOKEN, WBTC=WBTC_UNIT)
    before = engine.ledger.reserves["USDC"].present_value_reserves()
    outcome = engine.apply(Absorb("absorber", "underwater"))
    assert outcome.accepted, outcome.reason
    # basePaidOut = 44,175e6: the debt cleared and a balance of 1 unit supplied.
    assert outcome.details["credit"] == 44_175 * USDC
    assert outcome.details["new_balance"] == 1
    assert engine.ledger.supply_of("underwater", "USDC") == 1
    assert engine.ledger.scaled_supply_of("underwater", "USDC") == 1  # principal 1
    assert engine.ledger.debt_of("underwater", "USDC") == 0
    assert engine.ledger.reserves["USDC"].present_value_reserves() - before == \
        -44_175 * USDC
    engine.ledger.check_conservation()


# ---------------------------------------------------------------------- buyCollateral
def _reserves_with_seized_comp(compound: dict[str, Any], liquidation_factor: str) -> Engine:
    """100 USDC supplied by ``lp`` and borrowed by ``u`` against 60 COMP at 1 USD, then
    absorbed: the USDC reserves are -100e6 (as buy-collateral-test.ts's ``setTotalsBasic``
    of totalSupplyBase 100e6, no borrows) and the protocol holds 60 COMP
    (``COMP.allocateTo(comet, 60e18)``)."""
    engine = make_protocol(compound=compound, prices={"COMP": 1},
                           COMP={"liquidation_factor": liquidation_factor})
    assert engine.apply(Deposit("lp", "USDC", 100 * USDC)).accepted
    book(engine, "u", 100 * USDC, COMP=60 * TOKEN)
    assert engine.apply(Absorb("absorber", "u")).accepted
    assert engine.ledger.reserves["USDC"].present_value_reserves() == -100 * USDC
    assert engine.ledger.reserves["COMP"].reserves == 60 * TOKEN
    return engine


def test_buy_collateral_when_reserves_below_zero_target_then_store_front_quote() -> None:
    # buy-collateral-test.ts "allows buying collateral when reserves < 0 and target
    # reserves is 0": storeFrontPriceFactor 0.5, liquidationFactor 0.8, so the discount
    # is 0.5 x 0.2 = 10%: 50 USDC buy 50 / 0.9 = 55.555555555555555555 COMP, and the
    # reserves rise from -100e6 to -50e6.
    engine = _reserves_with_seized_comp({"store_front_price_factor": "0.5"}, "0.8")
    outcome = engine.apply(BuyCollateral("alice", "COMP", 50 * USDC, 50 * TOKEN))
    assert outcome.accepted, outcome.reason
    assert outcome.details["collateral_bought"] == 55_555_555_555_555_555_555
    assert engine.ledger.reserves["USDC"].present_value_reserves() == -50 * USDC
    assert engine.ledger.reserves["COMP"].reserves == \
        60 * TOKEN - 55_555_555_555_555_555_555
    engine.ledger.check_conservation()


@pytest.mark.parametrize(("base_amount", "min_amount", "code"), [
    # "reverts if slippage is too high": at market price (storeFrontPriceFactor 1 x
    # (1 - liquidationFactor 1) = 0 off) 50 USDC buy 50 COMP, below a minimum of 100.
    (50 * USDC, 100 * TOKEN, Code.TOO_MUCH_SLIPPAGE),
    # "reverts if not enough collateral to buy": 200 USDC ask 200 COMP of the 60 held.
    (200 * USDC, 200 * TOKEN, Code.INSUFFICIENT_RESERVES),
])
def test_buy_collateral_when_slippage_or_short_then_comet_errors(
        base_amount: int, min_amount: int, code: Code) -> None:
    engine = _reserves_with_seized_comp({"target_reserves": "0.0001"}, "1")
    outcome = engine.apply(BuyCollateral("alice", "COMP", base_amount, min_amount))
    assert outcome.code == code.value
    assert engine.ledger.reserves["COMP"].reserves == 60 * TOKEN
    # The quote itself: 50 USDC buy exactly 50 COMP at market price.
    assert engine.apply(BuyCollateral("alice", "COMP", 50 * USDC, 50 * TOKEN)).accepted


def test_buy_collateral_when_reserves_at_or_above_target_then_not_for_sale() -> None:
    # "reverts if reserves are above target reserves": reserves 100e6 > targetReserves 0.
    # Here the protocol funds an imported 100 USDC borrow from its own liquidity (booked
    # as reserves: ImportAccount's rule), so getReserves reads 100e6.
    engine = make_protocol(prices={"COMP": 1})
    book(engine, "u", 100 * USDC, COMP=60 * TOKEN)   # the protocol funds the 100 USDC
    assert engine.ledger.reserves["USDC"].present_value_reserves() == 100 * USDC
    outcome = engine.apply(BuyCollateral("alice", "COMP", 50 * USDC, 0))
    assert outcome.code == Code.NOT_FOR_SALE.value


# ------------------------------------------------------------------- interest rates
# test/interest-rate-test.ts's interestRateParams; utilization made with real balances.
RATES = {"supply_kink": "0.8", "supply_base": "0", "supply_slope_low": "0.04",
         "supply_slope_high": "0.4", "borrow_kink": "0.8", "borrow_base": "0.01",
         "borrow_slope_low": "0.05", "borrow_slope_high": "0.3"}


@pytest.mark.parametrize(("borrowed", "supply_per_second", "borrow_per_second"), [
    (100, 126_839_167, 475_646_878),        # 10%: 0.004 and 0.015 a year
    (900, 2_283_105_022, 2_536_783_357),    # 90%: 0.072 and 0.08 a year (above kink)
    (0, 0, 317_097_919),                    # no borrows: the borrow base, 0.01 a year
])
def test_rates_when_utilization_made_by_events_then_comet_per_second_rates(
        borrowed: int, supply_per_second: int, borrow_per_second: int) -> None:
    engine = make_protocol(compound={"interest": RATES},
                           WETH={"supply_cap": "1000"})
    assert engine.apply(Deposit("lp", "USDC", 1_000 * USDC)).accepted
    assert engine.apply(Deposit("bob", "WETH", 10 * TOKEN)).accepted
    if borrowed:
        assert engine.apply(Borrow("bob", "USDC", borrowed * USDC)).accepted
    usdc = engine.ledger.reserves["USDC"]
    # Held as yearly rays: per second x SECONDS_PER_YEAR x 1e9, exactly.
    assert usdc.liquidity_rate == supply_per_second * SECONDS_PER_YEAR * 10**9
    assert usdc.borrow_rate == borrow_per_second * SECONDS_PER_YEAR * 10**9
    # accruedInterestIndices over one hour: index + index x rate x 3600 / 1e18, floored.
    assert engine.apply(AdvanceTime(3_600)).accepted
    assert usdc.liquidity_index // 10**12 == 10**15 + 10**15 * supply_per_second * 3_600 \
        // 10**18
    assert usdc.borrow_index // 10**12 == 10**15 + 10**15 * borrow_per_second * 3_600 \
        // 10**18


# ------------------------------------------------------------------------- the clock
def test_advance_time_when_past_uint40_then_timestamp_too_large_and_nothing_moves() -> None:
    # accrue-test.ts "supports up to the maximum timestamp then breaks": getNowInternal
    # reverts TimestampTooLarge once block.timestamp >= 2**40. The engine's clock counts
    # from 0: 2**40 - 1 s is held, one second more is refused, state unchanged.
    engine = make_protocol(WETH={"supply_cap": "1000"})
    assert engine.apply(Deposit("lp", "USDC", 1_000 * USDC)).accepted
    assert engine.apply(AdvanceTime(100)).accepted
    assert engine.apply(AdvanceTime(2**40 - 1 - 100)).accepted
    assert engine.ledger.time == 2**40 - 1
    before = engine.ledger.state_hash()
    outcome = engine.apply(AdvanceTime(1))
    assert outcome.code == Code.TIMESTAMP_TOO_LARGE.value
    assert outcome.reason == (
        "time would be 1099511627776 s, beyond the protocol's uint40 clock (at most "
        "2**40 - 1 = 1099511627775 s): every call reverts (TimestampTooLarge)")
    assert engine.ledger.state_hash() == before and engine.ledger.time == 2**40 - 1


# ------------------------------------------------------ baseBorrowMin and supply caps
def test_borrow_when_below_base_borrow_min_then_borrow_too_small() -> None:
    # withdraw-test.ts "reverts if withdraw amount is less than baseBorrowMin": 0.5 USDC
    # against baseBorrowMin 1 USDC. At exactly 1 USDC the borrow passes that check.
    engine = make_protocol(WETH={"supply_cap": "1000"})
    assert engine.apply(Deposit("lp", "USDC", 1_000 * USDC)).accepted
    assert engine.apply(Deposit("alice", "WETH", TOKEN)).accepted
    outcome = engine.apply(Borrow("alice", "USDC", USDC // 2))
    assert outcome.code == Code.BORROW_TOO_SMALL.value
    assert outcome.reason == "debt of 0.5 USDC would be below base_borrow_min 1 USDC"
    assert engine.apply(Borrow("alice", "USDC", USDC)).accepted


def test_borrow_when_no_collateral_then_not_collateralized() -> None:
    # withdraw-test.ts "reverts if base withdraw amount is not collateralzed": 1 USDC with
    # nothing supplied.
    engine = make_protocol()
    assert engine.apply(Deposit("lp", "USDC", 1_000 * USDC)).accepted
    assert engine.apply(Deposit("alice", "USDC", 1)).accepted
    assert engine.apply(Withdraw("alice", "USDC", 1)).accepted  # alice exists, holds 0
    outcome = engine.apply(Borrow("alice", "USDC", USDC))
    assert outcome.code == Code.NOT_COLLATERALIZED.value


def test_supply_collateral_when_beyond_supply_cap_then_supply_cap_exceeded() -> None:
    # supply-test.ts "reverts if supplying collateral exceeds the supply cap"
    # (supplyCollateral: totalSupplyAsset + amount > supplyCap). makeProtocol's cap is
    # 100 COMP: 100 fit, one wei more does not.
    engine = make_protocol()
    assert engine.apply(Deposit("bob", "COMP", 100 * TOKEN)).accepted
    outcome = engine.apply(Deposit("alice", "COMP", 1))
    assert outcome.code == Code.SUPPLY_CAP_EXCEEDED.value


def test_supply_collateral_when_cap_zero_then_every_supply_refused() -> None:
    # supply-test.ts "reverts if supplying collateral exceeds the supply cap": COMP with
    # supplyCap 0, 8e8 units supplied: SupplyCapExceeded (0 + 8e8 > 0). Comet's 0 is a
    # cap of 0, not Aave's "no cap"; nothing moves.
    engine = make_protocol(COMP={"supply_cap": "0"})
    before = engine.ledger.state_hash()
    outcome = engine.apply(Deposit("alice", "COMP", 8 * 10**8))
    assert outcome.code == Code.SUPPLY_CAP_EXCEEDED.value
    assert outcome.data == {"cap": 0, "total": 8 * 10**8}
    assert engine.ledger.state_hash() == before


def test_supply_cap_when_omitted_then_comets_largest_and_base_uncapped() -> None:
    # No cap set: Comet's largest, 2**64 - 1 whole tokens (getPackedAssetInternal's uint64).
    # The base asset has none at all (supplyBase checks no cap).
    engine = make_protocol(WBTC={"supply_cap": None})
    wbtc = engine.config.markets["WBTC"]
    assert wbtc.supply_cap is None
    assert wbtc.comet_supply_cap_units == (2**64 - 1) * WBTC_UNIT
    cap_config = protocol_from_dict({"preset": "compound-v3",
                                     "markets": {"USDC": {"decimals": 6, "collateral": False},
                                                 "WETH": {"ltv": "0.8",
                                                          "liquidation_threshold": "0.85",
                                                          "borrowable": False}},
                                     "compound": {"base_asset": "USDC"}})
    assert cap_config.markets["WETH"].supply_cap is None
    assert cap_config.markets["USDC"].supply_cap is None
    assert engine.apply(Deposit("lp", "USDC", 10**12 * USDC)).accepted


def test_supply_cap_when_fractional_then_kept_in_whole_tokens() -> None:
    # getPackedAssetInternal: uint64(supplyCap / 10**decimals), so 100.9 COMP is a cap of
    # 100 COMP: 100 fit, one wei more is refused, and the truncation is reported.
    engine = make_protocol(COMP={"supply_cap": "100.9"})
    assert engine.config.markets["COMP"].comet_supply_cap_units == 100 * TOKEN
    assert ("markets.COMP.supply_cap: 100.9 is stored as 100 (Comet keeps whole tokens, "
            "truncated)") in engine.config.truncations()
    assert engine.apply(Deposit("bob", "COMP", 100 * TOKEN)).accepted
    outcome = engine.apply(Deposit("alice", "COMP", 1))
    assert outcome.code == Code.SUPPLY_CAP_EXCEEDED.value
    assert outcome.data == {"cap": 100 * TOKEN, "total": 100 * TOKEN + 1}


@pytest.mark.parametrize(("market", "spec", "message"), [
    ("USDC", {"decimals": 6, "collateral": False, "supply_cap": "0"},
     "markets.USDC.supply_cap: Comet has no supply cap on its base asset (supplyBase checks "
     "none); remove it"),
    ("COMP", _asset(18, supply_cap=str(2**64)),
     f"markets.COMP.supply_cap: at most {2**64 - 1} whole tokens (Comet packs the cap in a "
     f"uint64), got {2**64}"),
])
def test_supply_cap_when_not_comets_then_config_refused(
        market: str, spec: dict[str, Any], message: str) -> None:
    markets: dict[str, Any] = {"USDC": {"decimals": 6, "collateral": False},
                               "COMP": _asset(18)}
    markets[market] = spec
    with pytest.raises(ConfigError) as info:
        protocol_from_dict({"preset": "compound-v3", "markets": markets,
                            "compound": {"base_asset": "USDC"}})
    assert message in str(info.value)


def test_supply_cap_when_aave_zero_then_still_no_cap() -> None:
    # Aave's validateSupply: supplyCap == 0 is no cap; only Comet reads 0 as 0.
    config = protocol_from_dict({"preset": "aave-v3",
                                 "markets": {"WETH": {"supply_cap": "0"}, "USDC": {}}})
    engine = Engine(config)
    assert engine.apply(Deposit("alice", "WETH", 10**6 * TOKEN)).accepted


# ------------------------------------------------------------ base supply, any amount
def _set_supply_index(engine: Engine, index: int) -> Any:
    """The harness's ``setTotalsBasic(baseSupplyIndex)`` on the engine's ledger (ray): what
    suppliers gain is taken from the reserves, so the books still balance."""
    usdc = engine.ledger.reserves["USDC"]
    usdc.reserves_ray -= usdc.scaled_supply * (index - usdc.liquidity_index)
    usdc.liquidity_index = index
    return usdc


def test_supply_base_when_user_supply_same_as_total_then_principal_floored() -> None:
    # supply-test.ts "user supply is same as total supply": baseSupplyIndex 1.085e15
    # (set by the harness's setTotalsBasic; here on the engine's ledger, in ray: the
    # Comet index x 1e12), bob supplies 10 units: principal floor(10 x 1e15 / 1.085e15)
    # = 9, present value floor(9 x 1.085) = 9, totalSupplyBase 100 + 9 = 109.
    engine = make_protocol()
    assert engine.apply(Deposit("carol", "USDC", 100)).accepted   # totalSupplyBase 100
    usdc = _set_supply_index(engine, 1_085 * 10**24)
    assert engine.apply(Deposit("bob", "USDC", 10)).accepted
    assert engine.ledger.scaled_supply_of("bob", "USDC") == 9
    assert engine.ledger.supply_of("bob", "USDC") == 9
    assert usdc.scaled_supply == 109


def test_supply_base_when_below_one_unit_of_principal_then_accepted_and_kept() -> None:
    # supplyBase has no minimum (baseBorrowMin binds borrows only, withdrawBase): 1 unit
    # at baseSupplyIndex 1.085e15 is principal floor(1e15 / 1.085e15) = 0. Comet takes
    # the token and moves no principal, so it joins the reserves (getReserves: balance -
    # supply + borrow). The engine refused it as "below one scaled unit" (Aave's
    # INVALID_MINT_AMOUNT), which Comet's base does not have.
    engine = make_protocol()
    assert engine.apply(Deposit("carol", "USDC", 100)).accepted
    usdc = _set_supply_index(engine, 1_085 * 10**24)
    reserves, cash = usdc.present_value_reserves(), usdc.cash
    outcome = engine.apply(Deposit("bob", "USDC", 1))
    assert outcome.accepted, outcome.reason
    assert engine.ledger.scaled_supply_of("bob", "USDC") == 0
    assert usdc.scaled_supply == 100
    assert usdc.cash == cash + 1
    assert usdc.present_value_reserves() == reserves + 1
    # A collateral is not indexed: any amount is that many units.
    assert engine.apply(Deposit("bob", "WETH", 1)).accepted
    assert engine.ledger.supply_of("bob", "WETH") == 1


# ----------------------------------------------------------- the constructor's limits
def _config(markets: dict[str, Any] | None = None, **compound: Any) -> dict[str, Any]:
    return {"preset": "compound-v3",
            "markets": markets or {"USDC": {"decimals": 6, "collateral": False},
                                   "COMP": _asset(18)},
            "compound": {"base_asset": "USDC", **compound}}


def _many(count: int) -> dict[str, Any]:
    markets: dict[str, Any] = {"USDC": {"decimals": 6, "collateral": False}}
    markets.update({f"ASSET{i}": _asset(18) for i in range(1, count + 1)})
    return markets


@pytest.mark.parametrize(("config", "message"), [
    # constructor-test.ts "reverts if base token has more than 18 decimals" / "fewer than
    # 6 decimals": BadDecimals (MAX_BASE_DECIMALS; baseScale < BASE_ACCRUAL_SCALE).
    (_config({"USDC": {"decimals": 19, "collateral": False}, "COMP": _asset(18)}),
     "markets.USDC.decimals: Comet's base asset has at most 18 decimals "
     "(MAX_BASE_DECIMALS; BadDecimals), got 19"),
    (_config({"USDC": {"decimals": 5, "collateral": False}, "COMP": _asset(18)}),
     "markets.USDC.decimals: Comet's base asset has at least 6 decimals (baseScale >= "
     "BASE_ACCRUAL_SCALE = 1e6; BadDecimals), got 5"),
    # asset-info-test.ts "reverts if too many assets are passed": 16 assets, TooManyAssets.
    (_config(_many(16)), "markets: Comet lists at most 15 assets besides its base "
     "(MAX_ASSETS; TooManyAssets), got 16"),
    (_config(_many(13)), "markets: Comet.sol holds 12 assets besides its base (asset00 to "
     "asset11; getAssetInfo reverts Absurd beyond, though MAX_ASSETS is 15), got 13"),
    (_config({"USDC": {"decimals": 6, "collateral": False}, "EVIL": _asset(20)}),
     "markets.EVIL.decimals: at most 19 (getAssetInfo's scale is a uint64, 10**decimals), "
     "got 20"),
    # constructor-test.ts "is not possible to create a perSecondInterestRateSlopeLow above
    # FACTOR_SCALE": uint64Max + 1 is out of bounds (a uint64 field).
    (_config(interest={"supply_slope_low": str(Decimal(2**64) / 10**18)}),
     "compound.interest.supply_slope_low: at most 18.446744073709551615 (a uint64 at "
     "FACTOR_SCALE = 1e18 in CometConfiguration), got 18.446744073709551616"),
    (_config(base_borrow_min=str(2**104)),
     "compound.base_borrow_min: at most 2**104 - 1 smallest units of USDC (a uint104 in "
     "CometConfiguration)"),
    # asset-info-test.ts "reverts if collateral factors are out of range": borrowCF 0.9 and
    # liquidateCF 0.9 + 1e-18 (equal once descaled): BorrowCFTooLarge; liquidateCF 1.1:
    # LiquidateCFTooLarge (the field's own bound, at most 1).
    (_config({"USDC": {"decimals": 6, "collateral": False},
              "COMP": _asset(18, ltv="0.9", liquidation_threshold="0.900000000000000001")}),
     "(Comet's BorrowCFTooLarge)"),
    (_config({"USDC": {"decimals": 6, "collateral": False},
              "COMP": _asset(18, ltv="0.99", liquidation_threshold="1.1")}),
     "markets.COMP.liquidation_threshold"),
])
def test_config_when_comets_constructor_refuses_then_refused_naming_the_field(
        config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        protocol_from_dict(config)
    assert message in str(info.value)


def test_config_when_at_comets_limits_then_accepted() -> None:
    # The limits themselves pass: 18 and 6 base decimals, 12 assets, a slope of exactly
    # uint64Max / 1e18 (constructor-test.ts: per second it stays below FACTOR_SCALE).
    for decimals in (6, 18):
        protocol_from_dict(_config({"USDC": {"decimals": decimals, "collateral": False},
                                    "COMP": _asset(19)}))
    protocol_from_dict(_config(_many(12)))
    config = protocol_from_dict(_config(
        interest={"supply_slope_low": str(Decimal(2**64 - 1) / 10**18)}))
    assert config.compound is not None and config.compound.interest is not None
    assert config.compound.interest.per_second("supply_slope_low") == \
        (2**64 - 1) // 31_536_000 < 10**18
