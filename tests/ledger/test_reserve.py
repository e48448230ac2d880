"""ReserveState's reads of the protocol's surplus."""

from marginengine.fixedpoint import RAY
from marginengine.ledger.reserve import ReserveState


def test_present_value_reserves_when_fractions_then_comet_get_reserves_not_one_floor():
    # Comet's getReserves = balance - presentValueSupply + presentValueBorrow, each
    # floored: 10 - floor(0.5) + floor(0.3) = 10. The exact surplus, 9.8, floors to 9.
    r = ReserveState("USDC", liquidity_index=RAY // 2, borrow_index=3 * RAY // 10,
                     scaled_supply=1, scaled_debt=1, cash=10)
    r.reserves_ray = 10 * RAY + 3 * RAY // 10 - RAY // 2
    assert r.imbalance_ray() == 0
    assert r.reserves == 9
    assert r.present_value_reserves() == 10
