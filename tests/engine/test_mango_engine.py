"""Mango v4 inside the engine: preset mango-v4, Mango* events through the core's handler
table, health through the one margin interface, ``check_health_post`` refusals with
Mango's error names, the log and replay.

The figures are Mango's ``test_health1`` cases (blockworks-foundation/mango-v4 at
1303a4a16228eb1e8e8d4f0eef724eaf63310c86, ``programs/mango-v4/src/health/cache.rs``, with
``mock_bank_and_oracle`` and ``mock_perp_market`` of ``health/test.rs``) and
``health/client.rs`` ``test_health_stable_price_token``, as
tests/margin/test_mango.py reproduces them with the pure rules; here the accounts are
built by events. Tokens have 0 decimals so native units are whole tokens, as in Mango's
mocks (prices 1, 5, 10 native quote per native token); ``health_eq`` accepts a difference
below 0.001, as Mango's does.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.config.presets import PRESETS
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Deposit,
    Engine,
    Event,
    MangoDeposit,
    MangoPerpOrders,
    MangoPerpTrade,
    MangoSetStablePrice,
    MangoWithdraw,
    SetPrice,
)
from marginengine.engine.family_state import MangoBook, mango_health
from marginengine.fixedpoint import PRICE_UNIT, WAD
from marginengine.margin import MarginKind
from marginengine.margin.mango import (
    ONE,
    HealthType,
    fx_from_f64,
    fx_to_f64,
    maint_weight_shift_duration_inv,
)

INIT, MAINT = HealthType.INIT, HealthType.MAINT
BASE_LOTS_TO_QUOTE = 10.0 * 5.0


def bank(init: float, maint: float, **limits: Any) -> dict[str, Any]:
    # mock_bank_and_oracle: weights 1 -+ w.
    return {"init_asset_weight": str(1 - init), "init_liab_weight": str(1 + init),
            "maint_asset_weight": str(1 - maint), "maint_liab_weight": str(1 + maint),
            **limits}


def engine_of(t1: dict[str, Any] | None = None, t2: dict[str, Any] | None = None,
              t3: dict[str, Any] | None = None) -> Engine:
    cfg = protocol_from_dict({
        "preset": "mango-v4",
        "markets": {n: {"decimals": 0, "collateral": False, "borrowable": False}
                    for n in ("T1", "T2", "T3", "T4", "PERP")},
        "mango": {"quote": "T1", "tokens": {
            "T1": bank(0.2, 0.1, **(t1 or {})), "T2": bank(0.5, 0.3, **(t2 or {})),
            "T3": bank(0.5, 0.3, **(t3 or {})), "T4": bank(0, 0)},
            "perps": {"PERP": {
                # mock_perp_market(price 5, base weights (0.2, 0.1), pnl (0.05, 0.02))
                "settle": "T1", "base_lot_size": 10, "init_base_asset_weight": "0.8",
                "init_base_liab_weight": "1.2", "maint_base_asset_weight": "0.9",
                "maint_base_liab_weight": "1.1", "init_overall_asset_weight": "0.95",
                "maint_overall_asset_weight": "0.98"}}}})
    engine = Engine(cfg)
    for name, price in (("T1", 1), ("T2", 5), ("T3", 10), ("T4", 1), ("PERP", 5)):
        assert engine.apply(SetPrice(name, price * PRICE_UNIT)).accepted
    return engine


def applied(engine: Engine, *events: Event) -> None:
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)


def init_health(engine: Engine, account: str = "a") -> int:
    book = engine.state.family
    assert isinstance(book, MangoBook)
    return mango_health(engine.config, book, engine.prices, engine.stable_prices(), account,
                        INIT, now=engine.ledger.time)


def health_eq(raw: int, expected: float) -> bool:
    # cache.rs health_eq: |a - from_num(b)| < 0.001
    return abs(raw - fx_from_f64(expected)) < fx_from_f64(0.001)


def test_weighted_positive_perp_pnl_case_2():
    engine = engine_of()
    applied(engine, MangoPerpTrade("a", "PERP", -1, 100))
    assert health_eq(init_health(engine), 0.8 * 0.95 * (100.0 - 1.2 * BASE_LOTS_TO_QUOTE))


def test_negative_perp_pnl_is_refused_by_check_health_post_cases_3_and_13():
    # Case 3: 1.2 x (-100 + 0.8 x 50) = -72 < 0 and below the 0 before: refused.
    engine = engine_of()
    before = engine.state_hash()
    out = engine.apply(MangoPerpTrade("a", "PERP", 1, -100))
    assert (out.accepted, out.code) == (False, Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE)
    assert health_eq(out.data["post_init_health"], 1.2 * (-100.0 + 0.8 * BASE_LOTS_TO_QUOTE))
    assert out.data["pre_init_health"] == 0
    assert engine.state.family == MangoBook({}, {}) and engine.state_hash() != before
    # Case 13: a 100 token1 deposit, then the perp's -1 lot with -100 quote: 1.2 x (100 -
    # 100 - 1.2 x 50) = -72, below the 80 before.
    applied(engine, MangoDeposit("a", "T1", 100))
    out = engine.apply(MangoPerpTrade("a", "PERP", -1, -100))
    assert out.code == Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE
    assert health_eq(out.data["post_init_health"],
                     1.2 * (100.0 - 100.0 - 1.2 * BASE_LOTS_TO_QUOTE))


def test_positive_perp_health_offsets_a_token_borrow_case_12():
    engine = engine_of()
    applied(engine, MangoPerpTrade("a", "PERP", 1, 100), MangoWithdraw("a", "T1", 100))
    assert health_eq(init_health(engine),
                     0.8 * (-100.0 + 0.95 * (100.0 + 0.8 * 1.0 * BASE_LOTS_TO_QUOTE)))


def test_collateral_limit_scales_the_init_asset_weight_case_10():
    # The banks hold 100 / 1,500 / 10,000 in all (the account's 100 each included), with
    # deposit limits 1,000 / 5,000 / 10,000 of quote.
    engine = engine_of({"deposits": 0, "deposit_weight_scale_start_quote": 1000},
                       {"deposits": 1400, "deposit_weight_scale_start_quote": 5000},
                       {"deposits": 9900, "deposit_weight_scale_start_quote": 10000})
    applied(engine, *(MangoDeposit("a", t, 100) for t in ("T1", "T2", "T3")))
    assert health_eq(init_health(engine),
                     0.8 * 100.0 + 0.5 * 100.0 * 5.0 * (5000.0 / (1500.0 * 5.0))
                     + 0.5 * 100.0 * 10.0 * (10000.0 / (10000.0 * 10.0)))


def test_borrow_limit_scales_the_init_liab_weight_case_11():
    # Case 11's borrows need collateral to pass check_health_post: 20,000 of a token at
    # weight 1 (exact), so the init health is 20,000 plus case 11's figure.
    engine = engine_of({"borrows": 0, "borrow_weight_scale_start_quote": 1000},
                       {"borrows": 1400, "borrow_weight_scale_start_quote": 5000},
                       {"borrows": 9900, "borrow_weight_scale_start_quote": 10000})
    applied(engine, MangoDeposit("a", "T4", 20_000),
            *(MangoWithdraw("a", t, 100) for t in ("T1", "T2", "T3")))
    assert health_eq(init_health(engine), 20_000.0
                     - 1.2 * 100.0 - 1.5 * 100.0 * 5.0 * (1500.0 * 5.0 / 5000.0)
                     - 1.5 * 100.0 * 10.0 * (10000.0 * 10.0 / 10000.0))


def test_open_orders_take_the_worse_of_bids_and_asks_case_0_without_serum():
    engine = engine_of()
    applied(engine, MangoDeposit("a", "T1", 100), MangoDeposit("a", "T4", 1_000),
            MangoPerpTrade("a", "PERP", 3, -131), MangoPerpOrders("a", "PERP", 7, 11),
            MangoWithdraw("a", "T2", 10))
    assert health_eq(init_health(engine), 1_000.0 + 0.8 * (
        100.0 + (3.0 + 7.0) * BASE_LOTS_TO_QUOTE * 0.8 + (-131.0 - 7.0 * BASE_LOTS_TO_QUOTE))
        - 10.0 * 5.0 * 1.5)


def test_stable_price_on_the_init_side_and_liquidatable_through_the_margin_interface():
    engine = engine_of()
    # 100 T2 at 5 (init 250, maint 350) against 200 T1 borrowed (init 240, maint 220).
    applied(engine, MangoDeposit("a", "T2", 100), MangoWithdraw("a", "T1", 200))
    assert engine.margin_state("a", MarginKind.INITIAL).is_met
    # A stable price of 4 for T2: init takes min(5, 4) = 4: 200 - 240 < 0; maint does not.
    applied(engine, MangoSetStablePrice("T2", 4 * PRICE_UNIT))
    assert health_eq(init_health(engine), 100 * 4 * 0.5 - 200 * 1.2)
    assert not engine.margin_state("a", MarginKind.INITIAL).is_met
    assert not engine.is_liquidatable("a")
    out = engine.apply(MangoWithdraw("a", "T1", 1))
    assert out.code == Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE
    # T2 at 3: maint 210 - 220 < 0; the health is assets over liabilities (the weights
    # 0.7 and 1.1 are I80F48 from f64, so a few units of 1e-18 off the decimal ratio).
    applied(engine, SetPrice("T2", 3 * PRICE_UNIT))
    assert engine.is_liquidatable("a")
    assert engine.health_factor("a") == pytest.approx(210 * WAD // 220, rel=1e-14)
    # In base currency (8 decimals) the value rounds down and the requirement up: one unit
    # each side of 210 and 220 USD, the I80F48 weights' error.
    state = engine.margin_state("a", MarginKind.MAINTENANCE)
    assert (state.value, state.requirement) == (210 * PRICE_UNIT - 1, 220 * PRICE_UNIT + 1)


def test_refusals_name_the_field_or_carry_mangos_error():
    engine = engine_of()
    applied(engine, MangoDeposit("a", "T1", 10))
    cases: list[tuple[Event, Code]] = [
        (MangoWithdraw("a", "T1", 11, allow_borrow=False), Code.MANGO_SOME_ERROR),
        (MangoWithdraw("a", "T9", 1), Code.UNKNOWN_ASSET),
        (MangoDeposit("a", "PERP", 1), Code.UNKNOWN_ASSET),
        (MangoPerpTrade("a", "T1", 1, 0), Code.UNKNOWN_MARKET),
        (MangoPerpTrade("a", "PERP", 0, 0), Code.INVALID_AMOUNT),
        (MangoSetStablePrice("T1", 0), Code.INVALID_AMOUNT),
        (Deposit("a", "T1", 1), Code.EVENT_NOT_SUPPORTED),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), event


def test_replay_from_the_log_gives_the_same_state_hash(tmp_path: Path):
    path = tmp_path / "events.sqlite"
    cfg = engine_of().config
    e = Engine.with_log(cfg, path)
    events: list[Event] = [
        *(SetPrice(n, p * PRICE_UNIT) for n, p in (("T1", 1), ("T2", 5), ("PERP", 5))),
        MangoDeposit("a", "T2", 100), MangoWithdraw("a", "T1", 200),
        MangoWithdraw("a", "T1", 100),                                      # refused
        MangoSetStablePrice("T2", 4 * PRICE_UNIT), MangoPerpTrade("a", "PERP", -1, 100)]
    for ev in events:
        e.apply(ev)
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert report.events == len(events)


def test_preset_resolves_and_the_config_is_checked():
    from marginengine.errors import ConfigError

    assert protocol_from_dict({"preset": "mango-v4"}).mango is not None
    with pytest.raises(ConfigError, match=r"mango\.perps\.SOL-PERP\.settle: unknown token"):
        protocol_from_dict({"preset": "mango-v4", "mango": {
            "quote": "USDC", "tokens": {"USDC": bank(0, 0)}, "perps": {"SOL-PERP": {
                "settle": "X", "base_lot_size": 1, "init_base_asset_weight": 1,
                "init_base_liab_weight": 1, "maint_base_asset_weight": 1,
                "maint_base_liab_weight": 1, "init_overall_asset_weight": 1,
                "maint_overall_asset_weight": 1}}}})
    with pytest.raises(ConfigError, match=r"mango: mango-v4 needs a \[mango\] table"):
        protocol_from_dict({"preset": "mango-v4", "mango": None})


def test_health_stable_price_token_of_mangos_suite_through_the_engine():
    # health/client.rs test_health_stable_price_token: bank T1 and the perp at oracle 1 with
    # a stable price of 0.5. A deposit of 100: init 0.8 x 0.5 x 100, maint 0.9 x 1 x 100.
    # The borrow of 100 (init -1.2 x 1 x 100) and the perp fill of 10 lots at -100 quote
    # (init 1.2 x (0.8 x 0.5 x 10 x 10 - 100)) make init health negative and lower, so
    # check_health_post refuses them; their post-trade health is Mango's figure.
    engine = engine_of()
    applied(engine, SetPrice("PERP", PRICE_UNIT), MangoSetStablePrice("T1", PRICE_UNIT // 2),
            MangoSetStablePrice("PERP", PRICE_UNIT // 2), MangoDeposit("a", "T1", 100))
    book = engine.state.family
    assert isinstance(book, MangoBook)
    assert health_eq(init_health(engine), 0.8 * 0.5 * 100.0)
    assert health_eq(mango_health(engine.config, book, engine.prices, engine.stable_prices(),
                                  "a", MAINT, now=engine.ledger.time), 0.9 * 1.0 * 100.0)
    out = engine.apply(MangoWithdraw("b", "T1", 100))
    assert out.code == Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE
    assert health_eq(out.data["post_init_health"], -1.2 * 1.0 * 100.0)
    out = engine.apply(MangoPerpTrade("c", "PERP", 10, -100))
    assert out.code == Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE
    assert health_eq(out.data["post_init_health"], 1.2 * (0.8 * 0.5 * 10.0 * 10.0 - 100.0))


def shifted_preset(token: str, start: int, end: int, asset_target: object,
                   liab_target: object) -> dict[str, Any]:
    # The mango-v4 preset with a maint weight shift on ``token`` (Bank::maint_weight_shift_*).
    raw = copy.deepcopy(PRESETS["mango-v4"])
    raw["mango"]["tokens"][token].update({
        "maint_weight_shift_start": start, "maint_weight_shift_end": end,
        "maint_weight_shift_asset_target": asset_target,
        "maint_weight_shift_liab_target": liab_target})
    return raw


def preset_engine(raw: dict[str, Any]) -> Engine:
    engine = Engine(protocol_from_dict(raw))
    for name, price in (("USDC", 1), ("SOL", 100), ("SOL-PERP", 100)):
        applied(engine, SetPrice(name, price * PRICE_UNIT))
    return engine


def maint_health(engine: Engine, account: str) -> int:
    book = engine.state.family
    assert isinstance(book, MangoBook)
    return mango_health(engine.config, book, engine.prices, engine.stable_prices(), account,
                        MAINT, now=engine.ledger.time)


def test_maint_weight_shift_when_the_clock_moves_then_mangos_test_basic_figures():
    # blockworks-foundation/mango-v4@1303a4a16228eb1e8e8d4f0eef724eaf63310c86
    # programs/mango-v4/tests/cases/test_basic.rs test_bank_maint_weight_shift: 1000 native
    # of the quote bank (weights 1, price 1), maint weights shifting to 0.5 / 1.5 over
    # start + 1000 .. start + 2000: maint health 1000, then 750 at +1500, 500 at +3000
    # (assert_eq_f64 within 1e-2). Exactly: at +1500 the asset weight is
    # ONE + floor(500 inv x (0.5 - 1)) = ONE - 250 inv, inv = floor(2^48 / 1000).
    engine = preset_engine(shifted_preset("USDC", 1000, 2000, "0.5", "1.5"))
    applied(engine, MangoDeposit("a", "USDC", 1000))
    assert maint_health(engine, "a") == 1000 * ONE
    applied(engine, AdvanceTime(1500))
    inv = maint_weight_shift_duration_inv(1000, 2000)
    assert maint_health(engine, "a") == 1000 * (ONE - 250 * inv)
    assert abs(fx_to_f64(maint_health(engine, "a")) - 750.0) < 1e-2
    applied(engine, AdvanceTime(1500))
    assert maint_health(engine, "a") == 500 * ONE


def test_maint_weight_shift_when_asset_weight_falls_then_liquidatable_from_its_second():
    # 100 SOL at 100 against 7,000 USDC borrowed (maint 9,000 - 7,175 at weight 0.9). SOL's
    # maint asset weight shifts 0.9 -> 0.5 over 1000 .. 2000 s: health is zero at weight
    # 0.7175, i.e. (0.9 - 0.7175) / 0.4 = 0.45625 of the window, second 1456.25. The
    # engine reads the weights at its clock: healthy at 1456 (+1 USDC), liquidatable at
    # 1457 (-3 USDC: 4 USDC a second).
    engine = preset_engine(shifted_preset("SOL", 1000, 2000, "0.5", "1.5"))
    applied(engine, MangoDeposit("alice", "SOL", 100 * 10**9),
            MangoWithdraw("alice", "USDC", 7_000 * 10**6))
    applied(engine, AdvanceTime(1456))
    assert not engine.is_liquidatable("alice")
    assert abs(fx_to_f64(maint_health(engine, "alice")) - 1e6) < 1e-2
    applied(engine, AdvanceTime(1))
    assert engine.is_liquidatable("alice")
    assert abs(fx_to_f64(maint_health(engine, "alice")) + 3e6) < 1e-2


def test_maint_weight_shift_when_not_configured_then_weights_never_move():
    engine = preset_engine(copy.deepcopy(PRESETS["mango-v4"]))
    applied(engine, MangoDeposit("alice", "SOL", 100 * 10**9),
            MangoWithdraw("alice", "USDC", 7_000 * 10**6))
    before = maint_health(engine, "alice")
    applied(engine, AdvanceTime(10**9))
    assert maint_health(engine, "alice") == before


@pytest.mark.parametrize(("fields", "message"), [
    ({"maint_weight_shift_start": 2000, "maint_weight_shift_end": 1000,
      "maint_weight_shift_asset_target": "0.5", "maint_weight_shift_liab_target": "1.5"},
     r"mango\.tokens\.SOL\.maint_weight_shift_end: 1000 is before "
     r"maint_weight_shift_start 2000"),
    ({"maint_weight_shift_start": 0, "maint_weight_shift_end": 1000,
      "maint_weight_shift_asset_target": "0.5"},
     r"mango\.tokens\.SOL\.maint_weight_shift_liab_target: required when a maint weight "
     r"shift is configured"),
    ({"maint_weight_shift_asset_target": "0.5"},
     r"mango\.tokens\.SOL\.maint_weight_shift_asset_target: set but no maint weight shift"),
    ({"maint_weight_shift_start": 0, "maint_weight_shift_end": 1000,
      "maint_weight_shift_asset_target": "-0.5", "maint_weight_shift_liab_target": "1.5"},
     r"mango\.tokens\.SOL\.maint_weight_shift_asset_target: "),
    ({"maint_weight_shift_start": -1},
     r"mango\.tokens\.SOL\.maint_weight_shift_start: "),
])
def test_maint_weight_shift_when_misconfigured_then_the_field_is_named(
        fields: dict[str, Any], message: str):
    from marginengine.errors import ConfigError

    raw = copy.deepcopy(PRESETS["mango-v4"])
    raw["mango"]["tokens"]["SOL"].update(fields)
    with pytest.raises(ConfigError, match=message):
        protocol_from_dict(raw)


def test_maint_weight_shift_when_misconfigured_in_a_scenario_then_the_path_is_the_set_path():
    # In a scenario the protocol sits at "protocol": a protocol-wide check naming its
    # field must say protocol.mango.tokens.SOL..., the path `simulate --set` takes (it
    # said mango.tokens.SOL..., which --set would refuse as unknown).
    from marginengine.errors import ConfigError

    raw = copy.deepcopy(PRESETS["mango-v4"])
    raw["mango"]["tokens"]["SOL"].update({"maint_weight_shift_start": 100})
    with pytest.raises(ConfigError) as info:
        protocol_from_dict(raw, prefix="protocol")
    assert str(info.value).endswith(
        "protocol.mango.tokens.SOL.maint_weight_shift_end: 0 is before "
        "maint_weight_shift_start 100")


def test_deposit_limit_scaling_when_stable_above_oracle_then_at_the_liab_price():
    # new_health_cache (health/cache.rs @ 1303a4a1): both init weights scale at
    # prices.liab(Init) = max(oracle 5, stable 6). The bank holds 1,500 (1,400 outside),
    # limit 5,000 of quote: scale 5,000 / (1,500 x 6), not 5,000 / (1,500 x 5); the asset
    # is still valued at min(oracle, stable) = 5.
    engine = engine_of(t2={"deposits": 1400, "deposit_weight_scale_start_quote": 5000})
    applied(engine, MangoDeposit("a", "T2", 100), MangoSetStablePrice("T2", 6 * PRICE_UNIT))
    assert health_eq(init_health(engine), 0.5 * 100.0 * 5.0 * (5000.0 / (1500.0 * 6.0)))
    assert not health_eq(init_health(engine), 0.5 * 100.0 * 5.0 * (5000.0 / (1500.0 * 5.0)))
