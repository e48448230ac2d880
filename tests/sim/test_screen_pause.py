"""The lending screen (sim/agents/screen.py) plans nothing for an account whose
liquidation the engine refuses whatever the amount: it asks the engine's own rule
(``Engine.liquidation_pause``: a reserve inactive or paused, the sentinel, a liquidation
grace period), the one the ``Liquidate`` handler and the keeper's quote ask."""

from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    SetLiquidationGracePeriod,
    SetPrice,
    SetReservePause,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan import RiskBook
from marginengine.sim.agents import LendingScreen
from tests.aave_listing import listing

USDX, WBTC = 10**6, 10**8


def _liquidatable() -> tuple[Engine, LendingScreen]:
    # Aave's test listing: alice's 1 WBTC (LT 86%) backs 21,000 USDX; WBTC falls to
    # 24,000 USD, so her health is 24,000 x 0.86 / 21,000 = 0.9829 < 1.
    engine = Engine(listing("aave-v3.5"))
    for asset, price in (("USDX", 1), ("WBTC", 27_000), ("WETH", 1_800)):
        assert engine.apply(SetPrice(asset, price * PRICE_UNIT)).accepted
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    assert engine.apply(Deposit("alice", "WBTC", WBTC)).accepted
    assert engine.apply(Borrow("alice", "USDX", 21_000 * USDX)).accepted
    assert engine.apply(SetPrice("WBTC", 24_000 * PRICE_UNIT)).accepted
    assert engine.is_liquidatable("alice")
    book = RiskBook.from_engine(engine)
    book.incremental_scan()
    screen = LendingScreen(engine, book)
    screen.begin(0)
    return engine, screen


def test_screen_when_collateral_in_grace_period_then_keeper_skips_the_account() -> None:
    engine, screen = _liquidatable()
    pair = screen.inputs("alice")
    assert pair is not None and pair[:2] == ("USDX", "WBTC")
    # The pool admin unpauses WBTC with an hour's grace: the cached read is dropped and
    # the screen gives the keeper nothing to plan, as the engine's quote says.
    assert engine.apply(SetLiquidationGracePeriod("WBTC", 3_600)).details == {"until": 3_600}
    assert screen.inputs("alice") is None
    assert screen.paused_skips == 1
    quote = engine.liquidation_quote("alice")
    refusal = engine.liquidation_pause("alice", "USDX", "WBTC")
    assert refusal is not None and refusal.code == "LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED"
    assert quote.plan is None and quote.refusal == refusal.message
    # At until itself still refused (until < now allows); a second later it plans again.
    assert engine.apply(AdvanceTime(3_600)).accepted
    screen.begin(1)
    assert screen.inputs("alice") is None
    assert engine.apply(AdvanceTime(1)).accepted
    screen.begin(2)
    assert screen.inputs("alice") is not None
    assert engine.liquidation_quote("alice").plan is not None


def test_screen_when_debt_reserve_paused_then_skipped_until_unpaused() -> None:
    engine, screen = _liquidatable()
    assert engine.apply(SetReservePause("USDX", True)).accepted
    assert screen.inputs("alice") is None
    assert engine.apply(SetReservePause("USDX", False)).accepted
    assert screen.inputs("alice") is not None
