"""The keeper's reads (engine/keeper.py): the largest liquidation allowed now.

Worked case (Aave v3.3 LiquidationLogic, MIN_LEFTOVER_BASE 1,000 USD): 3 WETH and 0.058
WBTC bought 5,000 USDC of debt; at WETH 1,000 and WBTC 50,000 the account holds 3,000 +
2,900 USD, health 5,900 x 82.5% / 5,000 = 0.9735. The close factor allows 2,500 USDC
(50% of the total debt), which would seize 2,625 USD of the largest collateral, WETH, and
leave 375 USD: dust, refused; so does the offer leaving 1,000 USD of debt. Leaving 1,000
USD of WETH is allowed: 2 WETH with the 5% bonus, 2,000 / 1.05 = 1,904.761904 USDC.
"""

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import Borrow, Deposit, Engine, Liquidate, SetPrice
from marginengine.errors import FieldError
from marginengine.liquidation import first_offer

USD, USDC, WETH = 10**8, 10**6, 10**18


def _engine() -> Engine:
    weth = {"ltv": "0.80", "liquidation_threshold": "0.825", "liquidation_bonus": "0.05"}
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": {
        "WETH": weth, "WBTC": {"decimals": 8, **weth}, "USDC": {"decimals": 6}}}))
    for event in (SetPrice("WETH", 4_000 * USD), SetPrice("WBTC", 200_000 * USD),
                  SetPrice("USDC", USD), Deposit("lp", "USDC", 10**6 * USDC),
                  Deposit("a", "WETH", 3 * WETH), Deposit("a", "WBTC", 58 * 10**5),
                  Borrow("a", "USDC", 5_000 * USDC), SetPrice("WETH", 1_000 * USD),
                  SetPrice("WBTC", 50_000 * USD)):
        assert engine.apply(event).accepted
    return engine


def test_quote_when_cap_leaves_collateral_dust_then_largest_partial_leaving_the_minimum():
    engine = _engine()
    assert engine.account_data("a").health_factor == 973_500_000_000_000_000
    assert engine.liquidation_plan("a", "USDC", "WETH", 2_500 * USDC) is None   # dust
    quote = engine.liquidation_quote("a")
    # Was: plan None, refusal "would leave dust: 2,500.00 USD of debt and 375.00 USD of
    # collateral ...", though the liquidation below is allowed.
    assert quote.refusal is None and quote.plan is not None
    assert (quote.debt_asset, quote.collateral_asset) == ("USDC", "WETH")
    assert quote.debt_to_cover == quote.plan.debt_repaid == 1_904_761_904
    assert engine.liquidation_plan("a", "USDC", "WETH", 1_904_761_905) is None  # largest
    done = engine.apply(Liquidate("k", "a", "USDC", "WETH", quote.debt_to_cover))
    assert done.details["debt_repaid"] == 1_904_761_904
    assert engine.ledger.supply_of("a", "WETH") == 3 * WETH - 1_999_999_999_200_000_000
    engine.ledger.check_conservation()


def test_first_offer_when_cap_leaves_collateral_dust_then_the_quotes_offer():
    engine = _engine()
    pair = engine.liquidation_inputs("a")
    assert pair is not None
    offer, bounds, _, _ = first_offer(pair[2], engine.config.aave.min_leftover_base_units,
                                      engine.config.aave, engine.rules.liquidation_rounding)
    assert offer == engine.liquidation_quote("a").debt_to_cover == 1_904_761_904
    assert bounds.refused is False


def test_plan_when_asset_unknown_then_field_error_naming_it_and_none_without_a_price():
    engine = _engine()
    # Was: KeyError 'XYZ' from the reads.
    with pytest.raises(FieldError, match=r"^debt_asset: unknown asset 'XYZ'$"):
        engine.liquidation_plan("a", "XYZ", "WETH", USDC)
    with pytest.raises(FieldError, match=r"^collateral_asset: unknown asset 'XYZ'$"):
        engine.liquidation_plan("a", "USDC", "XYZ", USDC)
    bare = Engine(engine.config)
    bare.apply(SetPrice("USDC", USD))
    assert bare.liquidation_plan("a", "USDC", "WETH", USDC) is None   # WETH unpriced
